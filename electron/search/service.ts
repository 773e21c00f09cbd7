/**
 * The search and discovery API (core/api/search-contract.ts) over one open Project. Query: examples -> query
 * vector (mask-pooled embedding), stage 1 over all region vectors (scanner.ts), stage 2 re-ranks the best
 * `rerank` images on their full maps (core/search/dense.ts). Sessions (sessions.ts, the engine a team server's
 * search shares) keep the query state and each hit's region for feedback and accept; the last few are kept in
 * memory (LRU), nothing about them is stored in the project.
 */
import type {
  AcceptResult, HitMask, SearchAcceptInput, SearchFeedbackInput, SearchHitMaskInput, SearchQueryInput, SearchResult,
} from '../../core/api/search-contract';
import { dequantize } from '../../core/embedding';
import type { Mask } from '../../core/mask';
import { decodeRle } from '../../core/rle';
import type { ClassModelOptions } from '../../core/search/classmodel';
import type { DenseOptions } from '../../core/search/dense';
import { SearchInputError, poolMask } from '../../core/search/pooling';
import type { Project } from '../../db/project';
import { guideImage } from './guide';
import type { HitMaskOptions } from './hit-mask';
import { type DiscoveryServiceOptions, createDiscoveryService } from './discovery';
import { regionsOf } from './indexer';
import { RegionScanner, type ScannerOptions } from './scanner';
import { type MapLookup, SearchError, SearchSessions, type Session } from './sessions';
import { type ProposedAnnotation, writeAnnotations } from './writer';

export { SearchError, mapGridOf } from './sessions';

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

export function createSearchService(project: Project, options: SearchServiceOptions) {
  const scanner = new RegionScanner(regionsOf(project), options.scanner);
  const sessions = new SearchSessions({ dense: options.dense, classModel: options.classModel, hitMask: options.hitMask, maxSessions: options.maxSessions ?? 16 });
  const maxClassExamples = 500;
  const defaultModel = () => (typeof options.defaultModelId === 'function' ? options.defaultModelId() : options.defaultModelId);
  /** A project file reads maps as a step needs them. */
  const mapsOf = (modelId: string): MapLookup => (imageId) => project.embeddings.get(imageId, modelId);

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

  /** Stage 1 + stage 2 for the session's current query; fills session.hits. */
  function rank(current: Session, limit = current.limit): SearchResult {
    const request = sessions.stage1Request(current, limit);
    const stage1 = scanner.scan(current.modelId, request.queries, request);
    const ranking = sessions.rank(current, stage1, limit);
    for (const hit of stage1.hits) ranking.add(hit, project.embeddings.get(hit.imageId, current.modelId), project.images.get(hit.imageId)?.hash ?? undefined);
    return ranking.finish();
  }

  const guide = (imageId: number) => (width: number, height: number) => guideImage(project, imageId, width, height);

  return {
    search: {
      query(input: SearchQueryInput): SearchResult {
        const modelId = input.modelId ?? defaultModel();
        const classId = input.classId ?? null;
        const given = [...(input.examples ?? []), ...(classId === null ? [] : classExamples(classId, modelId))];
        if (given.length === 0) throw new SearchError('invalid-input', 'a search needs an example object or a class');
        const signature = regionsOf(project).signature(modelId);
        const examples = given.map((example) => exampleVector(example, modelId, signature));
        const created = sessions.create({
          modelId, examples, excludeExampleImages: input.excludeExampleImages, only: input.imageIds, limit: input.limit, rerank: input.rerank,
          remembered: classId === null ? undefined : rejectedOfClass(modelId, classId),
        }, mapsOf(modelId));
        return rank(created);
      },
      feedback(input: SearchFeedbackInput): SearchResult {
        const current = sessions.get(input.sessionId);
        sessions.judge(current, input.accepted, input.rejected, mapsOf(current.modelId));
        return rank(current, input.limit ?? current.limit);
      },
      /** The mask search.accept writes for this hit. */
      async hitMask(input: SearchHitMaskInput): Promise<HitMask> {
        const current = sessions.get(input.sessionId);
        const maps = mapsOf(current.modelId);
        const rle = await sessions.hitMask(current, input.imageId, maps, guide(input.imageId));
        return { imageId: input.imageId, rle, score: sessions.score(current, input.imageId, maps) };
      },
      /**
       * Each hit's mask as shown (one image decoded at a time), then written in one transaction, leaving out masks
       * of objects already annotated (writer.ts). Accepting counts as judging the hits accepted.
       */
      async accept(input: SearchAcceptInput): Promise<AcceptResult> {
        const current = sessions.get(input.sessionId);
        const maps = mapsOf(current.modelId);
        const imageIds = sessions.acceptTargets(current, input);
        if (input.classId !== null) project.classes.get(input.classId);
        const proposed: ProposedAnnotation[] = [];
        for (const imageId of imageIds) {
          proposed.push({ imageId, mask: decodeRle(await sessions.hitMask(current, imageId, maps, guide(imageId))), score: sessions.score(current, imageId, maps) });
        }
        const result = writeAnnotations(project, proposed, input.classId, 'search');
        sessions.judge(current, imageIds, [], maps);
        return result;
      },
    },
    discovery: createDiscoveryService(project, defaultModel, options.discovery),
    /** For benchmarks and the status bar: bytes of region vectors cached in memory. */
    cachedBytes: () => scanner.cachedBytes,
  };
}

export type SearchService = ReturnType<typeof createSearchService>;

const services = new WeakMap<Project, SearchService>();

/** The search service of an open project, created on first use (its region cache and sessions live with it). */
export function searchServiceFor(project: Project, options: SearchServiceOptions): SearchService {
  let service = services.get(project);
  if (!service) services.set(project, (service = createSearchService(project, options)));
  return service;
}
