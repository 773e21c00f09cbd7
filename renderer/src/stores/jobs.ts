/**
 * Background jobs (import, embed) and the runtime they use. Polls api.jobs.list({ activeOnly: true }) about twice a
 * second while something runs and every few seconds otherwise; when progress moves it asks the image grid and the
 * project counts to refresh (throttled), and once more when a job ends.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { JobRecord, ModelRecord, RuntimeInfo } from '../../../core/api/records';
import { api } from '../api';
import { useProjectStore } from './project';
import { useImagesStore } from './images';
import { useClassesStore } from './classes';
import { errorMessage } from './notices';

const activeIntervalMs = 500;
const idleIntervalMs = 4000;
const refreshThrottleMs = 1000;

export const useJobsStore = defineStore('jobs', () => {
  const active = ref<JobRecord[]>([]);
  /** The most recently finished job (final counts), shown until dismissed or replaced. */
  const lastFinished = ref<JobRecord | null>(null);
  const runtime = shallowRef<RuntimeInfo | null>(null);
  const models = shallowRef<ModelRecord[]>([]);
  const pollError = ref<string | null>(null);

  const running = computed(() => active.value.length > 0);
  const model = computed(() => {
    const id = runtime.value?.defaultModelId;
    return models.value.find((item) => item.id === id) ?? null;
  });

  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastRefresh = 0;
  let progressKey = '';
  let started = false;

  function refreshData(force: boolean): void {
    const now = Date.now();
    if (!force && now - lastRefresh < refreshThrottleMs) return;
    lastRefresh = now;
    void useProjectStore().refresh().catch(() => undefined);
    void useImagesStore().refresh();
  }

  async function loadRuntime(): Promise<void> {
    runtime.value = await api.system.runtime();
    if (models.value.length === 0) models.value = await api.embeddings.models();
  }

  async function poll(): Promise<void> {
    if (!useProjectStore().isOpen) {
      active.value = [];
      return;
    }
    const previous = new Map(active.value.map((job) => [job.id, job]));
    const jobs = await api.jobs.list({ activeOnly: true });
    pollError.value = null;
    const ended = [...previous.keys()].filter((id) => !jobs.some((job) => job.id === id));
    if (ended.length > 0) {
      // Final counts first, so the bar is replaced by the summary in one update.
      const all = await api.jobs.list({ activeOnly: false });
      lastFinished.value = all.filter((job) => ended.includes(job.id)).sort((a, b) => b.id - a.id)[0] ?? lastFinished.value;
      active.value = jobs;
      refreshData(true);
      // A dataset import may have created classes, which the grid and editor colour by.
      if (all.some((job) => ended.includes(job.id) && job.kind === 'dataset-import')) void useClassesStore().load().catch(() => undefined);
      // The provider is only known once the first embedding session exists.
      void loadRuntime().catch(() => undefined);
      return;
    }
    active.value = jobs;
    const key = jobs.map((job) => `${job.id}:${job.done}:${job.failed}:${job.status}`).join(',');
    if (key !== progressKey) {
      progressKey = key;
      if (jobs.length > 0) refreshData(false);
      if (jobs.some((job) => job.kind === 'embed') && !runtime.value?.provider) void loadRuntime().catch(() => undefined);
    }
  }

  function schedule(delay: number): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  async function tick(): Promise<void> {
    try {
      await poll();
    } catch (cause) {
      pollError.value = errorMessage(cause);
    }
    schedule(running.value ? activeIntervalMs : idleIntervalMs);
  }

  /** Starts polling (idempotent) and loads the runtime info. */
  function start(): void {
    if (started) return;
    started = true;
    void loadRuntime().catch((cause) => (pollError.value = errorMessage(cause)));
    void tick();
  }

  /** A job was just queued: show it at once and poll fast. */
  function track(job: JobRecord): void {
    if (!active.value.some((item) => item.id === job.id)) active.value = [...active.value, job];
    schedule(0);
  }

  async function cancel(id: number): Promise<void> {
    await api.jobs.cancel({ id });
    schedule(0);
  }

  function dismissFinished(): void {
    lastFinished.value = null;
  }

  return { active, lastFinished, runtime, models, model, pollError, running, start, track, cancel, dismissFinished, loadRuntime };
});
