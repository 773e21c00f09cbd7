/**
 * search.query, search.feedback, search.hitMask and search.accept on the team server, answering as a project file
 * does (core/api/search-contract.ts): the sessions are the local search's engine (electron/search/sessions.ts), held
 * here per user. Why on the server rather than in the studio: a re-ranking reads the maps of every stage-1 candidate
 * (100 by default, 0.8 MB each at 1024x768), which the server reads from its database and a studio would have to
 * download on every judgement; and stage 1 needs the region matrix only the server holds.
 *
 * Maps are read ahead of each step, a few at a time (each is a round trip), into the lookup the engine reads,
 * through the server's map cache (map-cache.ts), keyed on the region row's seq the stage-1 index holds, so a
 * re-embedded map is read again. Sessions are bounded: 4 per user (the oldest dropped), 64 in all, and one unused
 * for 30 minutes expires; another user's session id is not found.
 *
 * Accept writes through the versioned save, one image at a time: the image's lease is taken for the write (and given
 * back after, if the user did not hold it), so an image another user holds is never written: it is skipped, with who
 * holds it in the result. Each save names the version it read; a save that lost to another meanwhile reads again.
 */
import { ApiError } from '../../core/api/contract';
import type { AnnotationDraft, AnnotationRecord } from '../../core/api/records';
import type {
  AcceptResult, HitMask, SearchAcceptInput, SearchFeedbackInput, SearchHitMaskInput, SearchQueryInput, SearchResult,
} from '../../core/api/search-contract';
import { dequantize, type StoredEmbedding } from '../../core/embedding';
import { decodeRle } from '../../core/rle';
import { poolMask, SearchInputError } from '../../core/search/pooling';
import { LeaseHeldError, StaleVersionError, type Store, type UserRecord } from '../../db/store';
import { decodeImage } from '../embedding/image-io';
import { type MapLookup, SearchSessions, type Session, type Stage1Result } from '../search/sessions';
import { alreadyCovered } from '../search/writer';
import { MapCache } from './map-cache';
import type { TeamRegionIndex } from './search';

/** Maps read from the store at once (each is a round trip; re-ranking one is milliseconds). */
const mapBatch = 8;
/** A save that lost to another one meanwhile is read and tried again this many times. */
const saveAttempts = 3;

const toDraft = (annotation: AnnotationRecord): AnnotationDraft => ({
  id: annotation.id, classId: annotation.classId, rle: annotation.rle, score: annotation.score, order: annotation.order,
  visible: annotation.visible, source: annotation.source,
});

export class TeamSearch {
  private readonly sessions = new SearchSessions({ maxSessions: 64, maxPerOwner: 4, idleMs: 30 * 60_000 });

  constructor(
    private readonly store: Store,
    private readonly index: TeamRegionIndex,
    private readonly defaultModel: () => string,
    private readonly leaseSeconds: number,
    private readonly cache = new MapCache(0),
  ) {}

  /** Sessions held now (for tests). */
  get held(): number {
    return this.sessions.size;
  }

  /** Examples (a mask on an image) -> query vector (mask-pooled embedding), then the first ranking. */
  async query(input: SearchQueryInput, user: UserRecord): Promise<SearchResult & { stats: { syncMs: number } }> {
    const modelId = input.modelId ?? this.defaultModel();
    if (input.classId !== undefined) {
      throw new ApiError('invalid-input', '"find more of this class" works in local projects only for now; search a team project by a mask on an image');
    }
    const examples: Array<{ imageId: number; vector: Float32Array }> = [];
    for (const example of input.examples ?? []) {
      if (!('imageId' in example)) {
        throw new ApiError('invalid-input', 'a team project searches by a mask on an image ({ imageId, rle }); search by an existing annotation works in local projects only');
      }
      examples.push({ imageId: example.imageId, vector: await this.exampleVector(example.imageId, example.rle, modelId) });
    }
    const created = this.sessions.create({
      owner: user.id, modelId, examples, excludeExampleImages: input.excludeExampleImages, only: input.imageIds, limit: input.limit, rerank: input.rerank,
    }, () => undefined);
    return this.rank(created);
  }

  async feedback(input: SearchFeedbackInput, user: UserRecord): Promise<SearchResult> {
    const current = this.sessions.get(input.sessionId, user.id);
    const maps = await this.maps(current.modelId, this.sessions.unseen(current, [...input.accepted, ...input.rejected]));
    this.sessions.judge(current, input.accepted, input.rejected, maps);
    return this.rank(current, input.limit ?? current.limit);
  }

  async hitMask(input: SearchHitMaskInput, user: UserRecord): Promise<HitMask> {
    const current = this.sessions.get(input.sessionId, user.id);
    const maps = await this.maps(current.modelId, [input.imageId]);
    const rle = await this.sessions.hitMask(current, input.imageId, maps, this.guide(input.imageId));
    return { imageId: input.imageId, rle, score: this.sessions.score(current, input.imageId, maps) };
  }

  /** Each hit's mask as shown, written onto what is stored now; accepting counts as judging the hits accepted. */
  async accept(input: SearchAcceptInput, user: UserRecord): Promise<AcceptResult> {
    const current = this.sessions.get(input.sessionId, user.id);
    const imageIds = this.sessions.acceptTargets(current, input);
    if (input.classId !== null && !(await this.store.classes.list()).some((entry) => entry.id === input.classId)) {
      throw new ApiError('not-found', `no class with id ${input.classId}`);
    }
    // Every mask first, so that a hit that cannot be made (no map) refuses the accept before anything is written.
    const proposed: Array<{ imageId: number; draft: AnnotationDraft }> = [];
    for (const imageId of imageIds) {
      const maps = await this.maps(current.modelId, [imageId]);
      const rle = await this.sessions.hitMask(current, imageId, maps, this.guide(imageId));
      proposed.push({ imageId, draft: { classId: input.classId, rle, score: this.sessions.score(current, imageId, maps), source: 'search' } });
    }
    const result: Required<AcceptResult> = { annotationIds: [], imageIds: [], alreadyLabelled: [], skipped: [] };
    const written: number[] = [];
    for (const { imageId, draft } of proposed) {
      const outcome = await this.write(imageId, draft, user);
      if (outcome.kind === 'written') {
        result.annotationIds.push(outcome.annotationId);
        result.imageIds.push(imageId);
      } else if (outcome.kind === 'covered') {
        result.alreadyLabelled.push(imageId);
      } else {
        result.skipped.push({ imageId, reason: outcome.reason });
        continue;
      }
      written.push(imageId);
    }
    this.sessions.judge(current, written, [], await this.maps(current.modelId, this.sessions.unseen(current, written)));
    return result;
  }

  /** One accepted hit onto the image's stored objects, under the user's lease, through the versioned save. */
  private async write(imageId: number, draft: AnnotationDraft, user: UserRecord):
    Promise<{ kind: 'written'; annotationId: number } | { kind: 'covered' } | { kind: 'skipped'; reason: string }> {
    const held = (await this.store.leases.get(imageId))?.userId === user.id;
    if (!held) {
      try {
        await this.store.leases.claim(imageId, user.id, this.leaseSeconds);
      } catch (error) {
        if (!(error instanceof LeaseHeldError)) throw error;
        return { kind: 'skipped', reason: `${error.lease.userName} is labeling image ${imageId} until ${error.lease.expiresAt}: it was left as it was` };
      }
    }
    const mask = decodeRle(draft.rle);
    try {
      for (let attempt = 1; ; attempt++) {
        const current = await this.store.annotations.get(imageId);
        if (alreadyCovered(current.annotations, mask)) return { kind: 'covered' };
        const before = new Set(current.annotations.map((annotation) => annotation.id));
        try {
          const saved = await this.store.annotations.save({ imageId, baseVersion: current.version, annotations: [...current.annotations.map(toDraft), draft], userId: user.id });
          return { kind: 'written', annotationId: saved.annotations.find((annotation) => !before.has(annotation.id))!.id };
        } catch (error) {
          if (!(error instanceof StaleVersionError)) throw error;
          if (attempt >= saveAttempts) return { kind: 'skipped', reason: `image ${imageId} was saved by others ${saveAttempts} times while this hit was written: accept it again` };
        }
      }
    } finally {
      if (!held) await this.store.leases.release(imageId, user.id);
    }
  }

  /** Stage 1 over the matrix, stage 2 on the candidates' maps (read a few at a time, never all at once). */
  private async rank(current: Session, limit = current.limit): Promise<SearchResult & { stats: { syncMs: number } }> {
    const request = this.sessions.stage1Request(current, limit);
    const stage1 = await this.index.scan(current.modelId, request.queries, request);
    const ranking = this.sessions.rank(current, stage1 satisfies Stage1Result, limit);
    for (let i = 0; i < stage1.hits.length; i += mapBatch) {
      const batch = stage1.hits.slice(i, i + mapBatch);
      const loaded = await Promise.all(batch.map(async (hit) => ({
        hit, embedding: await this.map(current.modelId, hit.imageId), image: await this.store.images.get(hit.imageId),
      })));
      for (const { hit, embedding, image } of loaded) ranking.add(hit, embedding, image?.hash ?? undefined);
    }
    const result = ranking.finish();
    return { ...result, stats: { ...result.stats, syncMs: stage1.syncMs } };
  }

  /** The image's map as of the index's last refresh: from the cache when its region row has not changed since. */
  private map(modelId: string, imageId: number): Promise<StoredEmbedding | undefined> {
    return this.cache.get(modelId, imageId, this.index.mapVersion(modelId, imageId), () => this.store.embeddings.get(imageId, modelId));
  }

  /** The maps of these images, for a step that reads them (the index caught up first: a version check). */
  private async maps(modelId: string, imageIds: number[]): Promise<MapLookup> {
    const found = new Map<number, StoredEmbedding>();
    if (imageIds.length > 0) await this.index.refresh(modelId);
    for (let i = 0; i < imageIds.length; i += mapBatch) {
      await Promise.all(imageIds.slice(i, i + mapBatch).map(async (imageId) => {
        const embedding = await this.map(modelId, imageId);
        if (embedding) found.set(imageId, embedding);
      }));
    }
    return (imageId) => found.get(imageId);
  }

  /** The image's pixels for edge-aware masks; null when unreadable or not the size its map covers. */
  private guide(imageId: number) {
    return async (width: number, height: number) => {
      const bytes = await this.store.images.bytes(imageId);
      const image = bytes && await decodeImage(bytes).catch(() => null);
      return image && image.width === width && image.height === height ? image : null;
    };
  }

  private async exampleVector(imageId: number, rle: { size: [number, number]; counts: string }, modelId: string): Promise<Float32Array> {
    await this.index.refresh(modelId);
    const stored = await this.map(modelId, imageId);
    if (!stored) {
      if (!(await this.store.images.get(imageId))) throw new ApiError('not-found', `no image ${imageId}`);
      throw new ApiError('not-embedded', `image ${imageId} has no embedding for model ${modelId} yet; start a worker (pixelwise worker)`);
    }
    const [height, width] = rle.size;
    if (width !== stored.imageWidth || height !== stored.imageHeight) {
      throw new ApiError('invalid-input', `example on image ${imageId}: the mask is ${width}x${height} but the image is ${stored.imageWidth}x${stored.imageHeight}`);
    }
    let mask;
    try {
      mask = decodeRle(rle);
    } catch (error) {
      throw new ApiError('invalid-input', `example on image ${imageId}: the mask is not a valid RLE (${(error as Error).message})`);
    }
    try {
      return poolMask(dequantize(stored), mask);
    } catch (error) {
      if (error instanceof SearchInputError) throw new ApiError('invalid-input', `example on image ${imageId}: ${error.message}`);
      throw error;
    }
  }
}
