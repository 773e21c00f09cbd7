/**
 * Autosave for one image's objects: every committed change is scheduled, saved ~300 ms after the last one
 * through api.annotations.save (which replaces the image's objects in one transaction), one request at a time.
 * A failed save keeps the unsaved state, reports `error` and retries by itself every few seconds; `flush()` saves
 * now and resolves only when everything scheduled is stored (or throws the error).
 *
 * On a team project two refusals are not retried, since a retry would not be the labeler's choice: 'conflict'
 * (someone saved the image since it was loaded; the main side then knows the newer version, so a plain retry would
 * overwrite it) and 'leased' (someone else holds the image). The saver stops there, keeping the unsaved state,
 * until the labeler decides: `resume()` saves over it (Keep mine, or the image is held again), `adopt()` takes the
 * stored version instead (Load their version).
 */
import { ApiError } from '../../../core/api/contract';
import type { AnnotationDraft } from '../../../core/api/records';
import { api } from '../api';
import type { ObjectState } from './history';

export type SaveState = 'saved' | 'pending' | 'saving' | 'error' | 'conflict' | 'leased';

/** Error codes that stop the saver until the labeler decides (see above); 'lease-required': the lease ran out. */
const stopping = new Map<string, 'conflict' | 'leased'>([['conflict', 'conflict'], ['leased', 'leased'], ['lease-required', 'leased']]);

export const saveDebounceMs = 300;
const retryMs = 5000;

export class Saver {
  /** Database id of each object (by editor uid) as of the last successful save. */
  private ids: Map<number, number>;
  private unsaved: readonly ObjectState[] | null = null;
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  state: SaveState = 'saved';
  /** What the last failed save threw (an ApiError from the server, or a network error); null after a success. */
  error: unknown = null;
  /** Set by a refusal that is not retried ('conflict', 'leased'): nothing is sent until resume() or adopt(). */
  stopped: 'conflict' | 'leased' | null = null;

  constructor(readonly imageId: number, ids: Map<number, number>, private readonly onChange: (saver: Saver) => void) {
    this.ids = new Map(ids);
  }

  get dirty(): boolean {
    return this.unsaved !== null || this.state === 'saving';
  }

  /** Database id of object `uid` while nothing is unsaved (a pending save may still replace it), else undefined. */
  savedId(uid: number): number | undefined {
    return this.dirty ? undefined : this.ids.get(uid);
  }

  /** Records `objects` as the state to store, saved after the debounce delay. */
  schedule(objects: readonly ObjectState[]): void {
    this.unsaved = objects;
    if (this.stopped) return; // kept for when the labeler decides
    if (this.state !== 'error') this.setState('pending');
    this.arm(saveDebounceMs);
  }

  /** Saves whatever is scheduled now; resolves when all of it is stored, throws when a save fails. */
  async flush(): Promise<void> {
    this.disarm();
    if (this.stopped) throw this.error;
    while (this.unsaved !== null || this.running !== null) {
      if (!this.running) this.running = this.run().finally(() => (this.running = null));
      await this.running;
    }
  }

  /** The request body for the scheduled state, or null when nothing is unsaved (for keepalive on unload). */
  pendingBody(): { imageId: number; annotations: AnnotationDraft[] } | null {
    return this.unsaved ? { imageId: this.imageId, annotations: this.drafts(this.unsaved) } : null;
  }

  /** The objects not stored yet, as the editor last showed them (null when everything is stored). */
  unsavedObjects(): readonly ObjectState[] | null {
    return this.unsaved;
  }

  /** The class ids the unsaved objects refer to. */
  unsavedClassIds(): Set<number> {
    return new Set((this.unsaved ?? []).flatMap((object) => (object.classId === null ? [] : [object.classId])));
  }

  /** Classes that no longer exist: the unsaved objects of those classes get none, and the save is tried again now. */
  dropClasses(gone: ReadonlySet<number>): void {
    if (!this.unsaved) return;
    this.unsaved = this.unsaved.map((object) => (object.classId !== null && gone.has(object.classId) ? { ...object, classId: null } : object));
    this.arm(0);
  }

  /**
   * Saves the unsaved state again after a stop (Keep mine; or the image is held again). `stored`: the ids the image
   * holds now (after a conflict); objects whose ids it no longer has are written as new ones.
   */
  resume(stored?: ReadonlySet<number>): Promise<void> {
    this.stopped = null;
    if (stored) this.ids = new Map([...this.ids].filter(([, id]) => stored.has(id)));
    if (this.unsaved === null) {
      this.setState('saved');
      return Promise.resolve();
    }
    this.setState('pending');
    return this.flush();
  }

  /** Drops the unsaved state for what is stored (Load their version): `ids` of the stored objects by editor uid. */
  adopt(ids: Map<number, number>): void {
    this.disarm();
    this.stopped = null;
    this.unsaved = null;
    this.ids = new Map(ids);
    this.error = null;
    this.setState('saved');
  }

  dispose(): void {
    this.disarm();
  }

  private drafts(objects: readonly ObjectState[]): AnnotationDraft[] {
    return objects.map((object, index) => ({
      id: this.ids.get(object.uid),
      classId: object.classId,
      rle: { size: [object.rle.size[0], object.rle.size[1]], counts: object.rle.counts },
      score: object.score,
      order: index,
      visible: object.visible,
      source: object.source,
    }));
  }

  private async run(): Promise<void> {
    const objects = this.unsaved;
    if (!objects) return;
    this.unsaved = null;
    this.setState('saving');
    try {
      const records = await api.annotations.save({ imageId: this.imageId, annotations: this.drafts(objects) });
      // Records come back in drawing order, which is the order sent: map editor uids to the stored ids.
      const ids = new Map<number, number>();
      if (records.length === objects.length) objects.forEach((object, index) => ids.set(object.uid, records[index].id));
      this.ids = ids;
      this.error = null;
      this.setState(this.unsaved ? 'pending' : 'saved');
      if (this.unsaved) this.arm(0);
    } catch (error) {
      this.unsaved ??= objects;
      this.error = error;
      this.stopped = error instanceof ApiError ? stopping.get(error.code) ?? null : null;
      this.setState(this.stopped ?? 'error');
      if (!this.stopped) this.arm(retryMs);
      throw error;
    }
  }

  private arm(delay: number): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => undefined); // the error is in `state`/`error`, shown by the editor
    }, delay);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private setState(state: SaveState): void {
    this.state = state;
    this.onChange(this);
  }
}
