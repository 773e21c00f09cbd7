/**
 * A team project open in the studio: the signed-in TeamClient and what the studio must remember between calls.
 * - The version each image's objects were last listed or saved at: the next save of the image is based on it, so
 *   a save made over someone else's newer one is a conflict, never an overwrite (db/store.ts says why).
 * - Saves of one image go one at a time (an autosave fired while the previous one is still on its way would
 *   otherwise be based on the version before it and conflict with itself).
 * - A save that got no answer is remembered with its saveId: before the image's next save the studio asks the
 *   server whether it landed, and if it did, builds on it (it was this user's own work, not someone else's).
 * - Image bytes (images.download), thumbnails and embedding maps in an LRU cache bounded in bytes, so the editor
 *   and the image grid do not fetch the same image twice (tests/bench/team-studio.ts, 1024x768, load 8 on 2 cores:
 *   an image blob 46 ms first, p50 4 ms cached; its 0.8 MB map 72 ms first, p50 8 ms cached).
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type { AnnotationDraft, AnnotationRecord, ImageRecord, ImageStatus, ProjectInfo } from '../../core/api/records';
import type { TeamInfo, TeamRole } from '../../core/api/team-contract';
import type { ActivityEntry, Lease, VersionedAnnotations } from '../../db/store';
import { teamApiVersion } from './api';
import { TeamCallError, TeamClient } from './client';
import { TeamJobs } from './jobs';

export interface TeamProjectInfo {
  apiVersion: number;
  modelId: string;
  imageCount: number;
  statusCounts: Record<ImageStatus, number>;
  classCount: number;
  annotationCount: number;
}

/**
 * How long a save keeps trying to reach the server (0.5 + 1 + 2 + 4 + 8 + 8 = 23.5 s): long enough for a server
 * restart, short enough that the labeler hears about a server that is really gone.
 */
const saveRetryDelaysMs = [500, 1000, 2000, 4000, 8000, 8000];

/** Bytes of images and thumbnails kept in memory (a few hundred photos; the oldest used are dropped first). */
const cacheBytes = 256 * 1024 * 1024;

class ByteCache {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly limit: number) {}

  get(key: string): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: Uint8Array): void {
    if (value.byteLength > this.limit) return;
    this.delete(key);
    this.entries.set(key, value);
    this.bytes += value.byteLength;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(oldest);
      this.bytes -= entry.byteLength;
    }
  }

  private delete(key: string): void {
    const value = this.entries.get(key);
    if (!value) return;
    this.entries.delete(key);
    this.bytes -= value.byteLength;
  }
}

export class TeamProject {
  /** Uploads and exports running in this studio. */
  readonly jobs = new TeamJobs();
  readonly openedAt = new Date().toISOString();
  /** The model the server's maps are made with (project.info), for blobs, clicks and search. */
  modelId: string;
  private readonly versions = new Map<number, number>();
  private readonly imageOfAnnotation = new Map<number, number>();
  private readonly hashes = new Map<number, string>();
  private readonly unanswered = new Map<number, string>();
  private readonly queues = new Map<number, Promise<unknown>>();
  private readonly cache = new ByteCache(cacheBytes);
  /** Images this studio holds the lease on (claimed, not given back yet): given back when the project closes. */
  private readonly held = new Set<number>();

  private constructor(readonly client: TeamClient, readonly team: TeamInfo, info: TeamProjectInfo) {
    this.modelId = info.modelId;
  }

  /**
   * Signs in and checks the server: a worker account is refused (it cannot label), and so is a server whose call
   * table is newer than this studio's. The password stays in the client's memory (to sign in again when the
   * session expires), nowhere else.
   */
  static async open(server: string, user: string, password: string): Promise<TeamProject> {
    const client = new TeamClient(server);
    const account = await client.signIn(user, password).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === 'unauthorized') throw new ApiError('unauthorized', `${client.origin}: wrong user name or password`);
      throw error;
    });
    try {
      if (account.role === 'worker') {
        throw new ApiError('forbidden', `${account.name} is a worker account, and a worker account cannot label: sign in with a labeler, reviewer or admin account`);
      }
      const info = await client.call<TeamProjectInfo>('project.info').catch((error: unknown) => {
        if (error instanceof ApiError && error.code === 'not-found') {
          throw new ApiError('older-version', `the team server at ${client.origin} runs an older Pixelwise than this studio needs; update the server`);
        }
        throw error;
      });
      if (info.apiVersion > teamApiVersion) {
        throw new ApiError('newer-version', `the team server at ${client.origin} runs a newer Pixelwise (team API ${info.apiVersion}; this studio speaks up to ${teamApiVersion}): update Pixelwise Studio to open it`);
      }
      return new TeamProject(client, { server: client.origin, user: account.name, role: account.role as TeamRole }, info);
    } catch (error) {
      await client.signOut();
      throw error;
    }
  }

  async info(): Promise<ProjectInfo> {
    const info = await this.client.call<TeamProjectInfo>('project.info');
    this.modelId = info.modelId;
    return {
      path: this.team.server, name: new URL(this.team.server).host, schemaVersion: info.apiVersion, imageCount: info.imageCount,
      statusCounts: info.statusCounts, classCount: info.classCount, annotationCount: info.annotationCount, team: this.team,
    };
  }

  /**
   * Closing (the project closed, the app quitting, the web server stopping) gives back the images still held, so
   * nobody waits for the leases to run out; one try each (a server that is gone lets them run out by themselves).
   */
  async close(): Promise<void> {
    await this.jobs.close();
    await Promise.all([...this.held].map((imageId) => this.release(imageId, []).catch(() => undefined)));
    await this.client.signOut();
  }

  /** Claims (or renews the claim on) the image; 'leased' when someone else holds it. */
  async claim(imageId: number): Promise<Lease> {
    const lease = await this.client.call<Lease>('leases.claim', { imageId });
    this.held.add(imageId);
    return lease;
  }

  /**
   * Gives the image back once the saves of it already on their way are done: a page that goes away sends its last
   * save and then this, and the release must not land first (the save would then claim the image again).
   */
  release(imageId: number, retryDelaysMs?: readonly number[]): Promise<void> {
    return this.serial(imageId, async () => {
      await this.client.call('leases.release', { imageId }, { retryDelaysMs });
      this.held.delete(imageId);
    });
  }

  /** Runs fn after the image's earlier list and save calls have finished. */
  private serial<T>(imageId: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(imageId) ?? Promise.resolve()).catch(() => undefined).then(fn);
    this.queues.set(imageId, run);
    void run.finally(() => {
      if (this.queues.get(imageId) === run) this.queues.delete(imageId);
    }).catch(() => undefined);
    return run;
  }

  private remember(versioned: VersionedAnnotations): AnnotationRecord[] {
    this.versions.set(versioned.imageId, versioned.version);
    for (const annotation of versioned.annotations) this.imageOfAnnotation.set(annotation.id, versioned.imageId);
    return versioned.annotations;
  }

  rememberImages<T extends { id: number; hash: string | null }>(images: T[]): T[] {
    for (const image of images) if (image.hash) this.hashes.set(image.id, image.hash);
    return images;
  }

  /** The image's objects as stored now; the version they are at becomes the base of the image's next save. */
  list(imageId: number): Promise<AnnotationRecord[]> {
    return this.serial(imageId, async () => this.remember(await this.client.call<VersionedAnnotations>('annotations.get', { imageId })));
  }

  /** Objects written by the server (search.accept), as [annotation id, image id]: annotations.remove finds them. */
  rememberObjects(objects: Array<[number, number]>): void {
    for (const [annotationId, imageId] of objects) this.imageOfAnnotation.set(annotationId, imageId);
  }

  /** The image whose object `id` is (from the lists and saves seen), for annotations.remove. */
  imageOf(annotationId: number): number | undefined {
    return this.imageOfAnnotation.get(annotationId);
  }

  /**
   * Makes the image's objects exactly `drafts`, based on the version last listed or saved. A stale base is a
   * conflict naming who saved meanwhile; the drafts are not written (the editor still has them).
   */
  save(imageId: number, drafts: AnnotationDraft[]): Promise<AnnotationRecord[]> {
    return this.serial(imageId, async () => {
      const base = await this.baseVersion(imageId);
      return this.remember(await this.write(imageId, base, drafts));
    });
  }

  /**
   * Changes the image's stored objects with `change` (adding or removing some), based on what is stored now:
   * nothing is overwritten, since the change is applied to the current objects. The editor's remembered version
   * stays as it was, so an editor that has not listed the image since saves into a conflict, not over the change.
   */
  update(imageId: number, change: (current: AnnotationRecord[]) => AnnotationDraft[]): Promise<VersionedAnnotations> {
    return this.serial(imageId, async () => {
      for (let attempt = 0; ; attempt++) {
        const current = await this.client.call<VersionedAnnotations>('annotations.get', { imageId });
        try {
          const saved = await this.write(imageId, current.version, change(current.annotations));
          for (const annotation of saved.annotations) this.imageOfAnnotation.set(annotation.id, imageId);
          return saved;
        } catch (error) {
          if (!(error instanceof ApiError && error.code === 'conflict') || attempt >= 2) throw error;
        }
      }
    });
  }

  /** The version a save of the image builds on; a save that got no answer and did land counts as this user's own. */
  private async baseVersion(imageId: number): Promise<number> {
    const base = this.versions.get(imageId) ?? 0;
    const pending = this.unanswered.get(imageId);
    if (!pending) return base;
    const history = await this.client.call<Array<{ version: number; saveId: string | null }>>('annotations.history', { imageId });
    this.unanswered.delete(imageId);
    const landed = history.find((entry) => entry.saveId === pending);
    return landed ? landed.version : base;
  }

  private async write(imageId: number, baseVersion: number, drafts: AnnotationDraft[]): Promise<VersionedAnnotations> {
    const saveId = randomUUID();
    const send = () => this.client.call<VersionedAnnotations>('annotations.save', { imageId, baseVersion, annotations: drafts, saveId },
      { retryDelaysMs: saveRetryDelaysMs });
    try {
      try {
        return await send();
      } catch (error) {
        // The labeler's lease ran out while they worked (or they never claimed): claim it now and save.
        if (!(error instanceof ApiError && error.code === 'lease-required')) throw error;
        await this.claim(imageId);
        return await send();
      }
    } catch (error) {
      if (error instanceof TeamCallError && error.code === 'conflict' && error.detail) throw await this.conflict(imageId, baseVersion, error);
      if (error instanceof ApiError && error.code === 'unavailable') {
        this.unanswered.set(imageId, saveId);
        throw new ApiError('unavailable', `${error.message} Your objects were not saved yet and are kept in the editor; saving again stores them once.`);
      }
      throw error;
    }
  }

  /** A stale save's words: who saved meanwhile, at which version, and that the labeler's objects are kept. */
  private async conflict(imageId: number, baseVersion: number, error: TeamCallError): Promise<ApiError> {
    const current = error.detail as VersionedAnnotations;
    const activity = await this.client.call<ActivityEntry[]>('activity.list', { imageId }).catch(() => []);
    const saver = activity.filter((entry) => entry.action === 'save').at(-1)?.userName ?? 'someone else';
    const who = saver === this.team.user ? 'you (from another window or view)' : saver;
    return new ApiError('conflict', `image ${imageId} was saved by ${who} meanwhile (version ${current.version}; your edit was based on version ${baseVersion}). Your objects are kept in the editor and were not saved: reload the image to see the stored ones, then save again.`);
  }

  /** The version a review names: the one the reviewer last saw, else the stored one. */
  async reviewVersion(imageId: number): Promise<number> {
    const seen = this.versions.get(imageId);
    if (seen !== undefined) return seen;
    return (await this.client.call<VersionedAnnotations>('annotations.get', { imageId })).version;
  }

  /** The image's content hash (blob links carry it); asks the server for images not seen in a list yet. */
  async hashOf(imageId: number): Promise<string> {
    const known = this.hashes.get(imageId);
    if (known) return known;
    const image = await this.client.call<ImageRecord>('images.get', { id: imageId });
    if (!image.hash) throw new ApiError('not-found', `no image ${imageId}`);
    this.hashes.set(imageId, image.hash);
    return image.hash;
  }

  /** The image's encoded file, from the cache or the server. */
  async imageBytes(imageId: number): Promise<Uint8Array> {
    return this.cached(`image/${imageId}`, async () =>
      new Uint8Array(Buffer.from((await this.client.call<{ data: string }>('images.download', { id: imageId })).data, 'base64')));
  }

  /** The server's thumbnail (JPEG, long side 256, made at upload by the same code as a project file's). */
  thumbnail(imageId: number): Promise<Uint8Array> {
    return this.cached(`thumbnail/${imageId}`, () => this.client.bytes(`thumbnail/${imageId}`));
  }

  /** packEmbedding() bytes of the image's map for the model, or null before a worker has made it (not cached). */
  async embedding(imageId: number, modelId: string): Promise<Uint8Array | null> {
    const key = `embedding/${imageId}/${modelId}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const reply = await this.client.call<{ data: string } | null>('embeddings.get', { imageId, modelId });
    if (!reply) return null;
    const packed = new Uint8Array(Buffer.from(reply.data, 'base64'));
    this.cache.set(key, packed);
    return packed;
  }

  private async cached(key: string, fetch: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const bytes = await fetch();
    this.cache.set(key, bytes);
    return bytes;
  }
}
