/**
 * State that belongs to one project: the class of new objects, selections, filters, search and discovery results,
 * the image the editor shows, dataset undo steps. None of it means anything in another project (a class id there
 * is another class or none: after a switch every new object failed to save with a FOREIGN KEY error, walkthrough
 * 2026-12-05 problem 1). Every store that holds such state registers here, once, in its setup; the project store
 * (the only caller of `leaveProject` / `projectChanged`) runs them whenever the open project changes. A store
 * that is not created yet holds nothing stale, so registering when created is enough.
 *
 * Kept apart from stores/project.ts so a store can register without importing the project store (no cycles).
 */

/** Asked before the open project is closed or replaced; false keeps it open (e.g. annotations that could not be saved). */
export type LeaveGuard = () => Promise<boolean> | boolean;
/** Told after the open project changed; `path` is the new project's, null when none is open. */
export type ProjectReset = (path: string | null) => void;

const guards = new Set<LeaveGuard>();
const resets = new Set<ProjectReset>();

export function onProjectLeave(guard: LeaveGuard): void {
  guards.add(guard);
}

export function onProjectChange(reset: ProjectReset): void {
  resets.add(reset);
}

/** Runs every guard (all of them, so each finishes its work); true when all agree to leave. */
export async function leaveProject(): Promise<boolean> {
  const answers = await Promise.all([...guards].map(async (guard) => guard()));
  return answers.every(Boolean);
}

export function projectChanged(path: string | null): void {
  for (const reset of resets) reset(path);
}
