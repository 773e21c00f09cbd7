/**
 * The studio on a team project, end to end with real parts: a throwaway PostgreSQL cluster, a real `pixelwise
 * serve` process, and studios in web mode (the renderer's HTTP transport and blob URLs, no renderer) that open the
 * server's project with team.open. Two labelers, a reviewer and an admin; an embedding worker (in this process, on
 * the same database) between the first and the second look at an image's map. Bad input: a wrong address, nothing
 * listening, a server that is not Pixelwise, a newer server (a plain HTTP server answering as one: no newer
 * Pixelwise exists to run), a wrong password, a worker account. Faults: the answer to a save lost on the way back
 * (an HTTP relay in front of the server drops it), and the server killed and started again while a save waits.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackEmbedding } from '../core/api/blobs';
import { encodeRle } from '../core/rle';
import { openStore } from '../db/store-open';
import { ModelRegistry } from '../electron/models';
import { builtinModelsDir } from '../electron/paths';
import { runWorker } from '../electron/team/worker';
import { startWebServer } from '../electron/web/server';
import { tempDir, writeImages } from './fixtures';
import { freePort, type PgCluster, startPgCluster } from './pg-cluster';
import { type CliProcess, signIn, spawnCli, teamCall, waitForOutput } from './team-cli';

const password = 'correct horse battery';
let cluster: PgCluster;
let database: string;
let dir: string;
let port: number;
let server: CliProcess;
let origin: string;
let files: string[];
let imageIds: number[];
let relay: Relay;
const studios: Array<Awaited<ReturnType<typeof startWebServer>>> = [];

/** An HTTP relay in front of the team server that can drop the answer to the next save (the save itself lands). */
interface Relay {
  origin: string;
  dropNextSaveAnswer: boolean;
  saves: number;
  server: Server;
}

async function startRelay(target: () => number): Promise<Relay> {
  const relay = { dropNextSaveAnswer: false, saves: 0 } as Relay;
  relay.server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const isSave = incoming.url === '/api/annotations/save';
    if (isSave) relay.saves++;
    const upstream = httpRequest({ host: '127.0.0.1', port: target(), path: incoming.url, method: incoming.method, headers: incoming.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        if (isSave && relay.dropNextSaveAnswer) {
          relay.dropNextSaveAnswer = false;
          return void outgoing.socket?.destroy();
        }
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        outgoing.end(Buffer.concat(chunks));
      });
    });
    // The server is down: the connection drops, as it would without the relay.
    upstream.on('error', () => outgoing.socket?.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
  const address = relay.server.address();
  relay.origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return relay;
}

async function plainServer(handler: (incoming: IncomingMessage, outgoing: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

function serve(): CliProcess {
  return spawnCli(['serve', '--database', database, '--port', String(port), '--admin-password-file', join(dir, 'admin-password')]);
}

beforeAll(async () => {
  cluster = await startPgCluster();
  database = await cluster.createDatabase('team');
  dir = tempDir();
  writeFileSync(join(dir, 'admin-password'), `${password}\n`, { mode: 0o600 });
  port = await freePort();
  server = serve();
  files = await writeImages(join(dir, 'images'), 3, 96, 64);
  await waitForOutput(server, /Pixelwise team server: http/);
  origin = `http://127.0.0.1:${port}`;
  relay = await startRelay(() => port);
  const admin = await signIn(origin, 'admin', password);
  for (const [name, role] of [['ann', 'labeler'], ['bob', 'labeler'], ['rita', 'reviewer'], ['gpu', 'worker']]) {
    await teamCall(origin, admin, 'users.create', { name, role, password: `${name} password 1` });
  }
  imageIds = [];
  for (const file of files.slice(0, 2)) {
    imageIds.push((await teamCall(origin, admin, 'images.upload', { path: `batch/${file.split('/').pop()}`, data: readFileSync(file).toString('base64') })).result.id);
  }
  await teamCall(origin, admin, 'classes.create', { name: 'cat' });
}, 60_000);

afterAll(async () => {
  for (const studio of studios) await studio.close();
  relay?.server.close();
  server?.process.kill('SIGTERM');
  await server?.exited;
  await cluster?.stop();
});

/** A studio in web mode; call() is the renderer's API call, blob() its blob fetch. */
async function studio() {
  const web = await startWebServer({ port: 0, host: '127.0.0.1', dataDir: tempDir(), token: 'studio-test-token' });
  studios.push(web);
  const base = `http://127.0.0.1:${web.port}`;
  const call = async <T = any>(name: string, input: unknown = {}): Promise<T> => {
    const response = await fetch(`${base}/api/${name.replace('.', '/')}`, {
      method: 'POST', body: JSON.stringify(input), headers: { 'content-type': 'application/json', authorization: `Bearer ${web.token}` },
    });
    const body = await response.json() as { ok: boolean; result: T; error?: { code: string; message: string } };
    if (!body.ok) throw Object.assign(new Error(body.error!.message), { code: body.error!.code });
    return body.result;
  };
  const blob = async (path: string) => {
    const response = await fetch(`${base}/blob/${web.token}/${path}`);
    return { status: response.status, type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
  };
  return { web, call, blob };
}

function mask(width: number, height: number, w: number) {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < 8; y++) pixels.fill(1, y * width, y * width + w);
  return encodeRle({ width, height, data: pixels });
}

describe('a team project in the studio', () => {
  let ann: Awaited<ReturnType<typeof studio>>;
  let bob: Awaited<ReturnType<typeof studio>>;

  beforeAll(async () => {
    [ann, bob] = await Promise.all([studio(), studio()]);
  });

  it('bad input: a wrong address, nothing listening, not Pixelwise, a newer server, a wrong password, a worker account', async () => {
    // Each refusal leaves the project that was open as it was.
    const file = (await ann.call('projects.create', { path: join(dir, 'local.pixelwise') })).path;
    const open = (server: string, user = 'ann', secret = 'ann password 1') => ann.call('team.open', { server, user, password: secret });
    await expect(open('ftp://studio.example.com')).rejects.toMatchObject({ code: 'invalid-input', message: 'ftp://studio.example.com is not a team server address (it should start with https:// or http://)' });
    const nowhere = await freePort();
    await expect(open(`http://127.0.0.1:${nowhere}`)).rejects.toMatchObject({
      code: 'unavailable', message: `cannot reach the team server at http://127.0.0.1:${nowhere} (ECONNREFUSED): is it running, and is the address right?`,
    });
    // Plain HTTP servers: one that is not Pixelwise, and one answering as a newer Pixelwise would.
    const html = await plainServer((_incoming, outgoing) => void outgoing.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'));
    const newer = await plainServer((incoming, outgoing) => {
      const reply = incoming.url === '/api/auth/login' ? { token: 'x'.repeat(43), user: { id: 1, name: 'ann', role: 'labeler' } } : { apiVersion: 99 };
      outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: reply }));
    });
    try {
      await expect(open(html.origin)).rejects.toMatchObject({
        code: 'unavailable', message: `${html.origin} answered 404 without a Pixelwise reply: is it a Pixelwise team server?`,
      });
      await expect(open(newer.origin)).rejects.toMatchObject({
        code: 'newer-version', message: `the team server at ${newer.origin} runs a newer Pixelwise (team API 99; this studio speaks up to 1): update Pixelwise Studio to open it`,
      });
    } finally {
      html.server.close();
      newer.server.close();
    }
    await expect(open(origin, 'ann', 'not the password')).rejects.toMatchObject({ code: 'unauthorized', message: `${origin}: wrong user name or password` });
    await expect(open(origin, 'gpu', 'gpu password 1')).rejects.toMatchObject({
      code: 'forbidden', message: 'gpu is a worker account, and a worker account cannot label: sign in with a labeler, reviewer or admin account',
    });
    const current = await ann.call('projects.current');
    expect([current.path, current.team ?? null]).toEqual([file, null]);
    expect(existsSync(`${file}.lock`)).toBe(true);
  });

  it('team.open makes the server project current; recent keeps the server and user, never the password; close', async () => {
    const info = await ann.call('team.open', { server: `${relay.origin}/`, user: 'ann', password: 'ann password 1' });
    // The project file was closed: its lock is given back.
    expect(existsSync(join(dir, 'local.pixelwise.lock'))).toBe(false);
    expect(info).toMatchObject({ path: relay.origin, imageCount: 2, classCount: 1, annotationCount: 0, team: { server: relay.origin, user: 'ann', role: 'labeler' } });
    expect(await ann.call('projects.current')).toMatchObject({ path: relay.origin, team: { user: 'ann' } });
    const recent = await ann.call('projects.recent');
    expect(recent[0]).toMatchObject({ path: relay.origin, team: { server: relay.origin, user: 'ann' }, exists: true });
    expect(readFileSync(join(ann.web.studio.options.dataDir, 'recent.json'), 'utf8')).not.toContain('password');
    await ann.call('projects.close');
    expect(await ann.call('projects.current')).toBeNull();
    await ann.call('team.open', { server: relay.origin, user: 'ann', password: 'ann password 1' });
    await bob.call('team.open', { server: origin, user: 'bob', password: 'bob password 1' });
  });

  it('images: list, get, neighbors; blobs: the image, its thumbnail, and its map once a worker made it', async () => {
    const page = await ann.call('images.list', { limit: 10 });
    expect(page.total).toBe(2);
    const [first, second] = page.items;
    expect(await ann.call('images.get', { id: second.id })).toEqual(second);
    expect(await ann.call('images.neighbors', { id: first.id })).toEqual({ previous: null, next: second.id });
    const image = await ann.blob(`image/${first.id}?v=${first.hash}`);
    expect([image.status, image.type, image.body.equals(readFileSync(files[0]))]).toEqual([200, 'image/jpeg', true]);
    const thumbnail = await ann.blob(`thumbnail/${first.id}?v=${first.hash}`);
    expect([thumbnail.status, thumbnail.type]).toEqual([200, 'image/jpeg']);
    expect((await ann.blob(`image/${first.id}?v=${'0'.repeat(64)}`)).status).toBe(404);
    const model = 'pixelwise-colorpos';
    expect((await ann.blob(`embedding/${first.id}?v=${first.hash}&model=${model}`)).status).toBe(204);

    const admin = await signIn(origin, 'admin', password);
    await teamCall(origin, admin, 'embeddings.start', { modelId: model });
    const store = await openStore(database);
    try {
      const registry = new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]);
      expect(await runWorker({ store, registry, exitWhenIdle: true })).toEqual({ done: 2, failed: 0 });
    } finally {
      await store.close();
    }
    const embedding = await ann.blob(`embedding/${first.id}?v=${first.hash}&model=${model}`);
    expect(embedding.status).toBe(200);
    const map = unpackEmbedding(new Uint8Array(embedding.body));
    expect([map.imageWidth, map.imageHeight, map.bytes.length]).toEqual([96, 64, map.width * map.height * map.dim * (map.dtype === 'int8' ? 1 : 2)]);
    // The project's model follows the server's maps: what the editor asks for by default.
    await ann.call('projects.current');
    expect((await ann.call('system.runtime')).defaultModelId).toBe(model);
    expect((await ann.call('segment.clicks', { image: first.id, clicks: [[30, 30, 1]] })).rle.size).toEqual([64, 96]);
    const found = await ann.call('search.query', { examples: [{ imageId: first.id, rle: mask(96, 64, 30) }] });
    expect(found.modelId).toBe(model);
    expect(found.hits.map((hit: { imageId: number; imageHash: string }) => [hit.imageId, hit.imageHash])).toContainEqual([second.id, second.hash]);
  });

  it('claims and versioned saves: the holder saves, the other labeler sees who holds it; a stale save is a conflict in words', async () => {
    const [first, second] = imageIds;
    const cat = (await ann.call('classes.list'))[0];
    expect(await ann.call('team.claim', { imageId: first })).toMatchObject({ held: true, holder: 'ann' });
    const claimed = await bob.call('team.claim', { imageId: first });
    expect(claimed).toMatchObject({ held: false, holder: 'ann' });
    expect(Date.parse(claimed.until)).toBeGreaterThan(Date.now());

    expect(await ann.call('annotations.list', { imageId: first })).toEqual([]);
    const saved = await ann.call('annotations.save', { imageId: first, annotations: [{ classId: cat.id, rle: mask(96, 64, 10) }] });
    expect(saved).toHaveLength(1);
    // Autosaves one after another build on each other (each save's version is remembered).
    const again = await ann.call('annotations.save', { imageId: first, annotations: [{ ...saved[0], rle: mask(96, 64, 12) }] });
    expect([again[0].id, again[0].area]).toEqual([saved[0].id, 96]);

    // Objects added (search, discovery) and removed (their undo) go onto what is stored; the editor's next save
    // is still based on the version it listed, so it cannot drop them unseen.
    const [added] = await ann.call('annotations.add', { items: [{ imageId: first, classId: null, rle: mask(96, 64, 40) }] });
    expect(added).toMatchObject({ imageId: first, area: 320 });
    await expect(ann.call('annotations.save', { imageId: first, annotations: again })).rejects.toMatchObject({ code: 'conflict' });
    expect((await ann.call('annotations.list', { imageId: first })).map((a: { id: number }) => a.id)).toEqual([again[0].id, added.id]);
    await ann.call('annotations.remove', { ids: [added.id] });
    expect((await ann.call('annotations.list', { imageId: first })).map((a: { id: number }) => a.id)).toEqual([again[0].id]);

    // Bob looks at the second image (version 0) while ann labels it; she saves and leaves; bob's save is refused.
    expect(await bob.call('annotations.list', { imageId: second })).toEqual([]);
    await ann.call('team.claim', { imageId: second });
    await ann.call('annotations.list', { imageId: second });
    await ann.call('annotations.save', { imageId: second, annotations: [{ classId: cat.id, rle: mask(96, 64, 20) }] });
    await ann.call('team.release', { imageId: second });
    expect(await bob.call('team.claim', { imageId: second })).toMatchObject({ held: true, holder: 'bob' });
    await expect(bob.call('annotations.save', { imageId: second, annotations: [{ classId: null, rle: mask(96, 64, 5) }] })).rejects.toMatchObject({
      code: 'conflict',
      message: `image ${second} was saved by ann meanwhile (version 1; your edit was based on version 0). Your objects are kept in the editor and were not saved: reload the image to see the stored ones, then save again.`,
    });
    const reloaded = await bob.call('annotations.list', { imageId: second });
    expect(reloaded).toHaveLength(1);
    const merged = await bob.call('annotations.save', { imageId: second, annotations: [...reloaded, { classId: null, rle: mask(96, 64, 5) }] });
    expect(merged).toHaveLength(2);
    await bob.call('team.release', { imageId: second });
  });

  it('roles and what a team project does not offer: the server\'s words for a labeler changing classes; unsupported calls say what to do', async () => {
    await expect(ann.call('classes.create', { name: 'dog' })).rejects.toMatchObject({ code: 'forbidden', message: 'ann is a labeler; "classes.create" is for admin accounts' });
    await expect(ann.call('images.import', { paths: [dir] })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(ann.call('datasets.import', { format: 'coco', path: join(dir, 'out') })).rejects.toMatchObject({
      code: 'team-unsupported', message: 'Importing a dataset is not available on a team project; pull a local copy with `pixelwise pull`',
    });
    await expect(ann.call('images.remove', { ids: [imageIds[0]] })).rejects.toMatchObject({ code: 'team-unsupported' });
    await expect(ann.call('augment.start', { imageIds: [imageIds[0]], variants: 1 })).rejects.toMatchObject({ code: 'team-unsupported' });
  });

  it('a reviewer claims without a lease and reviews the version they saw', async () => {
    const rita = await studio();
    await rita.call('team.open', { server: origin, user: 'rita', password: 'rita password 1' });
    const first = imageIds[0];
    expect(await rita.call('team.claim', { imageId: first })).toEqual({ held: true, holder: null, until: null });
    await rita.call('annotations.list', { imageId: first });
    await rita.call('images.setReviewed', { ids: [first], reviewed: true });
    expect((await rita.call('images.get', { id: first })).status).toBe('reviewed');
    await rita.call('team.release', { imageId: first });
  });

  it('an admin adds images as a job with progress, and the embedding queue shows as one job', async () => {
    const admin = await studio();
    await admin.call('team.open', { server: origin, user: 'admin', password });
    const job = await admin.call('images.import', { paths: [files[2], files[0]] });
    expect(job).toMatchObject({ kind: 'import' });
    let finished: any;
    for (let i = 0; i < 100 && !finished; i++) {
      finished = (await admin.call('jobs.list', {})).find((entry: any) => entry.id === job.id && entry.status === 'done');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(finished).toMatchObject({ total: 2, done: 2, failed: 0, result: { uploaded: 1, present: 1, failed: [] } });
    const queue = await admin.call('embeddings.start', {});
    expect(queue).toMatchObject({ id: 1, kind: 'embed', status: 'running', total: 3, done: 2 });
    await expect(admin.call('jobs.cancel', { id: 1 })).rejects.toMatchObject({ code: 'team-unsupported' });
    expect((await admin.call('projects.current')).imageCount).toBe(3);
  });

  it('a save whose answer was lost, and a save while the server restarts, each land once', async () => {
    const first = imageIds[0];
    await ann.call('team.claim', { imageId: first });
    const before = await ann.call('annotations.list', { imageId: first });
    const history = async () => (await teamCall(origin, await signIn(origin, 'admin', password), 'annotations.history', { imageId: first })).result as Array<{ version: number }>;
    const versions = (await history()).length;

    relay.dropNextSaveAnswer = true;
    const saves = relay.saves;
    const lost = await ann.call('annotations.save', { imageId: first, annotations: [...before, { classId: null, rle: mask(96, 64, 30) }] });
    expect(lost).toHaveLength(before.length + 1);
    expect(relay.saves - saves).toBe(2);
    expect((await history()).length).toBe(versions + 1);

    server.process.kill('SIGKILL');
    await server.exited;
    const pending = ann.call('annotations.save', { imageId: first, annotations: [...lost, { classId: null, rle: mask(96, 64, 40) }] });
    await new Promise((resolve) => setTimeout(resolve, 700));
    server = serve();
    await waitForOutput(server, /Pixelwise team server: http/);
    expect(await pending).toHaveLength(before.length + 2);
    expect((await history()).length).toBe(versions + 2);
    expect(await ann.call('annotations.list', { imageId: first })).toHaveLength(before.length + 2);
  }, 60_000);

  it('exports a dataset as a job with progress: COCO of what the server holds, from a snapshot removed after; cancel stops it', async () => {
    const snapshots = () => readdirSync(tmpdir()).filter((name) => name.startsWith('pixelwise-team-export-'));
    const before = snapshots();
    const target = join(dir, 'coco');
    const job = await bob.call('datasets.export', { format: 'coco', target, segmentation: 'rle' });
    expect(job).toMatchObject({ kind: 'dataset-export' });
    const done = await finished(bob, job.id);
    expect(done).toMatchObject({ status: 'done', error: null, result: { path: target, images: 3 } });
    expect(done.done).toBe(done.total);
    expect(done.total).toBeGreaterThan(3);
    expect(snapshots()).toEqual(before);

    // What the server holds, asked directly.
    const admin = await signIn(origin, 'admin', password);
    const images = (await teamCall(origin, admin, 'images.list', { limit: 100 })).result.items as Array<{ id: number; path: string; width: number; height: number }>;
    const classes = (await teamCall(origin, admin, 'classes.list')).result as Array<{ id: number; name: string }>;
    const coco = JSON.parse(readFileSync(join(target, 'annotations.json'), 'utf8'));
    expect(coco.categories.map((category: { name: string }) => category.name)).toEqual(classes.map((entry) => entry.name));
    expect(coco.images.map((image: any) => [image.file_name, image.width, image.height]))
      .toEqual(images.map((image) => [image.path.split('/').pop(), image.width, image.height]));
    const served: Array<[string | undefined, string | null, string, number, number[]]> = [];
    for (const image of images) {
      const bytes = Buffer.from((await teamCall(origin, admin, 'images.download', { id: image.id })).result.data, 'base64');
      expect(readFileSync(join(target, 'images', image.path.split('/').pop()!)).equals(bytes)).toBe(true);
      for (const annotation of (await teamCall(origin, admin, 'annotations.get', { imageId: image.id })).result.annotations) {
        served.push([image.path.split('/').pop(), classes.find((entry) => entry.id === annotation.classId)?.name ?? null, annotation.rle.counts, annotation.area, annotation.bbox]);
      }
    }
    // COCO has no place for an object without a class: the export says how many it left out, as a project file's does.
    const classless = served.filter(([, name]) => name === null);
    expect(done.result.warnings).toEqual([`${classless.length} object(s) without a class were not exported (COCO needs a category)`]);
    const withClass = served.filter(([, name]) => name !== null);
    expect(withClass.length).toBeGreaterThan(1);
    const names = new Map(coco.images.map((image: any) => [image.id, image.file_name]));
    const categories = new Map(coco.categories.map((category: any) => [category.id, category.name]));
    expect(coco.annotations.map((annotation: any) => [names.get(annotation.image_id), categories.get(annotation.category_id) ?? null,
      annotation.segmentation.counts, annotation.area, annotation.bbox])).toEqual(withClass);

    // Cancelled while it pulls: the job ends cancelled and its snapshot is removed.
    const cancelled = await bob.call('datasets.export', { format: 'yolo', target: join(dir, 'yolo') });
    await bob.call('jobs.cancel', { id: cancelled.id });
    expect(await finished(bob, cancelled.id)).toMatchObject({ status: 'cancelled', error: null });
    expect(snapshots()).toEqual(before);
    await expect(bob.call('jobs.cancel', { id: 999 })).rejects.toMatchObject({ code: 'not-found' });
    // A folder that is not empty is refused at once, before anything is pulled.
    const refused = await bob.call('datasets.export', { format: 'coco', target });
    expect(await finished(bob, refused.id)).toMatchObject({ status: 'failed', total: 0, error: expect.stringContaining('is not empty; choose an empty folder or allow overwriting') });
    expect(snapshots()).toEqual(before);
  }, 60_000);

  it('accounts for an admin: the list, a new labeler (the server\'s password rule first), disabling ends her session and frees her image; the last admin in words', async () => {
    const nothingOpen = await studio();
    await expect(nothingOpen.call('team.users')).rejects.toMatchObject({ code: 'team-only' });
    await expect(ann.call('team.users')).rejects.toMatchObject({ code: 'forbidden', message: 'ann is a labeler; "users.list" is for admin accounts' });
    const admin = await studio();
    await admin.call('team.open', { server: origin, user: 'admin', password });
    expect(await admin.call('team.users')).toEqual(expect.arrayContaining([
      { name: 'admin', role: 'admin', disabled: false }, { name: 'ann', role: 'labeler', disabled: false }, { name: 'gpu', role: 'worker', disabled: false },
    ]));
    await expect(admin.call('team.createUser', { name: 'lena', role: 'labeler', password: 'too short' })).rejects.toMatchObject({
      code: 'invalid-input', message: 'a password needs at least 10 characters',
    });
    expect(await admin.call('team.createUser', { name: 'lena', role: 'labeler', password: 'lena password 1' })).toEqual({ name: 'lena', role: 'labeler', disabled: false });
    const lena = await studio();
    await lena.call('team.open', { server: origin, user: 'lena', password: 'lena password 1' });
    const second = imageIds[1];
    expect(await lena.call('team.claim', { imageId: second })).toMatchObject({ held: true, holder: 'lena' });

    expect(await admin.call('team.updateUser', { name: 'lena', disabled: true })).toEqual({
      account: { name: 'lena', role: 'labeler', disabled: true }, endedSessions: 1, freedImages: [second],
    });
    await expect(lena.call('images.list', {})).rejects.toMatchObject({ code: 'account-disabled' });
    expect(await bob.call('team.claim', { imageId: second })).toMatchObject({ held: true, holder: 'bob' });
    await bob.call('team.release', { imageId: second });
    await expect(admin.call('team.updateUser', { name: 'admin', role: 'reviewer' })).rejects.toMatchObject({
      code: 'last-admin', message: 'admin is the only enabled admin; make another account an admin first',
    });
    expect(await admin.call('team.updateUser', { name: 'lena', disabled: false, role: 'reviewer' })).toMatchObject({ account: { name: 'lena', role: 'reviewer', disabled: false } });

    // With a second admin, the first may step down: the studio then offers what a reviewer may do.
    await admin.call('team.createUser', { name: 'ops', role: 'admin', password: 'ops password 1' });
    await expect(admin.call('team.updateUser', { name: 'admin', role: 'worker' })).rejects.toMatchObject({ code: 'invalid-input' });
    await admin.call('team.updateUser', { name: 'admin', role: 'reviewer' });
    expect((await admin.call('projects.current')).team).toMatchObject({ user: 'admin', role: 'reviewer' });
    await expect(admin.call('team.users')).rejects.toMatchObject({ code: 'forbidden' });
    const ops = await signIn(origin, 'ops', 'ops password 1');
    expect((await teamCall(origin, ops, 'users.update', { name: 'admin', role: 'admin' })).ok).toBe(true);
  });

  it('closing a team project gives back the images its studio holds, so nobody waits for the lease to run out', async () => {
    const first = imageIds[0];
    await ann.call('team.claim', { imageId: first });
    expect(await bob.call('team.claim', { imageId: first })).toMatchObject({ held: false, holder: 'ann' });
    await ann.call('projects.close');
    expect(await bob.call('team.claim', { imageId: first })).toMatchObject({ held: true, holder: 'bob' });
    await bob.call('team.release', { imageId: first });
  });
});

/** The job once it has ended (within 20 s). */
async function finished(studio: { call: <T = any>(name: string, input?: unknown) => Promise<T> }, id: number): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const job = (await studio.call<any[]>('jobs.list', {})).find((entry) => entry.id === id);
    if (job && !['queued', 'running'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not end`);
}
