/**
 * The search and discovery API (core/api/search-contract.ts) over one open Project. Query: examples -> query
 * vector (mask-pooled embedding), stage 1 over all region vectors (scanner.ts), stage 2 re-ranks the best
 * `rerank` images on their full maps (core/search/dense.ts). Sessions keep the query state and each hit's region
 * (see HitRegion) for feedback and accept; the last few are kept in memory (LRU), nothing about them is stored in
 * the project.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type {
  AcceptResult, HitMask, SearchAcceptInput, SearchFeedbackInput, SearchHit, SearchHitMaskInput, SearchQueryInput, SearchResult,
} from '../../core/api/search-contract';
import { dequantize } from '../../core/embedding';
import type { Mask } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import { type DenseMatch, type DenseOptions, denseMatch } from '../../core/search/dense';
import { type FeedbackWeights, type QueryState, queryVectors } from '../../core/search/feedback';
import { SearchInputError, gridMaskToImage, poolMask } from '../../core/search/pooling';
import type { Project } from '../../db/project';
import { guideImage } from './guide';
import { type DiscoveryServiceOptions, createDiscoveryService } from './discovery';
import { regionsOf } from './indexer';
import { RegionScanner, type ScannerOptions } from './scanner';
import { type ProposedAnnotation, writeAnnotations } from './writer';

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

/**
 * A hit's region: the dense match that was shown for it. Re-ranking recomputes the regions of unjudged hits with
 * the moved query; a judged hit keeps the region the labeler saw when judging it, so its feedback vector and the
 * mask an accept writes are that region's, not a later query's (accepting a red circle once wrote a mask of a
 * yellow circle, two triangles and a mug: the mask came from the moved query's region-set match).
 */
interface HitRegion {
  match: DenseMatch;
  regionScore: number;
  /** The image-sized mask (computed on first preview or accept, then kept: the same bits every time). */
  mask?: Promise<Mask>;
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
  /** Regions of the current ranking's candidates and of every judged image, by image. */
  regions: Map<number, HitRegion>;
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
    for (const imageId of current.regions.keys()) if (!current.judgements.has(imageId)) current.regions.delete(imageId);
    const hits: SearchHit[] = [];
    for (const hit of stage1.hits) {
      const embedding = project.embeddings.get(hit.imageId, current.modelId);
      const imageHash = project.images.get(hit.imageId)?.hash;
      if (!embedding || !imageHash) continue; // deleted since the scan's page was read
      let region = current.regions.get(hit.imageId);
      if (!region) current.regions.set(hit.imageId, (region = { match: denseMatch(embedding, queries, options.dense), regionScore: hit.score }));
      const { match } = region;
      hits.push({
        imageId: hit.imageId, imageHash, score: scoreOf(match.vector, queries), regionScore: region.regionScore, bbox: match.bbox,
        peak: [Math.round(match.peak[0]), Math.round(match.peak[1])],
        grid: encodeRle(mapGridOf(match, embedding.width, embedding.height)),
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

  /** The image's region in this session; an image judged or accepted without having been shown gets one now. */
  function regionOf(current: Session, imageId: number): HitRegion {
    let region = current.regions.get(imageId);
    if (!region) {
      const match = denseMatch(stored(imageId, current.modelId), queryVectors(current.state, options.feedback), options.dense);
      current.regions.set(imageId, (region = { match, regionScore: match.objectScore }));
    }
    return region;
  }

  /**
   * The region as an image-sized mask: its map-grid cells upsampled along the image's colour edges (as a click's
   * mask is), or bilinearly when the image file cannot be read. Kept with the region, so a preview and the accept
   * that follows give the same bits.
   */
  function maskOf(current: Session, imageId: number): Promise<Mask> {
    const region = regionOf(current, imageId);
    if (!region.mask) {
      const { width, height, imageWidth, imageHeight } = stored(imageId, current.modelId);
      const grid = mapGridOf(region.match, width, height).data;
      const computed = guideImage(project, imageId, imageWidth, imageHeight).then((image) => {
        const mask = gridMaskToImage(grid, width, height, imageWidth, imageHeight, image ?? undefined);
        // A region of a cell or two can lose every pixel to the colour edges: then it is the cells themselves.
        return mask.data.includes(1) || !image ? mask : gridMaskToImage(grid, width, height, imageWidth, imageHeight);
      });
      region.mask = computed;
      computed.catch(() => { if (region.mask === computed) region.mask = undefined; });
    }
    return region.mask;
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
          judgements: new Map(), regions: new Map(), hits: [],
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
      /** The mask search.accept writes for this hit. */
      async hitMask(input: SearchHitMaskInput): Promise<HitMask> {
        const current = session(input.sessionId);
        const mask = await maskOf(current, input.imageId);
        return { imageId: input.imageId, rle: encodeRle(mask), score: scoreOf(regionOf(current, input.imageId).match.vector, queryVectors(current.state, options.feedback)) };
      },
      /**
       * Each hit's mask as shown (one image decoded at a time), then written in one transaction, leaving out masks
       * of objects already annotated (writer.ts). Accepting counts as judging the hits accepted.
       */
      async accept(input: SearchAcceptInput): Promise<AcceptResult> {
        const current = session(input.sessionId);
        const imageIds = [...new Set(input.imageIds ?? current.hits
          .filter((hit) => hit.score >= (input.minScore ?? 1) && current.judgements.get(hit.imageId) !== 'rejected')
          .map((hit) => hit.imageId))];
        if (input.classId !== null) project.classes.get(input.classId);
        const queries = queryVectors(current.state, options.feedback);
        const proposed: ProposedAnnotation[] = [];
        for (const imageId of imageIds) {
          proposed.push({ imageId, mask: await maskOf(current, imageId), score: scoreOf(regionOf(current, imageId).match.vector, queries) });
        }
        const result = writeAnnotations(project, proposed, input.classId, 'search');
        for (const imageId of imageIds) current.judgements.set(imageId, 'accepted');
        applyJudgements(current);
        return result;
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
      (judgement === 'accepted' ? current.state.accepted : current.state.rejected).push(regionOf(current, imageId).match.vector);
    }
  }
}

/** Cosine of a region's vector with the query (max over query vectors): a judged region is scored by today's query. */
export function scoreOf(vector: Float32Array, queries: Float32Array[]): number {
  let best = -Infinity;
  for (const query of queries) {
    let dot = 0;
    for (let k = 0; k < vector.length; k++) dot += vector[k] * query[k];
    best = Math.max(best, dot);
  }
  return best;
}

/**
 * The dense component on the embedding map's own grid (mapWidth x mapHeight, covering the image exactly): heat
 * cell (x, y) stands for map cells [x * step, (x + 1) * step) x [y * step, (y + 1) * step).
 */
export function mapGridOf(match: DenseMatch, mapWidth: number, mapHeight: number): Mask {
  const data = new Uint8Array(mapWidth * mapHeight);
  for (let y = 0; y < mapHeight; y++) {
    const row = Math.floor(y / match.step) * match.width;
    for (let x = 0; x < mapWidth; x++) data[y * mapWidth + x] = match.component[row + Math.floor(x / match.step)];
  }
  return { width: mapWidth, height: mapHeight, data };
}

export type SearchService = ReturnType<typeof createSearchService>;

const services = new WeakMap<Project, SearchService>();

/** The search service of an open project, created on first use (its region cache and sessions live with it). */
export function searchServiceFor(project: Project, options: SearchServiceOptions): SearchService {
  let service = services.get(project);
  if (!service) services.set(project, (service = createSearchService(project, options)));
  return service;
}
