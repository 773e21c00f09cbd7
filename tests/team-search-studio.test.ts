/**
 * Search sessions on a team project, from studios in web mode (the renderer's HTTP transport, no renderer) to a
 * team server on a real PostgreSQL cluster: search.query, search.feedback, search.hitMask and search.accept answer
 * as they do on a project file. Maps are generated (core/search/synthetic.ts) so the planted objects are known, and
 * go in through the embed queue as a worker's do. The same images and maps in a project file answer the same
 * ranking, the same feedback and the same hit masks (one session engine, electron/search/sessions.ts). Accept writes
 * through the versioned save: another labeler sees the objects at a new version; an image another labeler holds
 * is skipped with who holds it and left at its version; annotations.remove undoes an accept as locally.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingMap, quantize } from '../core/embedding';
import { encodeRle } from '../core/rle';
import { nearby, objectMask, type PlantedObject, randomUnit, seededRandom, syntheticMap } from '../core/search/synthetic';
import { PgStore } from '../db/pg/store';
import { Project } from '../db/project';
import { readManifest } from '../electron/embedding/embedder';
import { describeImage } from '../electron/jobs/import-job';
import { ModelRegistry } from '../electron/models';
import { builtinModelsDir } from '../electron/paths';
import { indexStored } from '../electron/search/indexer';
import { createSearchService } from '../electron/search/service';
import { hashPassword } from '../electron/team/auth';
import { startTeamServer } from '../electron/team/server';
import { startWebServer } from '../electron/web/server';
import { tempDir, writeImages } from './fixtures';
import { type PgCluster, startPgCluster } from './pg-cluster';
import { signIn, teamCall } from './team-cli';

const modelId = 'pixelwise-colorpos';
const dim = 16, gridWidth = 40, gridHeight = 30, stride = 4;
const random = seededRandom(2612);
const target = randomUnit(dim, random);
const password = 'correct horse battery';

let cluster: PgCluster;
let store: PgStore;
let server: Awaited<ReturnType<typeof startTeamServer>>;
let origin: string;
let dir: string;
let files: string[];
let images: number[];
const maps: EmbeddingMap[] = [];
const planted: PlantedObject[] = [];
let local: Project;
const studios: Array<Awaited<ReturnType<typeof startWebServer>>> = [];

/** Image 0 holds the query object; 3, 5, 7 and 9 lookalikes (cosine 0.97 to 0.91 with it); the rest unrelated objects. */
const likeness: Record<number, number> = { 3: 0.97, 5: 0.95, 7: 0.93, 9: 0.91 };

beforeAll(async () => {
  cluster = await startPgCluster();
  store = await PgStore.open(await cluster.createDatabase('searchstudio'));
  await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
  for (const [name, role] of [['admin', 'admin'], ['ann', 'labeler'], ['bob', 'labeler'], ['rita', 'reviewer']] as const) {
    await store.users.create(name, role, await hashPassword(password));
  }
  dir = tempDir();
  files = await writeImages(join(dir, 'images'), 12, gridWidth * stride, gridHeight * stride, 4100);
  // The same images in a project file, for the answers a team project must match.
  local = new Project(join(dir, 'local.pixelwise'), { create: true });
  local.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
  images = [];
  for (const [i, file] of files.entries()) {
    const bytes = readFileSync(file);
    const described = await describeImage(bytes);
    images.push(await store.images.add({ ...described, path: `batch/${basename(file)}`, bytes }));
    expect(local.images.add({ ...described, path: `images/${basename(file)}` })).toBe(i + 1);
    planted[i] = i === 0 ? { vector: target, x: 4, y: 4, width: 8, height: 6 }
      : { vector: likeness[i] ? nearby(target, likeness[i], random) : randomUnit(dim, random), x: 6 + 2 * i, y: 10 + (i % 3) * 4, width: 9, height: 8 };
    maps[i] = syntheticMap({ width: gridWidth, height: gridHeight, dim, stride, background: [randomUnit(dim, random), randomUnit(dim, random)], objects: [planted[i]], random });
  }
  await store.tasks.enqueueEmbed(modelId, images);
  for (let task = await store.tasks.claim('test', 60); task; task = await store.tasks.claim('test', 60)) {
    const stored = quantize(maps[images.indexOf(task.imageId)]);
    expect(await store.tasks.complete(task, stored)).toBe(true);
    const localId = images.indexOf(task.imageId) + 1;
    local.embeddings.put(localId, modelId, stored);
    indexStored(local, localId, modelId);
  }
  await store.classes.create('cup');
  local.classes.create('cup');
  const registry = new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]);
  server = await startTeamServer({ store, registry, host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${server.port}`;
}, 120_000);

afterAll(async () => {
  for (const studio of studios) await studio.close();
  local?.close();
  await server?.close();
  await store?.close();
  await cluster?.stop();
});

/** A studio in web mode signed in to the team server; call() is the renderer's API call. */
async function studio(user: string) {
  const web = await startWebServer({ port: 0, host: '127.0.0.1', dataDir: tempDir(), token: `studio-${user}-token` });
  studios.push(web);
  const call = async <T = any>(name: string, input: unknown = {}): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${web.port}/api/${name.replace('.', '/')}`, {
      method: 'POST', body: JSON.stringify(input), headers: { 'content-type': 'application/json', authorization: `Bearer ${web.token}` },
    });
    const body = await response.json() as { ok: boolean; result: T; error?: { code: string; message: string } };
    if (!body.ok) throw Object.assign(new Error(body.error!.message), { code: body.error!.code });
    return body.result;
  };
  await call('team.open', { server: origin, user, password });
  return call;
}

interface Hit { imageId: number; score: number; judgement: string | null }

const example = () => ({ imageId: images[0], rle: encodeRle(objectMask(maps[0], planted[0])) });
const query = { limit: 6, rerank: 12, excludeExampleImages: true };
/** Hits as [image index, score] (the team's and the file's ids are both in image order). */
const ranking = (hits: Hit[], ids: number[]) => hits.map((hit) => [ids.indexOf(hit.imageId), hit.score]);
const localIds = () => files.map((_file, i) => i + 1);
const version = async (imageId: number) => (await store.annotations.get(imageId)).version;

describe('search sessions on a team project', () => {
  let ann: Awaited<ReturnType<typeof studio>>;
  let bob: Awaited<ReturnType<typeof studio>>;
  const search = () => createSearchService(local, { defaultModelId: modelId });
  let file: ReturnType<typeof search>;

  beforeAll(async () => {
    [ann, bob] = await Promise.all([studio('ann'), studio('bob')]);
    file = search();
  });

  it('query and feedback rank as a project file does; rejecting the best hit moves it down', async () => {
    const first = await ann('search.query', { examples: [example()], ...query });
    expect(first.sessionId).not.toBe('');
    expect(first.hits.slice(0, 4).map((hit: Hit) => images.indexOf(hit.imageId))).toEqual([3, 5, 7, 9]);
    const mine = file.search.query({ examples: [{ ...example(), imageId: 1 }], ...query });
    expect(ranking(first.hits, images).map(([i]) => i)).toEqual(ranking(mine.hits, localIds()).map(([i]) => i));
    ranking(first.hits, images).forEach(([, score], k) => expect(score).toBeCloseTo(ranking(mine.hits, localIds())[k][1], 5));

    const judged = await ann('search.feedback', { sessionId: first.sessionId, rejected: [images[3]], accepted: [images[7]] });
    const order = judged.hits.map((hit: Hit) => images.indexOf(hit.imageId));
    expect(order.indexOf(3)).toBeGreaterThan(2);
    expect(order.slice(0, 2)).toEqual([7, 5]);
    expect(judged.hits.find((hit: Hit) => hit.imageId === images[3]).judgement).toBe('rejected');
    const again = file.search.feedback({ sessionId: mine.sessionId, rejected: [4], accepted: [8] });
    expect(ranking(judged.hits, images).map(([i]) => i)).toEqual(ranking(again.hits, localIds()).map(([i]) => i));
    ranking(judged.hits, images).forEach(([, score], k) => expect(score).toBeCloseTo(ranking(again.hits, localIds())[k][1], 5));
  });

  it('accept writes the hit mask as shown through a versioned save: bob sees it at a new version; undo removes it', async () => {
    const { sessionId } = await ann('search.query', { examples: [example()], ...query });
    const mine = file.search.query({ examples: [{ ...example(), imageId: 1 }], ...query });
    const cup = (await ann('classes.list'))[0];
    const target5 = images[5];
    const preview = await ann('search.hitMask', { sessionId, imageId: target5 });
    expect(preview.rle).toEqual((await file.search.hitMask({ sessionId: mine.sessionId, imageId: 6 })).rle);
    expect(await version(target5)).toBe(0);

    const accepted = await ann('search.accept', { sessionId, classId: cup.id, imageIds: [target5] });
    expect(accepted).toMatchObject({ imageIds: [target5], alreadyLabelled: [], skipped: [] });
    expect(await version(target5)).toBe(1);
    const seen = await bob('annotations.list', { imageId: target5 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ id: accepted.annotationIds[0], classId: cup.id, source: 'search', rle: preview.rle });
    expect((await store.activity.list(target5)).at(-1)).toMatchObject({ userName: 'ann', action: 'save' });
    // The lease taken for the write was given back: bob can claim the image now.
    expect(await bob('team.claim', { imageId: target5 })).toMatchObject({ held: true, holder: 'bob' });
    await bob('team.release', { imageId: target5 });
    // Accepting the same hit again labels nothing twice.
    expect(await ann('search.accept', { sessionId, classId: cup.id, imageIds: [target5] })).toMatchObject({ annotationIds: [], alreadyLabelled: [target5] });

    await ann('annotations.remove', { ids: accepted.annotationIds });
    expect(await bob('annotations.list', { imageId: target5 })).toEqual([]);
    expect(await version(target5)).toBe(2);
  });

  it('a hit on an image another labeler holds is skipped with who holds it and not written; the rest are', async () => {
    const { sessionId, hits } = await ann('search.query', { examples: [example()], ...query });
    const [held, free] = [images[7], images[9]];
    expect(hits.map((hit: Hit) => hit.imageId)).toEqual(expect.arrayContaining([held, free]));
    expect(await bob('team.claim', { imageId: held })).toMatchObject({ held: true, holder: 'bob' });
    const before = await version(held);
    const accepted = await ann('search.accept', { sessionId, classId: null, imageIds: [held, free] });
    expect(accepted.imageIds).toEqual([free]);
    expect(accepted.skipped).toEqual([{ imageId: held, reason: expect.stringMatching(new RegExp(`^bob is labeling image ${held} until .+: it was left as it was$`)) }]);
    expect(await version(held)).toBe(before);
    expect(await bob('annotations.list', { imageId: held })).toEqual([]);
    expect(await bob('annotations.list', { imageId: free })).toHaveLength(1);
    // Bob's lease is still his.
    expect((await store.leases.get(held))?.userName).toBe('bob');
    await bob('team.release', { imageId: held });
    await ann('annotations.remove', { ids: accepted.annotationIds });
  });

  it('sessions are their user\'s own; a reviewer searches but does not accept', async () => {
    const { sessionId } = await ann('search.query', { examples: [example()], ...query });
    await expect(bob('search.feedback', { sessionId, rejected: [images[3]] })).rejects.toMatchObject({ code: 'not-found', message: `search session ${sessionId} has expired; run the query again` });
    const rita = await studio('rita');
    const found = await rita('search.query', { examples: [example()], ...query });
    expect((await rita('search.feedback', { sessionId: found.sessionId, rejected: [images[3]] })).hits.length).toBe(6);
    await expect(rita('search.accept', { sessionId: found.sessionId, classId: null, imageIds: [images[5]] })).rejects.toMatchObject({
      code: 'forbidden', message: 'rita is a reviewer; "search.accept" is for admin or labeler accounts',
    });
    // Each user keeps their 4 newest sessions: ann's fifth query drops her first.
    const sessions = [];
    for (let i = 0; i < 5; i++) sessions.push((await ann('search.query', { examples: [example()], ...query })).sessionId);
    await expect(ann('search.hitMask', { sessionId: sessions[0], imageId: images[5] })).rejects.toMatchObject({ code: 'not-found' });
    expect((await ann('search.hitMask', { sessionId: sessions[4], imageId: images[5] })).imageId).toBe(images[5]);
    const admin = await signIn(origin, 'admin', password);
    expect((await teamCall(origin, admin, 'search.feedback', { sessionId: sessions[4] })).error?.code).toBe('not-found');
  });
});
