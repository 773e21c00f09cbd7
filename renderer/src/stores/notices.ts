/**
 * Messages for the user: errors from API calls and short confirmations ("Marked 12 images reviewed — Undo").
 * Info notices fade after a few seconds. Errors stay until dismissed, but not past their cause: an error raised
 * in one view goes when the user moves to another, one about a topic (saving) goes when that topic is fine again
 * (`resolve`), none outlives its project, and the same error twice is shown once (walkthrough 2026-12-05 problem 14: stale, stacked toasts
 * that followed the user to other screens).
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { ApiError } from '../../../core/api/contract';
import { translate } from '../i18n/index';
import { useSettingsStore } from './settings';
import { useViewStore, type ViewName } from './view';
import { onProjectChange } from './projectScope';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  /** Already translated. */
  title: string;
  detail: string | null;
  /** Optional action button, e.g. Undo. */
  action?: { label: string; run: () => void };
  /** What the error is about ('save'): a newer one replaces it, `resolve(topic)` removes it. */
  topic?: string;
  /** The view it was raised in; an error goes when another view shows. Absent: it concerns the whole app. */
  view?: ViewName;
}

let nextId = 1;

/**
 * The readable part of whatever was thrown, in the interface language: the server's stable error codes
 * (core/api/contract.ts ApiError) have plain, translated texts (i18n app.errors); any other code, or an error
 * without one, falls back to its own message.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const key = `app.errors.${error.code}`;
    const text = translate(useSettingsStore().language, key, { detail: error.message });
    return text === key ? error.message : text;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export const useNoticesStore = defineStore('notices', () => {
  const items = ref<Notice[]>([]);
  const view = useViewStore();

  watch(() => view.current, (current) => {
    items.value = items.value.filter((notice) => notice.kind !== 'error' || !notice.view || notice.view === current);
  });
  // What they say and what their buttons do (Undo, Embed all) concern the project they were raised in.
  onProjectChange(() => (items.value = []));

  function push(notice: Omit<Notice, 'id'>, ttlMs = notice.kind === 'error' ? 0 : 5000): number {
    const same = items.value.find((item) => item.kind === notice.kind && item.title === notice.title && item.detail === notice.detail);
    if (same && notice.kind === 'error') return same.id;
    const replaced = notice.topic ? items.value.filter((item) => item.topic !== notice.topic) : items.value;
    const id = nextId++;
    items.value = [...replaced.slice(-4), { ...notice, id }];
    if (ttlMs > 0) setTimeout(() => dismiss(id), ttlMs);
    return id;
  }

  /** An error of the current view (`topic`: see Notice.topic). */
  function error(title: string, cause: unknown, topic?: string): number {
    return push({ kind: 'error', title, detail: cause === '' || cause === null ? null : errorMessage(cause), topic, view: view.current });
  }

  function info(title: string, action?: Notice['action']): number {
    return push({ kind: 'info', title, detail: null, action });
  }

  function dismiss(id: number): void {
    items.value = items.value.filter((notice) => notice.id !== id);
  }

  /** The cause behind `topic` is gone (the save went through): its errors go too. */
  function resolve(topic: string): void {
    if (items.value.some((notice) => notice.topic === topic)) items.value = items.value.filter((notice) => notice.topic !== topic);
  }

  return { items, push, error, info, dismiss, resolve };
});
