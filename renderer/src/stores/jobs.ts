/**
 * Background jobs (import, embed) and the runtime they use. Polls api.jobs.list({ activeOnly: true }) about twice a
 * second while something runs and every few seconds otherwise; when progress moves it asks the image grid and the
 * project counts to refresh (throttled), and once more when a job ends.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
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
  /** Files the last finished image import skipped, by reason (its result; electron/jobs/import-job.ts), or null. */
  const importSkips = computed(() => {
    const job = lastFinished.value;
    if (job?.kind !== 'import' || !job.result) return null;
    const { alreadyInProject = 0, sameContent = 0 } = job.result as { alreadyInProject?: number; sameContent?: number };
    return alreadyInProject + sameContent > 0 ? { alreadyInProject, sameContent } : null;
  });
  const model = computed(() => {
    const id = runtime.value?.defaultModelId;
    return models.value.find((item) => item.id === id) ?? null;
  });

  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastRefresh = 0;
  let progressKey = '';
  let started = false;
  /** Jobs that finished after the studio page was opened count as news even on a project's first poll. */
  const openedAt = Date.now() - 60_000;

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

  /** Finished jobs already accounted for (`id:finishedAt`), per project; null until the first poll of a project. */
  let knownFinished: Set<string> | null = null;
  let knownProject: string | null = null;

  async function poll(): Promise<void> {
    const project = useProjectStore();
    if (!project.isOpen) {
      active.value = [];
      return;
    }
    if (project.info?.path !== knownProject) {
      // Another project: its jobs are not this one's, nor is the last finished one the status bar shows.
      knownProject = project.info?.path ?? null;
      knownFinished = null;
      lastFinished.value = null;
      active.value = [];
    }
    // The recent jobs, not only the active ones: a job can start and finish between two polls (the sample project's
    // import does), and the grid must still learn that something changed.
    const all = await api.jobs.list({ activeOnly: false });
    pollError.value = null;
    const jobs = all.filter((job) => job.status === 'queued' || job.status === 'running').sort((a, b) => a.id - b.id);
    const finished = all.filter((job) => job.finishedAt !== null);
    const fresh = finished.filter((job) => !knownFinished?.has(`${job.id}:${job.finishedAt}`));
    const firstPoll = knownFinished === null;
    knownFinished = new Set(finished.map((job) => `${job.id}:${job.finishedAt}`));
    active.value = jobs;
    if (fresh.length > 0 && (!firstPoll || fresh.some((job) => Date.parse(job.finishedAt!) > openedAt))) {
      // Final counts: the summary replaces the bar in one update.
      lastFinished.value = [...fresh].sort((a, b) => b.id - a.id)[0];
      refreshData(true);
      // A dataset import may have created classes, which the grid and editor colour by.
      if (fresh.some((job) => job.kind === 'dataset-import')) void useClassesStore().load().catch(() => undefined);
      // The provider is only known once the first embedding session exists.
      void loadRuntime().catch(() => undefined);
      return;
    }
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
    // Another project: the last one's jobs and summary go at once, not at the next idle poll (up to 4 s later).
    watch(() => useProjectStore().info?.path, () => {
      active.value = [];
      lastFinished.value = null;
      schedule(0);
    });
    void loadRuntime().catch((cause) => (pollError.value = errorMessage(cause)));
    void tick();
  }

  /** A job was just queued: show it at once and poll fast. */
  function track(job: JobRecord): void {
    if (!active.value.some((item) => item.id === job.id)) active.value = [...active.value, job];
    schedule(0);
  }

  /** Something outside the store saw a job change (a dialog following its own job): poll now. */
  function refresh(): void {
    schedule(0);
  }

  async function cancel(id: number): Promise<void> {
    await api.jobs.cancel({ id });
    refresh();
  }

  function dismissFinished(): void {
    lastFinished.value = null;
  }

  return { active, lastFinished, importSkips, runtime, models, model, pollError, running, start, track, refresh, cancel, dismissFinished, loadRuntime };
});
