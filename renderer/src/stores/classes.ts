/** The project's label classes (name + colour). Edits are undoable; deleting is confirmed by the caller. */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ClassRecord } from '../../../core/api/records';
import { api } from '../api';
import { useHistoryStore } from './history';
import { translate } from '../i18n/index';
import { useSettingsStore } from './settings';
import { useNoticesStore } from './notices';
import { onProjectChange } from './projectScope';

/** Distinct, readable on dark backgrounds; new classes take the first colour not yet used. */
export const classPalette = [
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#42d4f4', '#f032e6', '#bfef45',
  '#fabed4', '#469990', '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3', '#000075',
];

export const useClassesStore = defineStore('classes', () => {
  const items = ref<ClassRecord[]>([]);
  const loading = ref(false);

  const byId = computed(() => new Map(items.value.map((item) => [item.id, item])));

  function label(key: string, params?: Record<string, string | number>): string {
    return translate(useSettingsStore().language, key, params);
  }

  // Another project, another set of classes: none shown until they are loaded.
  onProjectChange((path) => {
    items.value = [];
    if (path) load().catch((cause) => useNoticesStore().error(label('dataset.classes.loadFailed'), cause));
  });

  async function load(): Promise<void> {
    loading.value = true;
    try {
      items.value = await api.classes.list();
    } finally {
      loading.value = false;
    }
  }

  function nextColor(): string {
    const used = new Set(items.value.map((item) => item.color.toLowerCase()));
    return classPalette.find((color) => !used.has(color)) ?? classPalette[items.value.length % classPalette.length];
  }

  async function create(name: string, color = nextColor()): Promise<ClassRecord> {
    const created = await api.classes.create({ name, color });
    items.value = [...items.value, created];
    // Undo removes it; redo creates it again (with a new id: nothing can refer to it yet from this view).
    let current = created;
    useHistoryStore().record({
      label: label('dataset.classes.undoAdd', { name }),
      undo: async () => {
        await api.classes.remove({ id: current.id });
        items.value = items.value.filter((item) => item.id !== current.id);
      },
      redo: async () => {
        current = await api.classes.create({ name: current.name, color: current.color });
        items.value = [...items.value, current];
      },
    });
    return created;
  }

  async function apply(id: number, patch: { name?: string; color?: string }): Promise<void> {
    const updated = await api.classes.update({ id, ...patch });
    items.value = items.value.map((item) => (item.id === id ? updated : item));
  }

  async function update(id: number, patch: { name?: string; color?: string }): Promise<void> {
    const before = byId.value.get(id);
    if (!before) return;
    await apply(id, patch);
    const previous = { name: before.name, color: before.color };
    useHistoryStore().record({
      label: label(patch.name !== undefined ? 'dataset.classes.undoRename' : 'dataset.classes.undoRecolor', { name: before.name }),
      undo: () => apply(id, previous),
      redo: () => apply(id, patch),
    });
  }

  async function remove(id: number): Promise<void> {
    await api.classes.remove({ id });
    items.value = items.value.filter((item) => item.id !== id);
  }

  return { items, loading, byId, load, nextColor, create, update, remove };
});
