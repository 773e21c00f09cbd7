/**
 * Undo/redo for dataset-level changes (review flags, class edits). Each entry knows how to put the data back
 * and how to re-apply it, through the API. The Annotate view keeps its own history for masks.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { onProjectChange } from './projectScope';

export interface HistoryEntry {
  /** Translated description, shown in the Undo notice and tooltips. */
  label: string;
  undo: () => Promise<void>;
  redo: () => Promise<void>;
}

const limit = 100;

export const useHistoryStore = defineStore('history', () => {
  const done = ref<HistoryEntry[]>([]);
  const undone = ref<HistoryEntry[]>([]);
  /** Undo / redo steps queued or running (see enqueue). */
  const steps = ref(0);
  const busy = computed(() => steps.value > 0);

  const canUndo = computed(() => done.value.length > 0 && !busy.value);
  const canRedo = computed(() => undone.value.length > 0 && !busy.value);

  function record(entry: HistoryEntry): void {
    done.value = [...done.value.slice(-(limit - 1)), entry];
    undone.value = [];
  }

  // Undo and redo run one after another: a second Ctrl+Z pressed while the first is still talking to the main
  // process waits for it instead of being dropped.
  let queue: Promise<unknown> = Promise.resolve();

  function enqueue(step: () => Promise<string | null>): Promise<string | null> {
    steps.value++;
    const next = queue.then(step).finally(() => steps.value--);
    queue = next.catch(() => undefined);
    return next;
  }

  /** Undoes the latest change; returns its label, or null when there was nothing to undo. Throws API errors. */
  function undo(): Promise<string | null> {
    return enqueue(async () => {
      const entry = done.value.at(-1);
      if (!entry) return null;
      await entry.undo();
      done.value = done.value.slice(0, -1);
      undone.value = [...undone.value, entry];
      return entry.label;
    });
  }

  function redo(): Promise<string | null> {
    return enqueue(async () => {
      const entry = undone.value.at(-1);
      if (!entry) return null;
      await entry.redo();
      undone.value = undone.value.slice(0, -1);
      done.value = [...done.value, entry];
      return entry.label;
    });
  }

  /** Entries refer to one project's ids; forget them when the project changes. */
  function clear(): void {
    done.value = [];
    undone.value = [];
  }

  // Its steps call the API of the project they were made in.
  onProjectChange(() => clear());

  return { done, undone, busy, canUndo, canRedo, record, undo, redo, clear };
});
