/**
 * Search sessions: what a labeler has said about a query (its examples, the hits judged accepted or rejected) and
 * the region each hit was shown with, for search.feedback, search.hitMask and search.accept. One engine for both
 * places a search runs: a project file (electron/search/service.ts, maps read from SQLite as needed) and a team
 * server (electron/team/search.ts, maps read from PostgreSQL ahead of each step). The engine reads maps through a
 * lookup the caller fills, so the same code re-ranks, fixes judged regions and makes hit masks on both; stage 1
 * (the scan of every region) is the caller's, as each place holds its region vectors its own way.
 *
 * Bounded: at most `maxSessions` sessions (least recently used dropped first), `maxPerOwner` of one user on a
 * server, and a session unused for `idleMs` expires. Nothing about a session is stored.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type { SearchAcceptInput, SearchHit, SearchResult } from '../../core/api/search-contract';
import type { StoredEmbedding } from '../../core/embedding';
import type { RgbImage } from '../../core/image';
import type { Mask } from '../../core/mask';
import { encodeRle, type Rle } from '../../core/rle';
import { type ClassModel, ClassModelError, type ClassModelOptions, classScore, fitClassModel } from '../../core/search/classmodel';
import { type DenseMatch, type DenseOptions, denseMatch } from '../../core/search/dense';
import type { ScanHit } from '../../core/search/scan';
import { type HitMaskOptions, engineHitMask } from './hit-mask';

/** An ApiError, so the code ('not-found', 'not-embedded', 'invalid-input') crosses the API boundary as is. */
export class SearchError extends ApiError {
  override name = 'SearchError';
  constructor(code: 'not-found' | 'not-embedded' | 'invalid-input', message: string) {
    super(code, message);
  }
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
  /**
   * The image-sized mask (computed on first preview or accept, then kept: the same bits every time), as its RLE:
   * a server holds 64 sessions, and raw masks of 1024x768 photos, five per session, held 250 MB there
   * (tests/bench/team-search-sessions.ts).
   */
  mask?: Promise<Rle>;
}

/** What the labeler has said: the query's examples, and the vectors of the regions judged so far. */
interface QueryState {
  examples: Float32Array[];
  accepted: Float32Array[];
  rejected: Float32Array[];
}

export interface Session {
  id: string;
  /** The user whose session it is (a team server's account id); null in a project file. */
  owner: number | null;
  modelId: string;
  state: QueryState;
  /** The class model fitted to `state` (refitted whenever it changes). */
  model: ClassModel;
  exampleImages: Set<number>;
  excludeExampleImages: boolean;
  only: Set<number> | null;
  limit: number;
  rerank: number;
  judgements: Map<number, 'accepted' | 'rejected'>;
  /**
   * "Find more of class X": rejections remembered for the class across its searches (the vector each was judged
   * on), shared by the class's sessions. Null for a search by examples.
   */
  remembered: Map<number, Float32Array> | null;
  /**
   * Regions of every judged image, and of hits previewed or accepted since the last ranking, by image. A shown
   * hit's region is the current query's until it is judged, so it is made again when needed (denseMatch gives the
   * same bits) rather than kept: 100 candidates' regions of 1024x768 photos held 5.6 MB per session, and a team
   * server keeps 64 sessions (tests/bench/team-search-sessions.ts: 64 sessions held 360 MB, now 21 MB).
   */
  regions: Map<number, HitRegion>;
  hits: SearchHit[];
  usedAt: number;
}

/** The maps a step reads, of the session's model: undefined for an image without one (or gone). */
export type MapLookup = (imageId: number) => StoredEmbedding | undefined;

export interface SessionOptions {
  dense?: Partial<DenseOptions>;
  classModel?: Partial<ClassModelOptions>;
  hitMask?: Partial<HitMaskOptions>;
  maxSessions?: number;
  maxPerOwner?: number;
  idleMs?: number;
}

export interface NewSession {
  owner?: number;
  modelId: string;
  examples: Array<{ imageId: number; vector: Float32Array }>;
  excludeExampleImages: boolean;
  only?: number[];
  limit: number;
  rerank: number;
  remembered?: Map<number, Float32Array>;
}

/** What stage 1 is asked for: the class model's scan queries and negatives, and which images. */
export interface Stage1Request {
  queries: Float32Array[];
  limit: number;
  exclude?: ReadonlySet<number>;
  only?: ReadonlySet<number>;
  negatives: { vectors: Float32Array[]; weight: number };
}

export interface Stage1Result {
  hits: ScanHit[];
  images: number;
  regions: number;
  ms: number;
}

/** Stage 2 of one ranking: candidates are added one at a time (a server loads their maps a few at a time). */
export interface Ranking {
  add(hit: ScanHit, embedding: StoredEmbedding | undefined, imageHash: string | undefined): void;
  finish(): SearchResult;
}

export class SearchSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly maxSessions: number;
  private readonly maxPerOwner: number;
  private readonly idleMs: number;

  constructor(private readonly options: SessionOptions = {}) {
    this.maxSessions = options.maxSessions ?? 16;
    this.maxPerOwner = options.maxPerOwner ?? this.maxSessions;
    this.idleMs = options.idleMs ?? Infinity;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A new session; its first ranking follows (stage1Request, then rank). */
  create(init: NewSession, maps: MapLookup): Session {
    this.expire();
    const owner = init.owner ?? null;
    const created: Session = {
      id: randomUUID(), owner, modelId: init.modelId,
      state: { examples: init.examples.map((example) => example.vector), accepted: [], rejected: [] },
      model: { queries: [], scanQueries: 0, negatives: [], negativeWeight: 0 },
      exampleImages: new Set(init.examples.map((example) => example.imageId)), excludeExampleImages: init.excludeExampleImages,
      only: init.only ? new Set(init.only) : null, limit: init.limit, rerank: init.rerank,
      judgements: new Map(), remembered: init.remembered ?? null, regions: new Map(), hits: [], usedAt: Date.now(),
    };
    // The class's earlier rejections still hold (its accepted hits are annotations of it by now).
    for (const imageId of created.remembered?.keys() ?? []) created.judgements.set(imageId, 'rejected');
    this.applyJudgements(created, maps);
    this.sessions.set(created.id, created);
    const mine = [...this.sessions.values()].filter((session) => session.owner === owner);
    for (const old of mine.slice(0, Math.max(0, mine.length - this.maxPerOwner))) this.sessions.delete(old.id);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
    return created;
  }

  /** The owner's session (another user's is not found, as one that has expired). */
  get(id: string, owner: number | null = null): Session {
    this.expire();
    const found = this.sessions.get(id);
    if (!found || found.owner !== owner) throw new SearchError('not-found', `search session ${id} has expired; run the query again`);
    this.sessions.delete(id);
    this.sessions.set(id, found);
    found.usedAt = Date.now();
    return found;
  }

  private expire(): void {
    const oldest = Date.now() - this.idleMs;
    for (const [id, session] of this.sessions) if (session.usedAt < oldest) this.sessions.delete(id);
  }

  /** Images whose maps a judgement of `imageIds` reads (those without a region in the session yet). */
  unseen(current: Session, imageIds: Iterable<number>): number[] {
    return [...new Set(imageIds)].filter((imageId) => !current.regions.has(imageId) && !current.remembered?.has(imageId));
  }

  judge(current: Session, accepted: number[], rejected: number[], maps: MapLookup): void {
    for (const imageId of accepted) current.judgements.set(imageId, 'accepted');
    for (const imageId of rejected) current.judgements.set(imageId, 'rejected');
    this.applyJudgements(current, maps);
  }

  stage1Request(current: Session, limit = current.limit): Stage1Request {
    const { model } = current;
    return {
      queries: model.queries.slice(0, model.scanQueries), limit: Math.max(current.rerank, limit),
      exclude: current.excludeExampleImages ? current.exampleImages : undefined, only: current.only ?? undefined,
      negatives: { vectors: model.negatives, weight: model.negativeWeight },
    };
  }

  /** Stage 2 on stage 1's candidates: fills session.hits with the best `limit`. */
  rank(current: Session, stage1: Stage1Result, limit = current.limit): Ranking {
    const { model } = current;
    const started = performance.now();
    for (const imageId of current.regions.keys()) if (!current.judgements.has(imageId)) current.regions.delete(imageId);
    const hits: SearchHit[] = [];
    return {
      add: (hit, embedding, imageHash) => {
        if (!embedding || !imageHash) return; // deleted since the scan read it
        const judged = current.regions.get(hit.imageId);
        const match = judged?.match ?? denseMatch(embedding, model.queries, this.options.dense);
        hits.push({
          imageId: hit.imageId, imageHash, score: classScore(model, match.vector), regionScore: judged?.regionScore ?? hit.score, bbox: match.bbox,
          peak: [Math.round(match.peak[0]), Math.round(match.peak[1])],
          grid: encodeRle(mapGridOf(match, embedding.width, embedding.height)),
          judgement: current.judgements.get(hit.imageId) ?? null,
        });
      },
      finish: () => {
        hits.sort((a, b) => b.score - a.score || a.imageId - b.imageId);
        current.hits = hits.slice(0, limit);
        return {
          sessionId: current.id, modelId: current.modelId, hits: current.hits,
          stats: { images: stage1.images, regions: stage1.regions, stage1Ms: stage1.ms, stage2Ms: performance.now() - started },
        };
      },
    };
  }

  /** The images an accept writes: those named, or the current hits scoring >= minScore that were not rejected. */
  acceptTargets(current: Session, input: Pick<SearchAcceptInput, 'imageIds' | 'minScore'>): number[] {
    return [...new Set(input.imageIds ?? current.hits
      .filter((hit) => hit.score >= (input.minScore ?? 1) && current.judgements.get(hit.imageId) !== 'rejected')
      .map((hit) => hit.imageId))];
  }

  /** The class model's score of the image's region in this session. */
  score(current: Session, imageId: number, maps: MapLookup): number {
    return classScore(current.model, this.regionOf(current, imageId, maps).match.vector);
  }

  /**
   * The hit's mask (RLE): the click engine seeded at the region (hit-mask.ts), on the image's pixels when `guide`
   * gives them. Kept with the region, so a preview, the editor's proposal and the accept that follows give the same bits.
   */
  hitMask(current: Session, imageId: number, maps: MapLookup, guide: (width: number, height: number) => Promise<RgbImage | null>): Promise<Rle> {
    const region = this.regionOf(current, imageId, maps);
    if (!region.mask) {
      const embedding = stored(maps, imageId, current.modelId);
      const computed = guide(embedding.imageWidth, embedding.imageHeight).then((image) => encodeRle(engineHitMask(embedding, region.match, image, this.options.hitMask)));
      region.mask = computed;
      computed.catch(() => { if (region.mask === computed) region.mask = undefined; });
    }
    return region.mask;
  }

  /**
   * The image's region in this session: the one it was judged on, else the current query's (what a shown hit was
   * shown with; an image judged or accepted without having been shown gets one too).
   */
  private regionOf(current: Session, imageId: number, maps: MapLookup): HitRegion {
    let region = current.regions.get(imageId);
    if (!region) {
      const match = denseMatch(stored(maps, imageId, current.modelId), current.model.queries, this.options.dense);
      const shown = current.hits.find((hit) => hit.imageId === imageId);
      current.regions.set(imageId, (region = { match, regionScore: shown?.regionScore ?? match.objectScore }));
    }
    return region;
  }

  /** The judged regions' vectors become the model's positives and negatives, and the query is refitted. */
  private applyJudgements(current: Session, maps: MapLookup): void {
    current.state.accepted = [];
    current.state.rejected = [];
    const { remembered } = current;
    // A judged region keeps the region it was judged on; one judged before any query was fitted (a class's
    // remembered rejection) uses the vector remembered for it.
    if (current.model.queries.length === 0) this.refit(current);
    for (const [imageId, judgement] of current.judgements) {
      const vector = current.regions.has(imageId) || !remembered?.has(imageId) ? this.regionOf(current, imageId, maps).match.vector : remembered.get(imageId)!;
      (judgement === 'accepted' ? current.state.accepted : current.state.rejected).push(vector);
      if (remembered && judgement === 'rejected') remembered.set(imageId, vector);
      else remembered?.delete(imageId);
    }
    this.refit(current);
  }

  /** Refits the session's class model to its examples and judgements. */
  private refit(current: Session): void {
    try {
      current.model = fitClassModel({ positives: [...current.state.examples, ...current.state.accepted], negatives: current.state.rejected }, this.options.classModel);
    } catch (error) {
      if (error instanceof ClassModelError) throw new SearchError('invalid-input', error.message);
      throw error;
    }
  }
}

function stored(maps: MapLookup, imageId: number, modelId: string): StoredEmbedding {
  const embedding = maps(imageId);
  if (!embedding) throw new SearchError('not-embedded', `image ${imageId} has no embedding for model ${modelId}`);
  return embedding;
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
