/**
 * The image list as the grid sees it: a filter (status, file-name search), a total, and pages of records fetched
 * on demand (api.images.list, offset/limit) for the rows that are on screen. Pages live outside reactivity (a
 * `version` counter tells the grid to re-read) so 10,000 records cost no proxies. Selection is a set of ids plus a
 * focus index and a range anchor (list positions in the current filter).
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ImageRecord, ImageStatus } from '../../../core/api/records';
import { api } from '../api';
import { useHistoryStore } from './history';
import { useSettingsStore } from './settings';
import { translate } from '../i18n/index';
import { onProjectChange } from './projectScope';

export const pageSize = 200;
/** Pages kept in memory; beyond this the ones farthest from the screen are dropped. */
const maxPages = 120;
const apiLimit = 1000;

export const useImagesStore = defineStore('images', () => {
  const status = ref<ImageStatus | null>(null);
  const search = ref('');
  const total = ref(0);
  const loaded = ref(false);
  const loading = ref(false);
  const version = ref(0);
  const selected = shallowRef<ReadonlySet<number>>(new Set());
  const focusIndex = ref(0);
  const anchorIndex = ref(0);
  /** Busy flag for whole-list work (select all, review, remove) that may take over a second on big projects. */
  const busy = ref<string | null>(null);

  const pages = new Map<number, ImageRecord[]>();
  const stale = new Set<number>();
  const inflight = new Map<number, Promise<void>>();
  const latestRequest = new Map<number, number>();
  let requestCounter = 0;
  /** Last known status of every image fetched so far (review undo needs the prior flag). */
  const knownStatus = new Map<number, ImageStatus>();
  let generation = 0;
  let visible = { first: 0, last: 0 };

  const selectedCount = computed(() => selected.value.size);
  const focused = computed(() => itemAt(focusIndex.value));

  function label(key: string, params?: Record<string, string | number>): string {
    return translate(useSettingsStore().language, key, params);
  }

  /** The record at list position `index`, or undefined while its page is loading. Reactive through `version`. */
  function itemAt(index: number): ImageRecord | undefined {
    void version.value;
    return pages.get(Math.floor(index / pageSize))?.[index % pageSize];
  }

  function store(page: number, items: ImageRecord[]): void {
    pages.set(page, items);
    stale.delete(page);
    for (const item of items) knownStatus.set(item.id, item.status);
  }

  function evict(): void {
    if (pages.size <= maxPages) return;
    const center = Math.floor(visible.first / pageSize);
    const byDistance = [...pages.keys()].sort((a, b) => Math.abs(b - center) - Math.abs(a - center));
    for (const page of byDistance.slice(0, pages.size - maxPages)) pages.delete(page);
  }

  function loadPage(page: number): Promise<void> {
    const pending = inflight.get(page);
    if (pending) return pending;
    const mine = generation;
    // Only the newest answer for a page counts: a refresh may overtake a request sent before the data changed.
    const sequence = ++requestCounter;
    latestRequest.set(page, sequence);
    loading.value = true;
    const request = api.images.list({
      status: status.value ?? undefined, search: search.value || undefined, offset: page * pageSize, limit: pageSize,
    }).then((result) => {
      if (mine !== generation || latestRequest.get(page) !== sequence) return;
      store(page, result.items);
      total.value = result.total;
      loaded.value = true;
      evict();
      version.value++;
    }).finally(() => {
      if (inflight.get(page) === request) inflight.delete(page);
      loading.value = inflight.size > 0;
    });
    inflight.set(page, request);
    return request;
  }

  /** The grid reports the list positions on screen (inclusive); missing or stale pages among them are fetched. */
  function ensureRange(first: number, last: number): Promise<void> {
    visible = { first, last };
    const wanted: Promise<void>[] = [];
    const end = Math.max(first, Math.min(last, Math.max(total.value - 1, 0)));
    for (let page = Math.floor(first / pageSize); page <= Math.floor(end / pageSize); page++) {
      if (!pages.has(page) || stale.has(page)) wanted.push(loadPage(page));
    }
    return Promise.all(wanted).then(() => undefined);
  }

  /** Starts over with the current filter: drops every page, the selection stays (ids are stable). */
  function reset(): Promise<void> {
    generation++;
    pages.clear();
    stale.clear();
    inflight.clear();
    latestRequest.clear();
    loaded.value = false;
    focusIndex.value = 0;
    anchorIndex.value = 0;
    version.value++;
    return loadPage(0).catch(() => undefined).then(() => ensureRange(visible.first, visible.last));
  }

  /** Data changed on the main side: refetch what is on screen, mark the rest stale. Keeps showing old data meanwhile. */
  async function refresh(): Promise<void> {
    for (const page of pages.keys()) stale.add(page);
    // Requests already on their way may predate the change: send new ones (their answers win, see loadPage).
    inflight.clear();
    try {
      await ensureRange(visible.first, Math.max(visible.last, visible.first));
      if (pages.size === 0) await loadPage(0);
    } catch {
      // The next poll retries; the grid keeps the previous records.
    }
    if (focusIndex.value >= total.value) focusIndex.value = Math.max(0, total.value - 1);
  }

  function setStatus(value: ImageStatus | null): Promise<void> {
    status.value = value;
    return reset();
  }

  function setSearch(value: string): Promise<void> {
    search.value = value;
    return reset();
  }

  /** Ids at positions [from, to] (inclusive), fetching the pages needed. */
  async function idsBetween(from: number, to: number): Promise<number[]> {
    const [start, end] = from <= to ? [from, to] : [to, from];
    await ensureRangeQuiet(start, end);
    const ids: number[] = [];
    for (let index = start; index <= end && index < total.value; index++) {
      const item = itemAt(index);
      if (item) ids.push(item.id);
    }
    return ids;
  }

  /** Like ensureRange but without moving the remembered visible window; fetches in API-sized chunks. */
  async function ensureRangeQuiet(start: number, end: number): Promise<void> {
    const mine = generation;
    for (let offset = start - (start % pageSize); offset <= end; offset += apiLimit) {
      const missing = [...Array(apiLimit / pageSize).keys()].map((i) => offset / pageSize + i)
        .filter((page) => page * pageSize <= end && (!pages.has(page) || stale.has(page)));
      if (missing.length === 0) continue;
      const first = missing[0], last = missing[missing.length - 1];
      const result = await api.images.list({
        status: status.value ?? undefined, search: search.value || undefined,
        offset: first * pageSize, limit: (last - first + 1) * pageSize,
      });
      if (mine !== generation) return;
      for (let page = first; page <= last; page++) {
        latestRequest.set(page, ++requestCounter);
        store(page, result.items.slice((page - first) * pageSize, (page - first + 1) * pageSize));
      }
      total.value = result.total;
    }
    version.value++;
  }

  /** Click semantics: plain = only this; toggle = ctrl/cmd; range = shift (from the anchor). */
  async function select(index: number, mode: 'replace' | 'toggle' | 'range'): Promise<void> {
    const item = itemAt(index);
    focusIndex.value = index;
    if (mode === 'range') {
      const ids = await idsBetween(anchorIndex.value, index);
      selected.value = new Set([...selected.value, ...ids]);
      return;
    }
    anchorIndex.value = index;
    if (!item) return;
    if (mode === 'toggle') {
      const next = new Set(selected.value);
      if (next.has(item.id)) next.delete(item.id);
      else next.add(item.id);
      selected.value = next;
    } else {
      selected.value = new Set([item.id]);
    }
  }

  async function selectAll(): Promise<void> {
    if (total.value === 0) return;
    busy.value = 'select';
    try {
      selected.value = new Set(await idsBetween(0, total.value - 1));
    } finally {
      busy.value = null;
    }
  }

  function clearSelection(): void {
    selected.value = new Set();
  }

  /** Keyboard focus movement; with `extend` the selection becomes anchor..focus. */
  async function moveFocus(delta: number, extend: boolean): Promise<void> {
    if (total.value === 0) return;
    const index = Math.max(0, Math.min(total.value - 1, focusIndex.value + delta));
    focusIndex.value = index;
    if (extend) {
      selected.value = new Set(await idsBetween(anchorIndex.value, index));
    } else {
      anchorIndex.value = index;
    }
  }

  /** What an action applies to: the selection, else the focused image. */
  function targetIds(): number[] {
    if (selected.value.size > 0) return [...selected.value];
    const item = focused.value;
    return item ? [item.id] : [];
  }

  async function setReviewed(reviewed: boolean): Promise<number> {
    const ids = targetIds();
    if (ids.length === 0) return 0;
    // Only images whose flag actually changes are recorded, so undo restores exactly the previous state.
    const changed = ids.filter((id) => (knownStatus.get(id) === 'reviewed') !== reviewed);
    if (changed.length === 0) return 0;
    busy.value = 'review';
    try {
      await api.images.setReviewed({ ids: changed, reviewed });
    } finally {
      busy.value = null;
    }
    useHistoryStore().record({
      label: label(reviewed ? 'dataset.images.undoReviewed' : 'dataset.images.undoUnreviewed', { count: changed.length }),
      undo: async () => {
        await api.images.setReviewed({ ids: changed, reviewed: !reviewed });
        await refresh();
      },
      redo: async () => {
        await api.images.setReviewed({ ids: changed, reviewed });
        await refresh();
      },
    });
    await refresh();
    return changed.length;
  }

  /** Deletes images with their annotations and embeddings. Not undoable (the caller confirms first). */
  async function remove(ids: number[]): Promise<void> {
    busy.value = 'remove';
    try {
      for (let start = 0; start < ids.length; start += apiLimit) {
        await api.images.remove({ ids: ids.slice(start, start + apiLimit) });
      }
    } finally {
      busy.value = null;
    }
    const next = new Set(selected.value);
    for (const id of ids) next.delete(id);
    selected.value = next;
    await refresh();
  }

  /** Project switched: forget everything and load the first page. */
  onProjectChange((path) => {
    if (path) void resetAll();
    else selected.value = new Set();
  });

  function resetAll(): Promise<void> {
    status.value = null;
    search.value = '';
    total.value = 0;
    knownStatus.clear();
    selected.value = new Set();
    return reset();
  }

  return {
    status, search, total, loaded, loading, version, selected, focusIndex, anchorIndex, busy, selectedCount, focused,
    itemAt, ensureRange, reset, resetAll, refresh, setStatus, setSearch, select, selectAll, clearSelection, moveFocus,
    targetIds, setReviewed, remove,
  };
});
