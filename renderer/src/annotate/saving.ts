/**
 * Autosave across images: one Saver for the open image; when the editor moves on while a save is still pending
 * or failing, that Saver keeps working in the background (retrying) until its image is stored, so switching
 * images never drops work. The page's unload is held (beforeunload) while anything is unsaved.
 */
import { ref } from 'vue';
import type { AnnotationDraft } from '../../../core/api/records';
import type { ObjectState } from './history';
import { type SaveState, Saver } from './saver';

export function useAnnotateSaving() {
  const saveState = ref<SaveState>('saved');
  const saveError = ref<string | null>(null);
  /** Savers of images left with unsaved work, until they succeed. */
  const backgroundFailures = ref(0);
  let saver: Saver | null = null;
  const background = new Set<Saver>();

  function onChange(changed: Saver): void {
    if (changed === saver) {
      saveState.value = changed.state;
      saveError.value = changed.error;
    } else if (!changed.dirty && changed.state === 'saved') {
      background.delete(changed);
      changed.dispose();
    }
    backgroundFailures.value = [...background].filter((item) => item.state === 'error').length;
  }

  /** Lets go of the current image's saver (it finishes in the background when it has unsaved work). */
  function detachSaver(): void {
    if (saver?.dirty) background.add(saver);
    else saver?.dispose();
    saver = null;
    saveState.value = 'saved';
    saveError.value = null;
  }

  /** Starts saving image `imageId`, whose stored objects have the given database ids (by editor uid). */
  function startSaving(imageId: number, ids: Map<number, number>): void {
    detachSaver();
    saver = new Saver(imageId, ids, onChange);
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
    saveState, saveError, backgroundFailures, detachSaver, startSaving, scheduleSave, flushSaves, hasUnsaved, unsavedBodies, savedIdOf,
  };
}
