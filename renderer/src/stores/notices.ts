/**
 * Messages for the user: errors from API calls and short confirmations ("Marked 12 images reviewed — Undo").
 * Errors stay until dismissed; info notices fade after a few seconds.
 */
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { ApiError } from '../../../core/api/contract';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  /** Already translated. */
  title: string;
  detail: string | null;
  /** Optional action button, e.g. Undo. */
  action?: { label: string; run: () => void };
}

let nextId = 1;

/** The readable part of whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError || error instanceof Error) return error.message;
  return String(error);
}

export const useNoticesStore = defineStore('notices', () => {
  const items = ref<Notice[]>([]);

  function push(notice: Omit<Notice, 'id'>, ttlMs = notice.kind === 'error' ? 0 : 5000): number {
    const id = nextId++;
    items.value = [...items.value.slice(-4), { ...notice, id }];
    if (ttlMs > 0) setTimeout(() => dismiss(id), ttlMs);
    return id;
  }

  function error(title: string, cause: unknown): number {
    return push({ kind: 'error', title, detail: errorMessage(cause) });
  }

  function info(title: string, action?: Notice['action']): number {
    return push({ kind: 'info', title, detail: null, action });
  }

  function dismiss(id: number): void {
    items.value = items.value.filter((notice) => notice.id !== id);
  }

  return { items, push, error, info, dismiss };
});
