/**
 * `pixelwise push` and `pixelwise pull` between a real project file and a `pixelwise serve` process on a real
 * PostgreSQL cluster: everything arrives once (embedding maps bit-identical, searchable and clickable on the server
 * without a worker), a repeated run or one after a SIGKILL carries on without duplicates, and objects a labeler
 * saved on the server meanwhile are kept (reported), never overwritten by a push.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackEmbedding } from '../core/api/blobs';
import type { StoredEmbedding } from '../core/embedding';
import { encodeRle } from '../core/rle';
import { Project } from '../db/project';
import { readImageFile } from '../electron/jobs/import-job';
import { resolveStoredPath, storedPath } from '../db/images';
import { quantize } from '../core/embedding';
import { createEmbedder, decodeImageFile, readManifest } from '../electron/embedding/embedder';
import { builtinModelsDir } from '../electron/paths';
import { indexImage, regionsOf } from '../electron/search/indexer';
import { TeamClient } from '../electron/team/client';
import { pull } from '../electron/team/transfer';
import { tempDir, writeImages } from './fixtures';
import { freePort, type PgCluster, startPgCluster } from './pg-cluster';
import { type CliProcess, signIn, spawnCli, teamCall, waitForOutput } from './team-cli';

let cluster: PgCluster;
let server: CliProcess;
let origin: string;
let dir: string;
let database: string;
const password = 'transfer admin password';
const modelId = 'pixelwise-colorpos';

/** Embeds every image of a project file with the colorpos model (a real onnxruntime session), as the studio stores maps. */
async function embed(file: string) {
  const modelDir = join(builtinModelsDir(), modelId);
  const embedder = await createEmbedder(modelDir);
  const project = new Project(file);
  try {
    project.embeddings.registerModel(await readManifest(modelDir));
    for (const id of project.images.ids()) {
      const map = await embedder.embed(await decodeImageFile(resolveStoredPath(project.dir, project.images.get(id)!.path)));
      project.transaction(() => {
        project.embeddings.put(id, modelId, quantize(map));
        indexImage(project, id, modelId, map);
        project.images.refreshStatus(id);
      });
    }
  } finally {
    project.close();
    await embedder.close();
  }
}

/** Each image's map by content hash, as plain values (for bit-for-bit comparison). */
function mapsByHash(file: string): Map<string, unknown> {
  const project = new Project(file, { readonly: true });
  try {
    const plain = (stored: StoredEmbedding) => ({ ...stored, bytes: Buffer.from(stored.bytes).toString('hex') });
    return new Map(project.images.ids().flatMap((id) => {
      const stored = project.embeddings.get(id, modelId);
      return stored ? [[project.images.get(id)!.hash!, plain(stored)]] : [];
    }));
  } finally {
    project.close();
  }
}

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
  database = await cluster.createDatabase('transfer');
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
  await embed(join(dir, 'local.pixelwise'));
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
    expect(first.report).toEqual({ images: 3, transferred: 3, annotatedImages: 2, keptTheirs: [], classes: 2, maps: 3, mapsLeftOut: [] });
    const again = await cli(['push', join(dir, 'local.pixelwise'), origin, '--user', 'admin']);
    expect(again.report).toEqual({ images: 3, transferred: 0, annotatedImages: 2, keptTheirs: [], classes: 2, maps: 0, mapsLeftOut: [] });
    const admin = await signIn(origin, 'admin', password);
    const listed = (await teamCall(origin, admin, 'images.list', {})).result;
    expect(listed.items.map((i: { path: string; annotationCount: number }) => [i.path, i.annotationCount]))
      .toEqual([['photos/scene-0000.jpg', 1], ['photos/scene-0001.png', 2], ['photos/scene-0002.jpg', 0]]);
    expect((await teamCall(origin, admin, 'classes.list')).result.map((c: { name: string }) => c.name)).toEqual(['cat', 'dog']);
    expect((await teamCall(origin, admin, 'annotations.history', { imageId: 2 })).result).toHaveLength(1);
  });

  it('after a push the server has the maps, bit for bit: search and clicks work with no worker run', async () => {
    const admin = await signIn(origin, 'admin', password);
    const local = mapsByHash(join(dir, 'local.pixelwise'));
    const listed = (await teamCall(origin, admin, 'images.list', {})).result.items as Array<{ id: number; hash: string; status: string }>;
    for (const image of listed) {
      const { data } = (await teamCall(origin, admin, 'embeddings.get', { imageId: image.id, modelId })).result;
      const stored = unpackEmbedding(Buffer.from(data, 'base64'));
      expect({ ...stored, bytes: Buffer.from(stored.bytes).toString('hex') }).toEqual(local.get(image.hash));
    }
    expect(listed.map((image) => image.status)).toEqual(['annotated', 'annotated', 'embedded']);
    expect((await teamCall(origin, admin, 'embeddings.start', { modelId })).result.queued).toBe(0);
    expect((await teamCall(origin, admin, 'embeddings.status')).result).toEqual({ queued: 0, running: 0, done: 0, failed: 0 });
    expect(await cluster.query(database, 'SELECT count(*)::int AS n FROM region_sets WHERE model_id = $1', [modelId])).toEqual([{ n: 3 }]);
    const found = await teamCall(origin, admin, 'search.query', { examples: [{ imageId: 2, rle: mask(7) }], modelId, limit: 5 });
    expect(found.error).toBeUndefined();
    expect(found.result.stats.images).toBe(3);
    expect(found.result.hits.length).toBeGreaterThan(0);
    const clicked = await teamCall(origin, admin, 'segment.clicks', { image: 3, clicks: [[30, 20, 1]], modelId });
    expect(clicked.error).toBeUndefined();
    expect(clicked.result.rle.size).toEqual([48, 64]);
  });

  it('embeddings.put checks a map against the server\'s model file and the image, and is for admins', async () => {
    const admin = await signIn(origin, 'admin', password);
    const models = (await teamCall(origin, admin, 'embeddings.models')).result as Array<{ id: string; sha256: string; stored: number }>;
    const { sha256 } = models.find((model) => model.id === modelId)!;
    expect(models.find((model) => model.id === modelId)!.stored).toBe(3);
    const stored = unpackEmbedding(Buffer.from((await teamCall(origin, admin, 'embeddings.get', { imageId: 1, modelId })).result.data, 'base64'));
    const { bytes, ...shape } = stored;
    const embedding = { ...shape, data: Buffer.from(bytes).toString('base64') };
    const put = (input: Record<string, unknown>, token = admin) => teamCall(origin, token, 'embeddings.put', { imageId: 1, modelId, sha256, embedding, ...input });
    expect((await put({ sha256: 'a'.repeat(64) })).error).toEqual({ code: 'model-mismatch',
      message: `this map of image 1 was computed by another file of model ${modelId} than the server's; embed it on the server instead` });
    expect((await put({ modelId: 'no-such-model' })).error?.message).toMatch(/^unknown model "no-such-model"/);
    expect((await put({ embedding: { ...embedding, data: embedding.data.slice(8) } })).error?.message).toMatch(/^the embedding holds \d+ bytes; /);
    expect((await put({ embedding: { ...embedding, imageWidth: 65 } })).error?.message).toContain('does not fit image 1 (64x48)');
    expect((await put({ imageId: 999 })).error?.message).toBe('no image 999');
    await teamCall(origin, admin, 'users.create', { name: 'lena', role: 'labeler', password: 'lena password 1' });
    expect((await put({}, await signIn(origin, 'lena', 'lena password 1'))).status).toBe(403);
    expect((await put({})).ok).toBe(true); // the same map again: replaced, still one
    expect(await cluster.query(database, 'SELECT count(*)::int AS n FROM embeddings')).toEqual([{ n: 3 }]);
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
    expect(first.report).toEqual({ images: 3, transferred: 3, annotatedImages: 2, keptTheirs: [], classes: 2, maps: 3, mapsLeftOut: [] });
    expect(mapsByHash(file)).toEqual(mapsByHash(join(dir, 'local.pixelwise')));
    let project = new Project(file);
    expect(regionsOf(project).missing(modelId)).toEqual([]);
    expect(project.images.list({ status: 'embedded', offset: 0, limit: 10 }).total).toBe(1);
    expect(project.annotations.list(1).map((a) => a.area)).toEqual([120]);
    const names = new Map(project.classes.list().map((c) => [c.id, c.name]));
    expect(project.annotations.list(2).map((a) => [a.classId === null ? null : names.get(a.classId), a.area]))
      .toEqual([['dog', 28], [null, 36]]);
    project.transaction(() => project.images.remove([3]));
    project.close();
    const resumed = await cli(['pull', origin, file, '--user', 'admin']);
    expect(resumed.report).toMatchObject({ transferred: 1, annotatedImages: 2, keptTheirs: [], maps: 1 });
    expect(mapsByHash(file)).toEqual(mapsByHash(join(dir, 'local.pixelwise')));
    project = new Project(file);
    expect(project.images.ids()).toHaveLength(3);
    expect(project.images.get(1)!.path).toBe('team-images/photos/scene-0000.jpg');
    project.close();
  });

  it('pull can leave the maps on the server and take only some images (what a dataset export of a team project needs)', async () => {
    const client = new TeamClient(origin);
    await client.signIn('admin', password);
    const [, second] = (await client.call<{ items: Array<{ id: number; hash: string }> }>('images.list', { limit: 10 })).items;
    const file = join(dir, 'partial', 'team.pixelwise');
    const report = await pull(client, file, undefined, { maps: false, only: new Set([second.id]) });
    expect(report).toMatchObject({ images: 3, transferred: 1, maps: 0, mapsLeftOut: [] });
    const project = new Project(file);
    try {
      expect(project.images.ids().map((id) => project.images.get(id)!.hash)).toEqual([second.hash]);
      expect(project.embeddings.stats(modelId).count).toBe(0);
    } finally {
      project.close();
    }
  });

  it('a push killed (SIGKILL) mid-way and run again ends with every map on the server once; a model the server lacks is reported', async () => {
    const file = join(dir, 'many.pixelwise');
    const project = new Project(file, { create: true });
    for (const image of await writeImages(join(dir, 'many'), 30, 64, 48, 5000)) {
      project.images.add({ ...(await readImageFile(image)), path: storedPath(project.dir, image) });
    }
    project.close();
    await embed(file);
    const other = new Project(file);
    const manifest = await readManifest(join(builtinModelsDir(), modelId));
    other.embeddings.registerModel({ ...manifest, id: 'someone-elses-model', sha256: 'b'.repeat(64) });
    other.embeddings.put(1, 'someone-elses-model', other.embeddings.get(1, modelId)!);
    other.close();
    const count = async () => (await cluster.query<{ n: number }>(database, 'SELECT count(*)::int AS n FROM embeddings'))[0].n;
    const before = await count();

    const killed = spawnCli(['push', file, origin, '--user', 'admin'], { PIXELWISE_PASSWORD: password });
    while (await count() === before) {
      expect(killed.process.exitCode, killed.stderr()).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    killed.process.kill('SIGKILL');
    await killed.exited;
    // A map the killed client had already sent may still be stored after it died: count once the server is done.
    let landed = await count() - before;
    for (let settled = -1; settled !== landed; ) {
      settled = landed;
      await new Promise((resolve) => setTimeout(resolve, 300));
      landed = await count() - before;
    }
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThan(30);

    const resumed = await cli(['push', file, origin, '--user', 'admin']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.report).toMatchObject({ images: 30, maps: 30 - landed, mapsLeftOut: [{ modelId: 'someone-elses-model',
      reason: expect.stringMatching(/^the server has no model someone-elses-model; its workers can embed with .*pixelwise-colorpos/) }] });
    expect(await count()).toBe(before + 30);
    expect(await cluster.query(database, 'SELECT count(*)::int AS n FROM region_sets')).toEqual([{ n: before + 30 }]);
    const admin = await signIn(origin, 'admin', password);
    const hashes = new Map((await teamCall(origin, admin, 'images.list', { limit: 1000 })).result.items.map((i: { id: number; hash: string }) => [i.hash, i.id]));
    for (const [hash, map] of mapsByHash(file)) {
      const stored = unpackEmbedding(Buffer.from((await teamCall(origin, admin, 'embeddings.get', { imageId: hashes.get(hash), modelId })).result.data, 'base64'));
      expect({ ...stored, bytes: Buffer.from(stored.bytes).toString('hex') }).toEqual(map);
    }
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
