/**
 * Autosave across images: one Saver for the open image; when the editor moves on while a save is still pending
 * or failing, that Saver keeps working in the background (retrying) until its image is stored, so switching
 * images never drops work. The page's unload is held (beforeunload) while anything is unsaved, and the project is
 * not closed or switched before everything is stored (savers send image ids, which mean other images in another
 * project).
 *
 * A failed save is checked against the project's classes: an object whose class no longer exists (deleted in
 * another window, or a class id from a project open before) can never be stored, so retrying alone would fail
 * forever. Such objects lose the class (`dropClasses` updates the editor, which saves again) and a notice names
 * the class and asks for another one.
 */
import { ref } from 'vue';
import type { AnnotationDraft } from '../../../core/api/records';
import type { ObjectState } from './history';
import { type SaveState, Saver } from './saver';
import { useClassesStore } from '../stores/classes';
import { errorMessage, useNoticesStore } from '../stores/notices';
import { useSettingsStore } from '../stores/settings';
import { onProjectChange } from '../stores/projectScope';
import { translate } from '../i18n/index';

export interface SavingOptions {
  /** The open image's objects of these classes lose their class (and new objects do not get it). */
  dropClasses: (gone: ReadonlySet<number>) => void;
}

export function useAnnotateSaving(options: SavingOptions) {
  const saveState = ref<SaveState>('saved');
  const saveError = ref<string | null>(null);
  /** Savers of images left with unsaved work, until they succeed. */
  const backgroundFailures = ref(0);
  let saver: Saver | null = null;
  const background = new Set<Saver>();

  const classes = useClassesStore();
  const notices = useNoticesStore();

  function onChange(changed: Saver): void {
    if (changed === saver) {
      saveState.value = changed.state;
      saveError.value = changed.error === null ? null : errorMessage(changed.error);
    } else if (!changed.dirty && changed.state === 'saved') {
      background.delete(changed);
      changed.dispose();
    }
    backgroundFailures.value = [...background].filter((item) => item.state === 'error' || item.stopped !== null).length;
    if (changed.state === 'error') void checkClasses(changed);
    if (saveState.value === 'saved' && backgroundFailures.value === 0) notices.resolve('save');
  }

  /** After a failed save: objects of classes that are gone lose them, so the next save can succeed. */
  async function checkClasses(failed: Saver): Promise<void> {
    const wanted = failed.unsavedClassIds();
    if (wanted.size === 0) return;
    const before = new Map(classes.byId);
    try {
      await classes.load();
    } catch {
      return; // the server is unreachable: the saver's own retry covers it
    }
    const gone = new Set([...wanted].filter((id) => !classes.byId.has(id)));
    if (gone.size === 0) return;
    if (failed === saver) options.dropClasses(gone);
    else failed.dropClasses(gone);
    const names = [...gone].flatMap((id) => before.get(id)?.name ?? []);
    const language = useSettingsStore().language;
    notices.push({
      kind: 'info',
      title: names.length > 0
        ? translate(language, 'annotate.save.classGone', { name: names.join(', ') })
        : translate(language, 'annotate.save.classGoneUnnamed'),
      detail: null,
    }, 15_000);
  }

  /** Lets go of the current image's saver (it finishes in the background when it has unsaved work). */
  function detachSaver(): void {
    if (saver?.dirty) background.add(saver);
    else saver?.dispose();
    saver = null;
    saveState.value = 'saved';
    saveError.value = null;
  }

  /** True once image `imageId`'s objects left behind are stored (at once when nothing is unsaved), false when they cannot be yet. */
  async function whenStored(imageId: number): Promise<boolean> {
    const pending = [...background].filter((item) => item.imageId === imageId && item.dirty);
    const results = await Promise.all(pending.map((item) => item.flush().then(() => true, () => false)));
    return results.every(Boolean);
  }

  /**
   * Starts saving image `imageId`, whose stored objects have the given database ids (by editor uid). When the
   * image was left with a save stopped by a conflict or a lease (it waits for the labeler's choice), that saver
   * comes back instead and its unsaved objects are returned: the editor shows them, with the choice, rather than
   * the stored ones (a stopped saver left in the background would otherwise hold the project open for good).
   */
  function startSaving(imageId: number, ids: Map<number, number>): readonly ObjectState[] | null {
    detachSaver();
    const stopped = [...background].find((item) => item.imageId === imageId && item.stopped !== null);
    if (stopped) background.delete(stopped);
    saver = stopped ?? new Saver(imageId, ids, onChange);
    onChange(saver);
    return stopped?.unsavedObjects() ?? null;
  }

  /** After a stopped save (conflict, lease): save this image's objects over what is stored (Keep mine). */
  async function resumeSaving(stored?: ReadonlySet<number>): Promise<boolean> {
    try {
      await saver?.resume(stored);
      return true;
    } catch {
      return false;
    }
  }

  /** The stored version replaces the unsaved one (Load their version): `ids` of its objects by editor uid. */
  function adoptStored(ids: Map<number, number>): void {
    saver?.adopt(ids);
  }

  /** Why this image's saving stopped, when it did ('conflict', 'leased'), else null. */
  function stoppedBy(): 'conflict' | 'leased' | null {
    return saver?.stopped ?? null;
  }

  function scheduleSave(objects: readonly ObjectState[]): void {
    saver?.schedule(objects);
  }

  /**
   * Saves everything pending now (this image and any left behind); true when this image's state is stored
   * (images left behind keep retrying on their own and do not hold the caller up).
   */
  async function flushSaves(): Promise<boolean> {
    for (const item of background) item.flush().catch(() => undefined);
    try {
      await saver?.flush();
      return true;
    } catch {
      return false;
    }
  }

  /** Saves everything unsaved, this image's and those left behind; true when all of it is stored. */
  async function flushAll(): Promise<boolean> {
    const results = await Promise.all([saver, ...background].map((item) => item?.flush().then(() => true, () => false) ?? true));
    return results.every(Boolean);
  }

  // Another project: nothing left here may be sent there (the project store saves everything before it switches).
  onProjectChange(() => {
    detachSaver();
    for (const item of background) item.dispose();
    background.clear();
    backgroundFailures.value = 0;
  });

  function hasUnsaved(): boolean {
    return Boolean(saver?.dirty) || [...background].some((item) => item.dirty);
  }

  /** Request bodies for everything unsaved, for a last keepalive request when the page goes away. */
  function unsavedBodies(): Array<{ imageId: number; annotations: AnnotationDraft[] }> {
    return [saver, ...background].flatMap((item) => {
      const body = item?.pendingBody();
      return body ? [body] : [];
    });
  }

  /** The stored id of the open image's object `uid`, when it is saved as shown. */
  function savedIdOf(uid: number): number | undefined {
    return saver?.savedId(uid);
  }

  return {
    saveState, saveError, backgroundFailures, detachSaver, startSaving, scheduleSave, flushSaves, flushAll, hasUnsaved, unsavedBodies, savedIdOf,
    resumeSaving, adoptStored, stoppedBy, whenStored,
  };
}
