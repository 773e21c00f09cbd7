/**
 * One process at a time per project. Two processes on one project file would both run its job queue (the same
 * import twice) and the second would end the first's dataset jobs as "interrupted", so opening takes a lock file
 * beside the project (`<project>.lock`: pid, host, time) and a second process is refused with who holds it.
 * A lock whose process is gone (a crash, a kill) is taken over; one from another host is left to the user, who
 * is told which file to delete. Opens within one process share the lock (reopening the same project).
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { ApiError } from '../../core/api/contract';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Open count per lock file held by this process. */
const held = new Map<string, number>();

export function lockPath(projectPath: string): string {
  return `${projectPath}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to another user
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === 'string' ? owner : null;
  } catch {
    return null; // unreadable or half-written: treated as stale
  }
}

function create(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ApiError('read-only',
        `cannot write in the project's folder (${code}): Pixelwise keeps its journal and lock files beside the project, so the folder must be writable`);
    }
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() } satisfies LockOwner));
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Takes the lock for `projectPath` (absolute) or throws ApiError 'in-use' naming the process that holds it. */
export function acquireProjectLock(projectPath: string): void {
  const path = lockPath(projectPath);
  const count = held.get(path);
  if (count) {
    held.set(path, count + 1);
    return;
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    if (create(path)) {
      held.set(path, 1);
      return;
    }
    const owner = readOwner(path);
    const stale = !owner || (owner.host === hostname() && (owner.pid === process.pid || !alive(owner.pid)));
    if (!stale) {
      throw new ApiError('in-use',
        `${projectPath} is open in another Pixelwise process (pid ${owner.pid} on ${owner.host}, since ${owner.since}). ` +
        `Close it there first; if that process no longer runs, delete ${path}.`);
    }
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new ApiError('in-use', `${projectPath}: another process keeps taking its lock file ${path}`);
}

/** Gives back one open's share of the lock; the file goes with the last one (if it is still ours). */
export function releaseProjectLock(projectPath: string): void {
  const path = lockPath(projectPath);
  const count = held.get(path) ?? 0;
  if (count > 1) {
    held.set(path, count - 1);
    return;
  }
  held.delete(path);
  if (count === 0 || readOwner(path)?.pid !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to give back
  }
}
