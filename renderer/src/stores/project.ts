/**
 * The open project (ProjectInfo: name, path, image and status counts) and the recent-projects list.
 * Opening, creating and closing go through here: before the project changes the stores' leave guards run (unsaved
 * annotations are stored first), after it changes every store resets its per-project state (stores/projectScope.ts).
 * A team project (info.team) is opened with a server address and an account; `capabilities` says, for every view,
 * what the open project offers and why not (team/capabilities.ts).
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ProjectInfo, RecentProject } from '../../../core/api/records';
import { ApiError } from '../../../core/api/contract';
import { api } from '../api';
import { useViewStore } from './view';
import { errorMessage, useNoticesStore } from './notices';
import { leaveProject, projectChanged } from './projectScope';
import { translate } from '../i18n/index';
import { useSettingsStore } from './settings';
import { capabilitiesOf } from '../team/capabilities';

export interface ProjectError {
  /** ApiError code ('not-a-project', 'newer-version', 'missing', 'exists', 'in-use', 'read-only', ...) or 'error'. */
  code: string;
  message: string;
}

export const useProjectStore = defineStore('project', () => {
  const info = ref<ProjectInfo | null>(null);
  const recent = ref<RecentProject[]>([]);
  /** Which action is running ('create', 'open', 'sample', 'close', 'team'), for button spinners; null when idle. */
  const busy = ref<string | null>(null);
  const error = ref<ProjectError | null>(null);
  /** Set once the first `current()` answer arrived, so the shell does not flash the projects view on reload. */
  const ready = ref(false);

  const isOpen = computed(() => info.value !== null);
  /** Who is signed in where, for a team project; null for a project file (or none open). */
  const team = computed(() => info.value?.team ?? null);
  const capabilities = computed(() => capabilitiesOf(team.value));

  /** The one place `info` changes: a different project (or none) resets every store's per-project state. */
  function setInfo(next: ProjectInfo | null): void {
    const changed = (info.value?.path ?? null) !== (next?.path ?? null);
    info.value = next;
    if (changed) projectChanged(next?.path ?? null);
  }

  /** Work in the open project is stored before it closes; false (and a notice) when something could not be. */
  async function readyToLeave(): Promise<boolean> {
    const notices = useNoticesStore();
    if (!info.value || (await leaveProject())) {
      notices.resolve('leave');
      return true;
    }
    const language = useSettingsStore().language;
    notices.push({ kind: 'error', title: translate(language, 'app.leaveUnsaved'), detail: null, topic: 'leave' });
    return false;
  }

  async function refresh(): Promise<void> {
    // Another window may have opened another project on the same server.
    setInfo(await api.projects.current());
    ready.value = true;
    const view = useViewStore();
    if (!info.value && view.current !== 'projects') view.show('projects');
  }

  async function loadRecent(): Promise<void> {
    recent.value = await api.projects.recent();
  }

  async function run(action: string, call: () => Promise<ProjectInfo>): Promise<boolean> {
    if (busy.value) return false;
    busy.value = action;
    error.value = null;
    try {
      if (!(await readyToLeave())) return false;
      setInfo(await call());
      useViewStore().show('images');
      void loadRecent().catch(() => undefined);
      return true;
    } catch (cause) {
      error.value = { code: cause instanceof ApiError ? cause.code : 'error', message: errorMessage(cause) };
      return false;
    } finally {
      busy.value = null;
    }
  }

  const create = (path: string) => run('create', () => api.projects.create({ path }));
  const open = (path: string) => run('open', () => api.projects.open({ path }));
  const openSample = () => run('sample', () => api.projects.openSample());
  /** Signs in on a team server and opens its project (the password goes to the main side only, never stored here). */
  const openTeam = (login: { server: string; user: string; password: string }) => run('team', () => api.team.open(login));
  /** Any other way to get a project open (an unpacked bundle): same busy flag, errors and view switch. */
  const openWith = (action: string, call: () => Promise<ProjectInfo>) => run(action, call);

  async function close(): Promise<void> {
    if (busy.value) return;
    busy.value = 'close';
    try {
      if (!(await readyToLeave())) return;
      await api.projects.close();
      setInfo(null);
      useViewStore().show('projects');
      await loadRecent();
    } finally {
      busy.value = null;
    }
  }

  return {
    info, recent, busy, error, ready, isOpen, team, capabilities, refresh, loadRecent, create, open, openSample, openTeam, openWith, close,
  };
});
