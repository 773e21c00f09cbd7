/**
 * `pixelwise push` and `pixelwise pull` between a real project file and a `pixelwise serve` process on a real
 * PostgreSQL cluster: everything arrives once, a repeated run carries on without duplicates, and objects a labeler
 * saved on the server meanwhile are kept (reported), never overwritten by a push.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRle } from '../core/rle';
import { Project } from '../db/project';
import { readImageFile } from '../electron/jobs/import-job';
import { storedPath } from '../db/images';
import { tempDir, writeImages } from './fixtures';
import { freePort, type PgCluster, startPgCluster } from './pg-cluster';
import { type CliProcess, signIn, spawnCli, teamCall, waitForOutput } from './team-cli';

let cluster: PgCluster;
let server: CliProcess;
let origin: string;
let dir: string;
const password = 'transfer admin password';

function mask(w: number) {
  const pixels = new Uint8Array(64 * 48);
  for (let y = 0; y < 4; y++) pixels.fill(1, y * 64, y * 64 + w);
  return encodeRle({ width: 64, height: 48, data: pixels });
}

async function cli(args: string[]) {
  const run = spawnCli(args, { PIXELWISE_PASSWORD: password });
  const code = await run.exited;
  return { code, report: code === 0 ? JSON.parse(run.stdout()) : null, stderr: run.stderr() };
}

beforeAll(async () => {
  cluster = await startPgCluster();
  const database = await cluster.createDatabase('transfer');
  const port = await freePort();
  server = spawnCli(['serve', '--database', database, '--port', String(port)], { PIXELWISE_ADMIN_PASSWORD: password });
  await waitForOutput(server, /Pixelwise team server/);
  origin = `http://127.0.0.1:${port}`;
  dir = tempDir();
  const project = new Project(join(dir, 'local.pixelwise'), { create: true });
  const files = await writeImages(join(dir, 'photos'), 3, 64, 48);
  const cat = project.classes.create('cat'), dog = project.classes.create('dog');
  for (const file of files) project.images.add({ ...(await readImageFile(file)), path: storedPath(project.dir, file) });
  project.transaction(() => {
    project.annotations.replace(1, [{ classId: cat.id, rle: mask(5) }]);
    project.annotations.replace(2, [{ classId: dog.id, rle: mask(7) }, { classId: null, rle: mask(9) }]);
  });
  project.close();
});

afterAll(async () => {
  server?.process.kill('SIGTERM');
  await server?.exited;
  await cluster?.stop();
});

describe('push and pull', () => {
  it('push uploads images, classes and objects once; a second push changes nothing', async () => {
    const first = await cli(['push', join(dir, 'local.pixelwise'), origin, '--user', 'admin']);
    expect(first.code).toBe(0);
    expect(first.report).toEqual({ images: 3, transferred: 3, annotatedImages: 2, keptTheirs: [], classes: 2 });
    const again = await cli(['push', join(dir, 'local.pixelwise'), origin, '--user', 'admin']);
    expect(again.report).toEqual({ images: 3, transferred: 0, annotatedImages: 2, keptTheirs: [], classes: 2 });
    const admin = await signIn(origin, 'admin', password);
    const listed = (await teamCall(origin, admin, 'images.list', {})).result;
    expect(listed.items.map((i: { path: string; annotationCount: number }) => [i.path, i.annotationCount]))
      .toEqual([['photos/scene-0000.jpg', 1], ['photos/scene-0001.png', 2], ['photos/scene-0002.jpg', 0]]);
    expect((await teamCall(origin, admin, 'classes.list')).result.map((c: { name: string }) => c.name)).toEqual(['cat', 'dog']);
    expect((await teamCall(origin, admin, 'annotations.history', { imageId: 2 })).result).toHaveLength(1);
  });

  it('a labeler\'s later save on the server is kept and reported by the next push', async () => {
    const admin = await signIn(origin, 'admin', password);
    await teamCall(origin, admin, 'users.create', { name: 'ann', role: 'labeler', password: 'ann password 1' });
    const ann = await signIn(origin, 'ann', 'ann password 1');
    await teamCall(origin, ann, 'leases.claim', { imageId: 1 });
    expect((await teamCall(origin, ann, 'annotations.save', { imageId: 1, baseVersion: 1, annotations: [{ classId: null, rle: mask(30) }] })).result.version).toBe(2);
    await teamCall(origin, ann, 'leases.release', { imageId: 1 });
    const pushed = await cli(['push', join(dir, 'local.pixelwise'), origin, '--user', 'admin']);
    expect(pushed.report.keptTheirs).toHaveLength(1);
    expect(pushed.report.keptTheirs[0].path).toBe('photos/scene-0000.jpg');
    const stored = (await teamCall(origin, admin, 'annotations.get', { imageId: 1 })).result;
    expect([stored.version, stored.annotations[0].area]).toEqual([2, 120]);
  });

  it('pull makes a local project of the server\'s; a repeated pull fetches only what is missing', async () => {
    const file = join(dir, 'copy', 'team.pixelwise');
    mkdirSync(join(dir, 'copy'));
    const first = await cli(['pull', origin, file, '--user', 'admin']);
    expect(first.report).toEqual({ images: 3, transferred: 3, annotatedImages: 2, keptTheirs: [], classes: 2 });
    let project = new Project(file);
    expect(project.annotations.list(1).map((a) => a.area)).toEqual([120]);
    const names = new Map(project.classes.list().map((c) => [c.id, c.name]));
    expect(project.annotations.list(2).map((a) => [a.classId === null ? null : names.get(a.classId), a.area]))
      .toEqual([['dog', 28], [null, 36]]);
    project.transaction(() => project.images.remove([3]));
    project.close();
    const resumed = await cli(['pull', origin, file, '--user', 'admin']);
    expect(resumed.report).toMatchObject({ transferred: 1, annotatedImages: 2, keptTheirs: [] });
    project = new Project(file);
    expect(project.images.ids()).toHaveLength(3);
    expect(project.images.get(1)!.path).toBe('team-images/photos/scene-0000.jpg');
    project.close();
  });

  it('a wrong address, nothing listening or a wrong password: one sentence, nothing written', async () => {
    const wrong = await cli(['push', join(dir, 'local.pixelwise'), 'ftp://example.com', '--user', 'admin']);
    expect([wrong.code, wrong.stderr.trim()]).toEqual([1, 'pixelwise: ftp://example.com is not a team server address (it should start with https:// or http://)']);
    const port = await freePort();
    const away = await cli(['pull', `http://127.0.0.1:${port}`, join(dir, 'never.pixelwise'), '--user', 'admin']);
    expect(away.stderr.trim()).toBe(`pixelwise: cannot reach the team server at http://127.0.0.1:${port} (ECONNREFUSED): is it running, and is the address right?`);
    writeFileSync(join(dir, 'bad-password'), 'not the password');
    const refused = await cli(['push', join(dir, 'local.pixelwise'), origin, '--user', 'admin', '--password-file', join(dir, 'bad-password')]);
    expect(refused.stderr.trim()).toBe('pixelwise: wrong user name or password');
  });
});
