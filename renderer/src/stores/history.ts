/**
 * Undo/redo for dataset-level changes (review flags, class edits). Each entry knows how to put the data back
 * and how to re-apply it, through the API. The Annotate view keeps its own history for masks.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

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
  const busy = ref(false);

  const canUndo = computed(() => done.value.length > 0 && !busy.value);
  const canRedo = computed(() => undone.value.length > 0 && !busy.value);

  function record(entry: HistoryEntry): void {
    done.value = [...done.value.slice(-(limit - 1)), entry];
    undone.value = [];
  }

  /** Undoes the latest change; returns its label, or null when there was nothing to undo. Throws API errors. */
  async function undo(): Promise<string | null> {
    const entry = done.value.at(-1);
    if (!entry || busy.value) return null;
    busy.value = true;
    try {
      await entry.undo();
      done.value = done.value.slice(0, -1);
      undone.value = [...undone.value, entry];
      return entry.label;
    } finally {
      busy.value = false;
    }
  }

  async function redo(): Promise<string | null> {
    const entry = undone.value.at(-1);
    if (!entry || busy.value) return null;
    busy.value = true;
    try {
      await entry.redo();
      undone.value = undone.value.slice(0, -1);
      done.value = [...done.value, entry];
      return entry.label;
    } finally {
      busy.value = false;
    }
  }

  /** Entries refer to one project's ids; forget them when the project changes. */
  function clear(): void {
    done.value = [];
    undone.value = [];
  }

  return { done, undone, busy, canUndo, canRedo, record, undo, redo, clear };
});
