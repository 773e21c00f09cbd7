/**
 * What the web server answers when the user or the input is at fault (audit F7, F9, F16; walkthrough 9 and 14):
 * a 4xx with a stable code and plain words, never "500 internal" with SQLite, V8 or Node texts; and a project
 * that cannot be opened leaves the open one open, its lock free and no -wal/-shm files behind.
 * The server runs as an unprivileged user when the tests run as root, so a 0444 project file is really read-only.
 */
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagePage, JobRecord, ProjectInfo } from '../../core/api/records';
import { Project } from '../../db/project';
import { tempDir, writeImages } from '../fixtures';
import { type ServerProcess, startServer, waitUntil } from './harness';

const unprivileged = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
/** Folders above the checkout that were given others' search permission for this file, with their old modes. */
const reopened: Array<[string, number]> = [];

/**
 * The unprivileged server must reach the built app: a checkout inside a folder only its owner may enter (a CI
 * clone in a 0700 mktemp folder) gets search permission (o+x, not read) on those folders for this file's run;
 * afterAll gives them their modes back.
 */
function letOthersReach(path: string): void {
  for (let folder = path; folder !== dirname(folder); folder = dirname(folder)) {
    const mode = statSync(folder).mode & 0o7777;
    if (mode & 0o001) continue;
    chmodSync(folder, mode | 0o001);
    reopened.push([folder, mode]);
  }
}
let server: ServerProcess;
let dir: string;

/** A raw API call: the status and the { code, message } or result. */
async function call(service: string, method: string, input: unknown = {}) {
  const started = performance.now();
  const response = await fetch(`${server.origin}/api/${service}/${method}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` }, body: JSON.stringify(input),
  });
  const body = (await response.json()) as { ok: boolean; result?: any; error?: { code: string; message: string } };
  return { status: response.status, ...body, ms: performance.now() - started };
}

async function idle(): Promise<void> {
  await waitUntil(() => call('jobs', 'list', { activeOnly: true }), (reply) => reply.result.length === 0, 'the jobs', 30_000, 100);
}

beforeAll(async () => {
  if ('uid' in unprivileged) letOthersReach(resolve(__dirname, '..', '..'));
  dir = tempDir();
  chmodSync(dir, 0o777);
  mkdirSync(join(dir, 'data'), { mode: 0o777 });
  chmodSync(join(dir, 'data'), 0o777);
  await writeImages(join(dir, 'images'), 1, 64, 48);
  server = await startServer(join(dir, 'data'), [], unprivileged);
  expect((await call('projects', 'create', { path: join(dir, 'current.pixelwise') })).ok).toBe(true);
  await call('images', 'import', { paths: [join(dir, 'images')] });
  await idle();
});

afterAll(async () => {
  server?.process.kill('SIGTERM');
  await server?.exited;
  for (const [folder, mode] of reopened.splice(0)) chmodSync(folder, mode);
});

describe('web server errors', () => {
  it('a read-only project file is refused as read-only; the open project stays open, nothing is left behind', async () => {
    const file = join(dir, 'readonly.pixelwise');
    new Project(file, { create: true }).close();
    chmodSync(file, 0o444);
    const opened = await call('projects', 'open', { path: file });
    expect(opened.status).toBe(400);
    expect(opened.error).toMatchObject({ code: 'read-only' });
    expect(opened.error!.message).toMatch(/read-only.*permissions/);
    expect((await call('projects', 'current')).result).toMatchObject({ name: 'current' });
    for (const leftover of ['-wal', '-shm', '.lock']) expect(existsSync(file + leftover)).toBe(false);
  });

  it('read-only journal files left beside a project are named, not reported as a database error', async () => {
    const file = join(dir, 'journal.pixelwise');
    new Project(file, { create: true }).close();
    chmodSync(file, 0o666);
    writeFileSync(`${file}-shm`, '');
    chmodSync(`${file}-shm`, 0o444);
    const opened = await call('projects', 'open', { path: file });
    expect([opened.status, opened.error?.code]).toEqual([400, 'read-only']);
    expect(opened.error!.message).toContain(`${file}-shm, the project's journal file, is read-only`);
    expect((await call('projects', 'current')).result).toMatchObject({ name: 'current' });
  });

  it('a project with an unreadable job row opens, and that job ends as failed saying why', async () => {
    const file = join(dir, 'bad-job.pixelwise');
    new Project(file, { create: true }).close();
    const db = new Database(file);
    db.prepare("INSERT INTO jobs (kind, payload, total, status) VALUES ('import', '{not json', 0, 'queued')").run();
    db.close();
    chmodSync(file, 0o666);
    const opened = await call('projects', 'open', { path: file });
    expect(opened.ok).toBe(true);
    const jobs = (await call('jobs', 'list', {})).result as JobRecord[];
    expect(jobs[0]).toMatchObject({ status: 'failed' });
    expect(jobs[0].error).toMatch(/unreadable/);
    await call('projects', 'open', { path: join(dir, 'current.pixelwise') });
  });

  it('a folder is not a project; an unknown job is not found; a class from elsewhere is named as such', async () => {
    const folder = await call('projects', 'open', { path: join(dir, 'images') });
    expect([folder.status, folder.error?.code]).toEqual([400, 'is-a-folder']);
    expect(folder.error!.message).not.toMatch(/EISDIR/);
    expect((await call('projects', 'current')).result).toMatchObject({ name: 'current' });
    mkdirSync(join(dir, 'named.pixelwise'));
    const createFolder = await call('projects', 'create', { path: join(dir, 'named.pixelwise') });
    expect([createFolder.status, createFolder.error?.code]).toEqual([400, 'is-a-folder']);
    const nowhere = await call('projects', 'create', { path: join(dir, 'no-such-folder', 'p.pixelwise') });
    expect([nowhere.status, nowhere.error?.message]).toEqual([404, `the folder ${join(dir, 'no-such-folder')} does not exist`]);

    const cancel = await call('jobs', 'cancel', { id: 9999 });
    expect([cancel.status, cancel.error?.code]).toEqual([404, 'not-found']);

    const { items } = (await call('images', 'list', {})).result as ImagePage;
    const mask = { size: [48, 64], counts: '0`0' };
    const saved = await call('annotations', 'save', { imageId: items[0].id, annotations: [{ classId: 77, rle: mask }] });
    expect([saved.status, saved.error?.code]).toEqual([400, 'class-missing']);
    expect(saved.error!.message).not.toMatch(/FOREIGN KEY/);
  });

  it('a search mask of the wrong size is refused before anything is allocated', async () => {
    const { items } = (await call('images', 'list', {})).result as ImagePage;
    const huge = await call('search', 'query', { examples: [{ imageId: items[0].id, rle: { size: [20000, 20000], counts: '0PPQ_m;' } }] });
    expect([huge.status, huge.error?.code]).toEqual([400, 'invalid-input']);
    expect(huge.error!.message).toBe(`the mask is 20000x20000 but image ${items[0].id} is 64x48`);
    expect(huge.ms).toBeLessThan(500); // the old code decoded it first: 8.45 s in the audit
    const overflow = await call('search', 'query', { examples: [{ imageId: items[0].id, rle: { size: [2 ** 33, 1], counts: '0' } }] });
    expect([overflow.status, overflow.error?.code]).toEqual([400, 'invalid-input']);
  });

  it('a new project named without an extension gets .pixelwise', async () => {
    const created = await call('projects', 'create', { path: join(dir, 'photos') });
    expect((created.result as ProjectInfo).path).toBe(join(dir, 'photos.pixelwise'));
    expect(existsSync(join(dir, 'photos.pixelwise'))).toBe(true);
    expect(existsSync(join(dir, 'photos'))).toBe(false);
  });

  it('a second server on the same project stops with one line naming the holder, not a stack trace', async () => {
    // Whatever the first server holds now (an earlier test may have created and opened another project).
    const held = (await call('projects', 'current')).result as ProjectInfo;
    const second = await startServer(join(dir, 'data'), ['--project', held.path], unprivileged).then(
      () => null, (error: Error) => error.message);
    expect(second).toMatch(new RegExp(`exited with 1: pixelwise web: .*${basename(held.path).replace('.', '\\.')} is open in another Pixelwise process \\(pid \\d+`));
    expect(second).not.toMatch(/\n\s+at /);
  });
});
