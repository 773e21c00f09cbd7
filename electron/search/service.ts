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
import { type ClassModel, ClassModelError, type ClassModelOptions, classScore, fitClassModel } from '../../core/search/classmodel';
import { type DenseMatch, type DenseOptions, denseMatch } from '../../core/search/dense';
import { SearchInputError, poolMask } from '../../core/search/pooling';
import type { Project } from '../../db/project';
import { guideImage } from './guide';
import { type HitMaskOptions, engineHitMask } from './hit-mask';
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
  /** The query is the labeler's class model (core/search/classmodel.ts), refitted to examples and judgements. */
  classModel?: Partial<ClassModelOptions>;
  discovery?: Partial<DiscoveryServiceOptions>;
  /** How a hit's mask is made from the click engine (hit-mask.ts). */
  hitMask?: Partial<HitMaskOptions>;
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

/** What the labeler has said: the query's examples, and the vectors of the regions judged so far. */
interface QueryState {
  examples: Float32Array[];
  accepted: Float32Array[];
  rejected: Float32Array[];
}

interface Session {
  id: string;
  modelId: string;
  /** "Find more of class X": the class's annotations are examples, and judgements are remembered for the class. */
  classId: number | null;
  state: QueryState;
  /** The class model fitted to `state` (refitted whenever it changes). */
  model: ClassModel;
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
  const maxClassExamples = 500;
  const defaultModel = () => (typeof options.defaultModelId === 'function' ? options.defaultModelId() : options.defaultModelId);

  function stored(imageId: number, modelId: string) {
    const embedding = project.embeddings.get(imageId, modelId);
    if (!embedding) throw new SearchError('not-embedded', `image ${imageId} has no embedding for model ${modelId}`);
    return embedding;
  }

  /**
   * Mask-pooled vectors of annotations ("find more of class X" pools every annotation of the class), by model and
   * annotation id; an entry holds for the mask and the embeddings it was pooled from (an edited mask, or any
   * re-embedding or re-indexing, which changes the region index's signature, pools it again).
   */
  const pooled = new Map<string, { counts: string; signature: string; vector: Float32Array }>();
  const classMemory = new Map<string, Map<number, Float32Array>>();
  const rejectedOfClass = (modelId: string, classId: number) => {
    const key = `${modelId}\n${classId}`;
    let memory = classMemory.get(key);
    if (!memory) classMemory.set(key, (memory = new Map()));
    return memory;
  };

  function exampleVector(example: NonNullable<SearchQueryInput['examples']>[number], modelId: string, signature: string): { imageId: number; vector: Float32Array } {
    let imageId: number, mask: Mask;
    if ('annotationId' in example) {
      const annotation = project.annotations.get(example.annotationId);
      if (!annotation) throw new SearchError('not-found', `no annotation ${example.annotationId}`);
      const key = `${modelId}\n${annotation.id}`;
      const known = pooled.get(key);
      if (known?.counts === annotation.rle.counts && known.signature === signature) return { imageId: annotation.imageId, vector: known.vector };
      imageId = annotation.imageId;
      mask = decodeRle(annotation.rle);
      const vector = poolExample(imageId, mask, modelId);
      if (pooled.size > 20_000) pooled.clear();
      pooled.set(key, { counts: annotation.rle.counts, signature, vector });
      return { imageId, vector };
    } else {
      imageId = example.imageId;
      mask = decodeRle(example.rle);
    }
    return { imageId, vector: poolExample(imageId, mask, modelId) };
  }

  function poolExample(imageId: number, mask: Mask, modelId: string): Float32Array {
    try {
      return poolMask(dequantize(stored(imageId, modelId)), mask);
    } catch (error) {
      if (error instanceof SearchInputError) throw new SearchError('invalid-input', `example on image ${imageId}: ${error.message}`);
      throw error;
    }
  }

  /** The class's annotations that have an embedding for the model, newest first (at most `maxClassExamples`). */
  function classExamples(classId: number, modelId: string): NonNullable<SearchQueryInput['examples']> {
    const className = project.classes.list().find((candidate) => candidate.id === classId)?.name;
    if (className === undefined) throw new SearchError('not-found', `no class with id ${classId}`);
    const ids = project.db.prepare(`SELECT a.id FROM annotations a JOIN embeddings e ON e.image_id = a.image_id AND e.model_id = ?
      WHERE a.class_id = ? ORDER BY a.id DESC LIMIT ?`).pluck().all(modelId, classId, maxClassExamples) as number[];
    if (ids.length === 0) throw new SearchError('invalid-input', `class "${className}" has no annotated objects on embedded images yet: annotate one first`);
    return ids.map((annotationId) => ({ annotationId }));
  }

  /** Refits the session's class model to its examples and judgements. */
  function refit(current: Session): void {
    try {
      current.model = fitClassModel({ positives: [...current.state.examples, ...current.state.accepted], negatives: current.state.rejected }, options.classModel);
    } catch (error) {
      if (error instanceof ClassModelError) throw new SearchError('invalid-input', error.message);
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
    const { model } = current;
    const exclude = current.excludeExampleImages ? current.exampleImages : undefined;
    const candidates = Math.max(current.rerank, limit);
    const stage1 = scanner.scan(current.modelId, model.queries.slice(0, model.scanQueries), {
      limit: candidates, exclude, only: current.only ?? undefined, negatives: { vectors: model.negatives, weight: model.negativeWeight },
    });
    const started = performance.now();
    for (const imageId of current.regions.keys()) if (!current.judgements.has(imageId)) current.regions.delete(imageId);
    const hits: SearchHit[] = [];
    for (const hit of stage1.hits) {
      const embedding = project.embeddings.get(hit.imageId, current.modelId);
      const imageHash = project.images.get(hit.imageId)?.hash;
      if (!embedding || !imageHash) continue; // deleted since the scan's page was read
      let region = current.regions.get(hit.imageId);
      if (!region) current.regions.set(hit.imageId, (region = { match: denseMatch(embedding, model.queries, options.dense), regionScore: hit.score }));
      const { match } = region;
      hits.push({
        imageId: hit.imageId, imageHash, score: classScore(model, match.vector), regionScore: region.regionScore, bbox: match.bbox,
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
      const match = denseMatch(stored(imageId, current.modelId), current.model.queries, options.dense);
      current.regions.set(imageId, (region = { match, regionScore: match.objectScore }));
    }
    return region;
  }

  /**
   * The hit's mask: the click engine seeded at the region (hit-mask.ts), on the image's pixels when its file can
   * be read. Kept with the region, so a preview, the editor's proposal and the accept that follows give the same bits.
   */
  function maskOf(current: Session, imageId: number): Promise<Mask> {
    const region = regionOf(current, imageId);
    if (!region.mask) {
      const embedding = stored(imageId, current.modelId);
      const computed = guideImage(project, imageId, embedding.imageWidth, embedding.imageHeight)
        .then((image) => engineHitMask(embedding, region.match, image, options.hitMask));
      region.mask = computed;
      computed.catch(() => { if (region.mask === computed) region.mask = undefined; });
    }
    return region.mask;
  }

  return {
    search: {
      query(input: SearchQueryInput): SearchResult {
        const modelId = input.modelId ?? defaultModel();
        const classId = input.classId ?? null;
        const given = [...(input.examples ?? []), ...(classId === null ? [] : classExamples(classId, modelId))];
        if (given.length === 0) throw new SearchError('invalid-input', 'a search needs an example object or a class');
        const signature = regionsOf(project).signature(modelId);
        const examples = given.map((example) => exampleVector(example, modelId, signature));
        const created: Session = {
          id: randomUUID(), modelId, classId, state: { examples: examples.map((e) => e.vector), accepted: [], rejected: [] }, model: { queries: [], scanQueries: 0, negatives: [], negativeWeight: 0 },
          exampleImages: new Set(examples.map((e) => e.imageId)), excludeExampleImages: input.excludeExampleImages,
          only: input.imageIds ? new Set(input.imageIds) : null, limit: input.limit, rerank: input.rerank,
          judgements: new Map(), regions: new Map(), hits: [],
        };
        if (classId !== null) {
          // The class's earlier rejections still hold (its accepted hits are annotations of it by now).
          for (const imageId of rejectedOfClass(modelId, classId).keys()) created.judgements.set(imageId, 'rejected');
        }
        applyJudgements(created);
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
        return { imageId: input.imageId, rle: encodeRle(mask), score: classScore(current.model, regionOf(current, input.imageId).match.vector) };
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
        const proposed: ProposedAnnotation[] = [];
        for (const imageId of imageIds) {
          proposed.push({ imageId, mask: await maskOf(current, imageId), score: classScore(current.model, regionOf(current, imageId).match.vector) });
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

  /** The judged regions' vectors become the model's positives and negatives, and the query is refitted. */
  function applyJudgements(current: Session): void {
    current.state.accepted = [];
    current.state.rejected = [];
    const remembered = current.classId === null ? null : rejectedOfClass(current.modelId, current.classId);
    // A judged region keeps the region it was judged on; one judged before any query was fitted (a class's
    // remembered rejection) uses the vector remembered for it.
    if (current.model.queries.length === 0) refit(current);
    for (const [imageId, judgement] of current.judgements) {
      const vector = current.regions.has(imageId) || !remembered?.has(imageId) ? regionOf(current, imageId).match.vector : remembered.get(imageId)!;
      (judgement === 'accepted' ? current.state.accepted : current.state.rejected).push(vector);
      if (remembered && judgement === 'rejected') remembered.set(imageId, vector);
      else remembered?.delete(imageId);
    }
    refit(current);
  }
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
