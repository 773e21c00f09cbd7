/**
 * The search and discovery API (core/api/search-contract.ts) over one open Project. Query: examples -> query
 * vector (mask-pooled embedding), stage 1 over all region vectors (scanner.ts), stage 2 re-ranks the best
 * `rerank` images on their full maps (core/search/dense.ts). Sessions keep the query state for feedback and
 * accept; the last few are kept in memory (LRU), nothing about them is stored in the project.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type { AnnotationDraft } from '../../core/api/records';
import type {
  AcceptResult, SearchAcceptInput, SearchFeedbackInput, SearchHit, SearchQueryInput, SearchResult,
} from '../../core/api/search-contract';
import { dequantize } from '../../core/embedding';
import { createSegmenter } from '../../core/engine/segmenter';
import type { Mask } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import { type DenseMatch, type DenseOptions, denseMatch } from '../../core/search/dense';
import { objectGridMask } from '../../core/search/discovery';
import { type FeedbackWeights, type QueryState, queryVectors } from '../../core/search/feedback';
import { SearchInputError, gridMaskToImage, poolMask } from '../../core/search/pooling';
import type { Project } from '../../db/project';
import { guideImage } from './guide';
import { type DiscoveryServiceOptions, createDiscoveryService } from './discovery';
import { regionsOf } from './indexer';
import { RegionScanner, type ScannerOptions } from './scanner';

/** An ApiError, so the code ('not-found', 'not-embedded', 'invalid-input') crosses the API boundary as is. */
export class SearchError extends ApiError {
  override name = 'SearchError';
  constructor(code: 'not-found' | 'not-embedded' | 'invalid-input', message: string) {
    super(code, message);
  }
}

export interface SearchServiceOptions {
  /** Model used when a request names none (a function: the default may change while the project is open). */
  defaultModelId: string | (() => string);
  scanner?: Partial<ScannerOptions>;
  dense?: Partial<DenseOptions>;
  feedback?: Partial<FeedbackWeights>;
  discovery?: Partial<DiscoveryServiceOptions>;
  /** Sessions kept for feedback / accept. */
  maxSessions?: number;
}

interface Session {
  id: string;
  modelId: string;
  state: QueryState;
  exampleImages: Set<number>;
  excludeExampleImages: boolean;
  only: Set<number> | null;
  limit: number;
  rerank: number;
  judgements: Map<number, 'accepted' | 'rejected'>;
  /** Dense matches of the current ranking, by image. */
  matches: Map<number, { match: DenseMatch; regionScore: number }>;
  hits: SearchHit[];
}

export function createSearchService(project: Project, options: SearchServiceOptions) {
  const scanner = new RegionScanner(regionsOf(project), options.scanner);
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? 16;
  const defaultModel = () => (typeof options.defaultModelId === 'function' ? options.defaultModelId() : options.defaultModelId);

  function stored(imageId: number, modelId: string) {
    const embedding = project.embeddings.get(imageId, modelId);
    if (!embedding) throw new SearchError('not-embedded', `image ${imageId} has no embedding for model ${modelId}`);
    return embedding;
  }

  function exampleVector(example: SearchQueryInput['examples'][number], modelId: string): { imageId: number; vector: Float32Array } {
    let imageId: number, mask: Mask;
    if ('annotationId' in example) {
      const annotation = project.annotations.get(example.annotationId);
      if (!annotation) throw new SearchError('not-found', `no annotation ${example.annotationId}`);
      imageId = annotation.imageId;
      mask = decodeRle(annotation.rle);
    } else {
      imageId = example.imageId;
      mask = decodeRle(example.rle);
    }
    try {
      return { imageId, vector: poolMask(dequantize(stored(imageId, modelId)), mask) };
    } catch (error) {
      if (error instanceof SearchInputError) throw new SearchError('invalid-input', `example on image ${imageId}: ${error.message}`);
      throw error;
    }
  }

  function session(id: string): Session {
    const found = sessions.get(id);
    if (!found) throw new SearchError('not-found', `search session ${id} has expired; run the query again`);
    sessions.delete(id);
    sessions.set(id, found);
    return found;
  }

  /** Stage 1 + stage 2 for the session's current query; fills session.hits. */
  function rank(current: Session, limit = current.limit): SearchResult {
    const queries = queryVectors(current.state, options.feedback);
    const exclude = current.excludeExampleImages ? current.exampleImages : undefined;
    const candidates = Math.max(current.rerank, limit);
    const stage1 = scanner.scan(current.modelId, queries, { limit: candidates, exclude, only: current.only ?? undefined });
    const started = performance.now();
    current.matches.clear();
    const hits: SearchHit[] = [];
    for (const hit of stage1.hits) {
      const embedding = project.embeddings.get(hit.imageId, current.modelId);
      const imageHash = project.images.get(hit.imageId)?.hash;
      if (!embedding || !imageHash) continue; // deleted since the scan's page was read
      const match = denseMatch(embedding, queries, options.dense);
      current.matches.set(hit.imageId, { match, regionScore: hit.score });
      hits.push({
        imageId: hit.imageId, imageHash, score: match.objectScore, regionScore: hit.score, bbox: match.bbox,
        peak: [Math.round(match.peak[0]), Math.round(match.peak[1])],
        grid: encodeRle({ width: match.width, height: match.height, data: match.component }),
        judgement: current.judgements.get(hit.imageId) ?? null,
      });
    }
    hits.sort((a, b) => b.score - a.score || a.imageId - b.imageId);
    current.hits = hits.slice(0, limit);
    return {
      sessionId: current.id, modelId: current.modelId, hits: current.hits,
      stats: { images: stage1.images, regions: stage1.regions, stage1Ms: stage1.ms, stage2Ms: performance.now() - started },
    };
  }

  /** The hit's object vector; computed on demand for images judged without having been shown. */
  function hitVector(current: Session, imageId: number): Float32Array {
    const known = current.matches.get(imageId);
    if (known) return known.match.vector;
    return denseMatch(stored(imageId, current.modelId), queryVectors(current.state, options.feedback), options.dense).vector;
  }

  /** The accepted hit's mask (see maskSource in the contract); the dense match's component when that comes out empty. */
  async function hitMask(current: Session, imageId: number, source: SearchAcceptInput['maskSource']): Promise<{ mask: Mask; score: number }> {
    const known = current.matches.get(imageId);
    const embedding = stored(imageId, current.modelId);
    const match = known?.match ?? denseMatch(embedding, queryVectors(current.state, options.feedback), options.dense);
    const score = match.objectScore;
    // Decoded only by the branches that use it: the component fallback needs no pixels.
    const image = () => guideImage(project, imageId, embedding.imageWidth, embedding.imageHeight);
    let mask: Mask | null = null;
    if (source === 'engine') {
      mask = createSegmenter(dequantize(embedding), await image()).segment([{ x: match.peak[0], y: match.peak[1], positive: true }]).mask;
    } else {
      const set = regionsOf(project).get(imageId, current.modelId);
      if (set) {
        mask = gridMaskToImage(objectGridMask(set, match.vector), set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight, (await image()) ?? undefined);
      }
    }
    if (mask?.data.includes(1)) return { mask, score };
    return { mask: componentMask(match, embedding.width, embedding.height, embedding.imageWidth, embedding.imageHeight), score };
  }

  return {
    search: {
      query(input: SearchQueryInput): SearchResult {
        const modelId = input.modelId ?? defaultModel();
        const examples = input.examples.map((example) => exampleVector(example, modelId));
        const created: Session = {
          id: randomUUID(), modelId, state: { examples: examples.map((e) => e.vector), accepted: [], rejected: [] },
          exampleImages: new Set(examples.map((e) => e.imageId)), excludeExampleImages: input.excludeExampleImages,
          only: input.imageIds ? new Set(input.imageIds) : null, limit: input.limit, rerank: input.rerank,
          judgements: new Map(), matches: new Map(), hits: [],
        };
        sessions.set(created.id, created);
        while (sessions.size > maxSessions) sessions.delete(sessions.keys().next().value as string);
        return rank(created);
      },
      feedback(input: SearchFeedbackInput): SearchResult {
        const current = session(input.sessionId);
        for (const imageId of input.accepted) current.judgements.set(imageId, 'accepted');
        for (const imageId of input.rejected) current.judgements.set(imageId, 'rejected');
        applyJudgements(current);
        return rank(current, input.limit ?? current.limit);
      },
      /** Masks are computed first (one image decoded at a time), then written in one transaction. */
      async accept(input: SearchAcceptInput): Promise<AcceptResult> {
        const current = session(input.sessionId);
        const imageIds = input.imageIds ?? current.hits
          .filter((hit) => hit.score >= (input.minScore ?? 1) && current.judgements.get(hit.imageId) !== 'rejected')
          .map((hit) => hit.imageId);
        if (input.classId !== null) project.classes.get(input.classId);
        const masks: Array<{ imageId: number; mask: Mask; score: number }> = [];
        for (const imageId of imageIds) masks.push({ imageId, ...(await hitMask(current, imageId, input.maskSource)) });
        const annotationIds = project.transaction(() => masks.map(({ imageId, mask, score }) => {
          const draft: AnnotationDraft = { classId: input.classId, rle: encodeRle(mask), score, source: 'search' };
          const annotationId = project.annotations.add(imageId, draft);
          project.images.refreshStatus(imageId);
          return annotationId;
        }));
        for (const imageId of imageIds) current.judgements.set(imageId, 'accepted');
        applyJudgements(current);
        return { annotationIds, imageIds };
      },
    },
    discovery: createDiscoveryService(project, defaultModel, options.discovery),
    /** For benchmarks and the status bar: bytes of region vectors cached in memory. */
    cachedBytes: () => scanner.cachedBytes,
  };

  function applyJudgements(current: Session): void {
    current.state.accepted = [];
    current.state.rejected = [];
    for (const [imageId, judgement] of current.judgements) {
      (judgement === 'accepted' ? current.state.accepted : current.state.rejected).push(hitVector(current, imageId));
    }
  }
}

/** The dense component (heat grid) as an image mask: heat cell (x, y) is map cell (x * step, y * step). */
function componentMask(match: DenseMatch, mapWidth: number, mapHeight: number, imageWidth: number, imageHeight: number): Mask {
  // The heat grid covers mapWidth cells with ceil(mapWidth / step) samples: stretch it over the part it covers.
  const coveredWidth = Math.round((match.width * match.step * imageWidth) / mapWidth);
  const coveredHeight = Math.round((match.height * match.step * imageHeight) / mapHeight);
  const mask = gridMaskToImage(match.component, match.width, match.height, coveredWidth, coveredHeight);
  if (coveredWidth === imageWidth && coveredHeight === imageHeight) return mask;
  const out = new Uint8Array(imageWidth * imageHeight);
  for (let y = 0; y < Math.min(imageHeight, coveredHeight); y++) {
    out.set(mask.data.subarray(y * coveredWidth, y * coveredWidth + Math.min(imageWidth, coveredWidth)), y * imageWidth);
  }
  return { width: imageWidth, height: imageHeight, data: out };
}

export type SearchService = ReturnType<typeof createSearchService>;

const services = new WeakMap<Project, SearchService>();

/** The search service of an open project, created on first use (its region cache and sessions live with it). */
export function searchServiceFor(project: Project, options: SearchServiceOptions): SearchService {
  let service = services.get(project);
  if (!service) services.set(project, (service = createSearchService(project, options)));
  return service;
}
