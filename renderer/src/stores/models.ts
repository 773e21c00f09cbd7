/**
 * The model manager: installed models (with cards), which projects use them, the catalogue, models being added
 * (polled about twice a second while one runs), and the open project's model and switch (refreshed whenever the
 * project's embed jobs move or end, for the status bar).
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { CatalogueEntry, ModelDetails, ModelInstall, ProjectModelState, ProjectModelUsage } from '../../../core/api/models-contract';
import type { JobRecord } from '../../../core/api/records';
import { api } from '../api';
import { useJobsStore } from './jobs';
import { useProjectStore } from './project';
import { onProjectChange } from './projectScope';

const installPollMs = 500;

export const useModelsStore = defineStore('models', () => {
  const models = shallowRef<ModelDetails[]>([]);
  const usage = shallowRef<ProjectModelUsage[]>([]);
  const catalogue = shallowRef<CatalogueEntry[]>([]);
  const installs = ref<ModelInstall[]>([]);
  const active = shallowRef<ProjectModelState | null>(null);
  const loading = ref(false);
  const loadError = ref<unknown>(null);
  /** The model most recently added from this page, once it is listed (the view selects it). */
  const lastAdded = ref<string | null>(null);

  const installing = computed(() => installs.value.some((install) => install.status === 'running'));
  const byId = (id: string | null | undefined) => models.value.find((model) => model.id === id) ?? null;

  let timer: ReturnType<typeof setTimeout> | null = null;

  /** Everything the Models view shows. */
  async function load(): Promise<void> {
    loading.value = true;
    try {
      [models.value, usage.value, catalogue.value, installs.value] = await Promise.all([
        api.models.list(), api.models.usage(), api.models.catalogue(), api.models.installs(),
      ]);
      loadError.value = null;
      await refreshActive();
      if (installing.value) schedule();
    } catch (cause) {
      loadError.value = cause;
    } finally {
      loading.value = false;
    }
  }

  /** The open project's model and switch; null without a project. */
  async function refreshActive(): Promise<void> {
    active.value = useProjectStore().isOpen ? await api.models.active() : null;
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void pollInstalls(), installPollMs);
  }

  async function pollInstalls(): Promise<void> {
    timer = null;
    const before = new Set(installs.value.filter((install) => install.status === 'running').map((install) => install.id));
    try {
      installs.value = await api.models.installs();
    } catch {
      // A missed poll only delays the bar; the next one catches up.
    }
    const ended = installs.value.filter((install) => before.has(install.id) && install.status !== 'running');
    if (ended.length) [models.value, usage.value] = await Promise.all([api.models.list(), api.models.usage()]);
    const added = ended.find((install) => install.status === 'done')?.modelId;
    if (added) lastAdded.value = added;
    if (installing.value) schedule();
  }

  async function add(source: string, replace: boolean): Promise<ModelInstall> {
    const install = await api.models.add({ source, replace });
    installs.value = [install, ...installs.value.filter((item) => item.id !== install.id)];
    schedule();
    return install;
  }

  async function cancelInstall(id: number): Promise<void> {
    await api.models.cancelInstall({ id });
    schedule();
  }

  async function remove(id: string): Promise<void> {
    await api.models.remove({ id });
    [models.value, usage.value] = await Promise.all([api.models.list(), api.models.usage()]);
  }

  /** Starts the switch of the open project to `modelId` (a job the status bar follows). */
  async function use(modelId: string): Promise<JobRecord> {
    const job = await api.models.use({ modelId });
    useJobsStore().track(job);
    await refreshActive();
    return job;
  }

  async function removeEmbeddings(modelId: string): Promise<number> {
    const { removed } = await api.models.removeEmbeddings({ modelId });
    [usage.value] = await Promise.all([api.models.usage(), refreshActive()]);
    return removed;
  }

  /** Follows the open project's embed jobs: a switch's progress while it runs, the new model once it ends. */
  function follow(): void {
    const jobs = useJobsStore();
    if (!models.value.length) void api.models.list().then((list) => (models.value = list), () => undefined);
    watch(() => jobs.active.filter((job) => job.kind === 'embed').map((job) => `${job.id}:${job.done}`).join(), () => void refreshActive().catch(() => undefined));
    watch(() => jobs.lastFinished?.id, async () => {
      await refreshActive().catch(() => undefined);
      usage.value = await api.models.usage().catch(() => usage.value);
    });
    watch(() => useProjectStore().info?.path, () => void refreshActive().catch(() => undefined), { immediate: true });
  }
  onProjectChange(() => (active.value = null));

  return {
    models, usage, catalogue, installs, active, loading, loadError, lastAdded, installing, byId, load, refreshActive, add, cancelInstall, remove, use,
    removeEmbeddings, follow,
  };
});
