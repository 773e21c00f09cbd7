/** One process per project: a live holder refuses a second opener, a dead one's lock is taken over. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../core/api/contract';
import { tempDir } from '../../tests/fixtures';
import { lockPath } from './project-lock';
import { Studio } from './studio';

const studios: Studio[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const studio of studios.splice(0)) await studio.close();
  for (const child of children.splice(0)) child.kill();
});

function newStudio(dir: string): Studio {
  const studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  studios.push(studio);
  return studio;
}

/** A process that stays alive until killed, standing in for another studio. */
function otherProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function refusal(studio: Studio, path: string): Promise<ApiError> {
  const error = await studio.openProject(path, false).then(() => null, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('project lock', () => {
  it('holds a lock file while the project is open, shared by reopening, gone after close', async () => {
    const dir = tempDir(), path = join(dir, 'p.pixelwise');
    const studio = newStudio(dir);
    await studio.openProject(path, true);
    const owner = JSON.parse(readFileSync(lockPath(path), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    await studio.openProject(path, false); // reopening the open project keeps its lock
    expect(existsSync(lockPath(path))).toBe(true);
    await studio.closeProject();
    expect(existsSync(lockPath(path))).toBe(false);
  });

  it('refuses a project another live process holds, naming it, and leaves the file untouched', async () => {
    const dir = tempDir(), path = join(dir, 'p.pixelwise');
    const first = newStudio(dir);
    await first.openProject(path, true);
    first.project.classes.create('kept');
    await first.closeProject();
    const before = statSync(path).mtimeMs;
    const other = otherProcess();
    writeFileSync(lockPath(path), JSON.stringify({ pid: other.pid, host: hostname(), since: '2026-11-27T10:00:00.000Z' }));
    const error = await refusal(newStudio(dir), path);
    expect(error.code).toBe('in-use');
    expect(error.message).toContain(`pid ${other.pid}`);
    expect(error.message).toContain(lockPath(path));
    expect(statSync(path).mtimeMs).toBe(before);
    // Another host's lock cannot be checked from here: refused as well, the user decides.
    writeFileSync(lockPath(path), JSON.stringify({ pid: 1, host: 'elsewhere.example', since: '2026-11-27T10:00:00.000Z' }));
    expect((await refusal(newStudio(dir), path)).message).toContain('elsewhere.example');
  });

  it('takes over the lock of a process that is gone, or a lock file that is unreadable', async () => {
    const dir = tempDir(), path = join(dir, 'p.pixelwise');
    const studio = newStudio(dir);
    await studio.openProject(path, true);
    await studio.closeProject();
    const gone = otherProcess();
    const pid = gone.pid;
    await new Promise((done) => {
      gone.once('exit', done);
      gone.kill();
    });
    writeFileSync(lockPath(path), JSON.stringify({ pid, host: hostname(), since: '2026-11-27T10:00:00.000Z' }));
    await studio.openProject(path, false);
    expect(JSON.parse(readFileSync(lockPath(path), 'utf8')).pid).toBe(process.pid);
    await studio.closeProject();
    writeFileSync(lockPath(path), '{"pid": 12'); // a lock half-written by a crash
    await studio.openProject(path, false);
    expect(studio.project.classes.list()).toEqual([]);
  });

  it('lets go of a file deleted or replaced since it was locked, so a new file that reuses its inode opens', async () => {
    const dir = tempDir(), path = join(dir, 'p.pixelwise');
    const studio = newStudio(dir);
    await studio.openProject(path, true);
    await studio.closeProject();
    const { dev, ino } = statSync(path);
    const inodeLock = join(tmpdir(), 'pixelwise-locks', `${dev}-${ino}.lock`);
    const holder = otherProcess(); // alive all along: only the file it locked is gone
    const since = '2026-12-06T00:00:00.000Z';
    // The holder's project was deleted and this new file got its inode (seen when tests create and delete projects).
    writeFileSync(inodeLock, JSON.stringify({ pid: holder.pid, host: hostname(), since, file: { path: join(dir, 'deleted.pixelwise'), dev, ino } }));
    await studio.openProject(path, false);
    await studio.closeProject();
    expect(existsSync(inodeLock)).toBe(false);
    // The same live holder of this very file (another hard link's process) still refuses.
    writeFileSync(inodeLock, JSON.stringify({ pid: holder.pid, host: hostname(), since, file: { path, dev, ino } }));
    try {
      expect((await refusal(newStudio(dir), path)).message).toContain(`pid ${holder.pid}`);
    } finally {
      unlinkSync(inodeLock);
    }
  });
});
