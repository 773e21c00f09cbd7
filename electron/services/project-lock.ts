/**
 * One process at a time per project. Two processes on one project file would both run its job queue (the same
 * import twice) and the second would end the first's dataset jobs as "interrupted", so opening takes a lock file
 * beside the project (`<project>.lock`: pid, host, time) and a second process is refused with who holds it.
 * A lock whose process is gone (a crash, a kill) is taken over; one from another host is left to the user, who
 * is told which file to delete. Opens within one process share the lock (reopening the same project).
 *
 * The lock follows the file, not the name it was opened by (audit F12): the lock file sits beside the real
 * path (symlinks resolved), and a second lock named by its device and inode, in the system's temporary folder,
 * catches hard links (several real paths for one file). A lock records the file it was taken for; once that file
 * is deleted or replaced the lock is stale, so a new file that reuses the inode is not refused.
 */
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ApiError } from '../../core/api/contract';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /**
   * The project file the lock stands for: its real path, device and inode when it existed at lock time. A file
   * deleted or replaced since (an inode is reused by the next file created) no longer holds the lock, even while
   * its holder runs.
   */
  file?: { path: string; dev: number; ino: number };
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

function create(path: string, file: LockOwner['file']): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') throw new ApiError('not-found', `the folder ${dirname(path)} does not exist`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ApiError('read-only',
        `cannot write in the project's folder (${code}): Pixelwise keeps its journal and lock files beside the project, so the folder must be writable`);
    }
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), file } satisfies LockOwner));
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The file's real path: symlinks resolved (for a file not created yet, its folder's). */
function realPath(projectPath: string): string {
  try {
    return realpathSync(projectPath);
  } catch {
    try {
      return join(realpathSync(dirname(projectPath)), basename(projectPath));
    } catch {
      return projectPath;
    }
  }
}

/** The file's real path with its device and inode, or undefined while it does not exist (a new project). */
function identity(real: string): LockOwner['file'] {
  try {
    const { dev, ino } = statSync(real);
    return { path: real, dev, ino };
  } catch {
    return undefined;
  }
}

/** Whether the file a lock was taken for is still there under its recorded path (not deleted or replaced). */
function stillThere(file: NonNullable<LockOwner['file']>): boolean {
  const now = identity(file.path);
  return now !== undefined && now.dev === file.dev && now.ino === file.ino;
}

/**
 * The lock files that stand for the project file: one beside its real path, and one named by its device and
 * inode, which any other hard link to it also leads to (taken whenever the file exists, so a link made while the
 * project is open is covered too). The second lives in the shared temporary folder; where that folder cannot be
 * written, the first alone is used.
 */
function lockFiles(real: string, file: LockOwner['file']): string[] {
  const files = [lockPath(real)];
  if (!file) return files; // a new project: no inode yet, no other names
  try {
    const dir = join(tmpdir(), 'pixelwise-locks');
    mkdirSync(dir, { recursive: true });
    if (statSync(dir).uid === process.getuid?.()) chmodSync(dir, 0o1777); // every user's processes lock here
    accessSync(dir, constants.W_OK);
    files.push(join(dir, `${file.dev}-${file.ino}.lock`));
  } catch {
    // no writable temporary folder
  }
  return files;
}

function acquireFile(path: string, projectPath: string, file: LockOwner['file']): void {
  const count = held.get(path);
  if (count) {
    held.set(path, count + 1);
    return;
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    if (create(path, file)) {
      held.set(path, 1);
      return;
    }
    const owner = readOwner(path);
    const stale = !owner || (owner.file !== undefined && !stillThere(owner.file))
      || (owner.host === hostname() && (owner.pid === process.pid || !alive(owner.pid)));
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

/** Gives back one open's share of a lock file; the file goes with the last one (if it is still ours). */
function releaseFile(path: string): void {
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

/**
 * Takes the lock for `projectPath` or throws ApiError 'in-use' naming the process that holds it. Returns the
 * function that gives it back (the same files, whatever happens to the path's links meanwhile).
 */
export function acquireProjectLock(projectPath: string): () => void {
  const taken: string[] = [];
  const real = realPath(projectPath);
  const file = identity(real);
  try {
    for (const lock of lockFiles(real, file)) {
      acquireFile(lock, projectPath, file);
      taken.push(lock);
    }
  } catch (error) {
    for (const lock of taken) releaseFile(lock);
    throw error;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const lock of taken) releaseFile(lock);
  };
}
