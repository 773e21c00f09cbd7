/**
 * Similar-object search on a team server, on a real PostgreSQL cluster: maps go in through the embed queue's
 * completion (the worker's path, which stores each map's region vectors in the same transaction), and search.query
 * is called over HTTP. Maps are generated (core/search/synthetic.ts) so the planted objects are known: the object
 * planted near the query ranks first; roles without search are refused; a map stored after the server has loaded
 * its matrix is found by the next query, and so is one stored again (re-embedded) with its object moved.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingMap, quantize } from '../core/embedding';
import { encodeRle } from '../core/rle';
import { nearby, objectMask, type PlantedObject, randomUnit, seededRandom, syntheticMap } from '../core/search/synthetic';
import pg from 'pg';
import { PgStore } from '../db/pg/store';
import { SqliteStore } from '../db/sqlite-store';
import { regionSetOf } from '../db/store';
import { readManifest } from '../electron/embedding/embedder';
import { describeImage } from '../electron/jobs/import-job';
import { ModelRegistry } from '../electron/models';
import { builtinModelsDir } from '../electron/paths';
import { hashPassword } from '../electron/team/auth';
import { TeamRegionIndex } from '../electron/team/search';
import { startTeamServer } from '../electron/team/server';
import { tempDir, writeImages } from './fixtures';
import { type PgCluster, startPgCluster } from './pg-cluster';
import { signIn, teamCall } from './team-cli';

const modelId = 'pixelwise-colorpos';
const dim = 16, gridWidth = 40, gridHeight = 30, stride = 4;
const random = seededRandom(26);
const target = randomUnit(dim, random);
const password = 'correct horse battery';

let cluster: PgCluster;
let store: PgStore;
let server: Awaited<ReturnType<typeof startTeamServer>>;
let tokens: Record<'admin' | 'labeler' | 'reviewer' | 'worker', string>;
let images: number[];
const maps = new Map<number, EmbeddingMap>();
let queryObject: PlantedObject;

function mapWith(objects: PlantedObject[]): EmbeddingMap {
  return syntheticMap({ width: gridWidth, height: gridHeight, dim, stride, background: [randomUnit(dim, random), randomUnit(dim, random)], objects, random });
}

/** Stores maps through the embed queue, as a worker does: enqueue, claim, complete. */
async function embed(imageMaps: Map<number, EmbeddingMap>): Promise<void> {
  await store.tasks.enqueueEmbed(modelId, [...imageMaps.keys()]);
  for (;;) {
    const task = await store.tasks.claim('test', 60);
    if (!task) break;
    expect(await store.tasks.complete(task, quantize(imageMaps.get(task.imageId)!))).toBe(true);
  }
}

async function addImages(count: number, seed: number): Promise<number[]> {
  const files = await writeImages(join(tempDir(), 'images'), count, gridWidth * stride, gridHeight * stride, seed);
  const ids: number[] = [];
  for (const file of files) {
    const bytes = readFileSync(file);
    ids.push(await store.images.add({ ...(await describeImage(bytes)), path: `${seed}/${file.split('/').pop()!}`, bytes }));
  }
  return ids;
}

beforeAll(async () => {
  cluster = await startPgCluster();
  const database = await cluster.createDatabase('search');
  store = await PgStore.open(database);
  await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
  for (const role of ['admin', 'labeler', 'reviewer', 'worker'] as const) await store.users.create(role, role, await hashPassword(password));
  images = await addImages(12, 1000);
  // Image 0 holds the query object; image 5 a similar one (cosine 0.95) elsewhere; the rest unrelated objects.
  queryObject = { vector: target, x: 4, y: 4, width: 8, height: 6 };
  images.forEach((imageId, i) => {
    const object = i === 0 ? queryObject
      : i === 5 ? { vector: nearby(target, 0.95, random), x: 24, y: 16, width: 9, height: 7 }
        : { vector: randomUnit(dim, random), x: 6 + i, y: 10, width: 8, height: 8 };
    maps.set(imageId, mapWith([object]));
  });
  await embed(maps);
  const registry = new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]);
  server = await startTeamServer({ store, registry, host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${server.port}`;
  tokens = Object.fromEntries(await Promise.all((['admin', 'labeler', 'reviewer', 'worker'] as const)
    .map(async (role) => [role, await signIn(origin, role, password)]))) as typeof tokens;
}, 120_000);

afterAll(async () => {
  await server?.close();
  await store?.close();
  await cluster?.stop();
});

const origin = () => `http://127.0.0.1:${server.port}`;
const query = (token: string, input: Record<string, unknown> = {}) => teamCall(origin(), token, 'search.query', {
  examples: [{ imageId: images[0], rle: encodeRle(objectMask(maps.get(images[0])!, queryObject)) }],
  modelId, limit: 5, excludeExampleImages: true, ...input,
});

describe('search on a team server', () => {
  it('stores each map\'s region vectors with it, and ranks the planted similar object first with its box', async () => {
    const [{ n }] = await cluster.query<{ n: number }>(cluster.databaseUrl('search'),
      'SELECT count(*)::int AS n FROM region_sets WHERE model_id = $1 AND region_count > 1', [modelId]);
    expect(n).toBe(images.length);
    const reply = await query(tokens.labeler);
    expect(reply.error).toBeUndefined();
    expect(reply.status).toBe(200);
    const { hits, stats } = reply.result;
    expect(stats.images).toBe(images.length);
    expect(stats.regions).toBeGreaterThan(images.length * 10);
    expect(hits).toHaveLength(5);
    expect(hits[0].imageId).toBe(images[5]);
    expect(hits[0].score).toBeGreaterThan(0.85);
    expect(hits[0].regionScore).toBeGreaterThan(0.85);
    expect(hits[1].score).toBeLessThan(hits[0].score - 0.2);
    expect(hits.map((hit: { imageId: number }) => hit.imageId)).not.toContain(images[0]);
    // Planted at cells (24, 16) 9 x 7 = pixels (96, 64) 36 x 28.
    const [x, y, w, h] = hits[0].bbox;
    expect(Math.abs(x - 96)).toBeLessThanOrEqual(8);
    expect(Math.abs(y - 64)).toBeLessThanOrEqual(8);
    expect(Math.abs(x + w - 132)).toBeLessThanOrEqual(8);
    expect(Math.abs(y + h - 92)).toBeLessThanOrEqual(8);
    expect(hits[0].imageHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is for labelers, reviewers and admins; a worker account and no session are refused', async () => {
    expect((await query(tokens.reviewer)).result.hits[0].imageId).toBe(images[5]);
    expect((await query(tokens.admin)).result.hits[0].imageId).toBe(images[5]);
    const worker = await query(tokens.worker);
    expect(worker.status).toBe(403);
    expect(worker.error?.message).toContain('"search.query" is for admin or labeler or reviewer accounts');
    const anonymous = await teamCall(origin(), 'not-a-token', 'search.query', {});
    expect(anonymous.status).toBe(401);
  });

  it('bad examples get a sentence: a mask of the wrong size, an image without a map, an annotation id, a class', async () => {
    const wrongSize = await query(tokens.labeler, { examples: [{ imageId: images[0], rle: encodeRle({ width: 10, height: 10, data: new Uint8Array(100).fill(1) }) }] });
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.error?.message).toBe(`example on image ${images[0]}: the mask is 10x10 but the image is 160x120`);
    const [bare] = await addImages(1, 3000);
    const notEmbedded = await query(tokens.labeler, { examples: [{ imageId: bare, rle: encodeRle(objectMask(maps.get(images[0])!, queryObject)) }] });
    expect(notEmbedded.error?.code).toBe('not-embedded');
    const byAnnotation = await query(tokens.labeler, { examples: [{ annotationId: 1 }] });
    expect(byAnnotation.error?.message).toContain('search by an existing annotation works in local projects only');
    const byClass = await query(tokens.labeler, { examples: undefined, classId: 1 });
    expect(byClass.status).toBe(400);
    expect(byClass.error?.message).toContain('"find more of this class" works in local projects only');
  });

  it('a map stored after the matrix was loaded is found by the next query; a re-embedded image is found where its object now is', async () => {
    const [fresh] = await addImages(1, 2000);
    maps.set(fresh, mapWith([{ vector: nearby(target, 0.99, random), x: 2, y: 18, width: 10, height: 8 }]));
    await embed(new Map([[fresh, maps.get(fresh)!]]));
    let { hits, stats } = (await query(tokens.labeler)).result;
    expect(stats.images).toBe(images.length + 1);
    expect(hits[0].imageId).toBe(fresh);
    expect(hits[1].imageId).toBe(images[5]);

    // Image 5 embedded again (its task queued again), now without the object: its region row is replaced with a
    // new seq, its old row in the matrix goes stale, and it drops out of the top hits.
    const url = cluster.databaseUrl('search');
    await cluster.query(url, "UPDATE embed_tasks SET status = 'queued' WHERE image_id = $1", [images[5]]);
    maps.set(images[5], mapWith([{ vector: randomUnit(dim, random), x: 1, y: 1, width: 5, height: 5 }]));
    await embed(new Map([[images[5], maps.get(images[5])!]]));
    ({ hits, stats } = (await query(tokens.labeler, { limit: 3 })).result);
    expect(stats.images).toBe(images.length + 1);
    expect(hits[0].imageId).toBe(fresh);
    expect(hits.map((hit: { imageId: number }) => hit.imageId)).not.toContain(images[5]);
    // Stage 1 itself scores the new row only (the old one would still score ~0.95).
    const only = (await query(tokens.labeler, { imageIds: [images[5]], limit: 1 })).result.hits;
    expect(only).toHaveLength(1);
    expect(only[0].regionScore).toBeLessThan(0.8);

    // A map removed (its region row goes with it): the matrix is loaded again without it.
    await cluster.query(url, 'DELETE FROM embeddings WHERE image_id = $1', [fresh]);
    ({ hits, stats } = (await query(tokens.labeler, { limit: 3 })).result);
    expect(stats.images).toBe(images.length);
    expect(hits.map((hit: { imageId: number }) => hit.imageId)).not.toContain(fresh);
  });

  it('a map whose transaction took its seq first but committed last is still found', async () => {
    const [early, late] = await addImages(2, 4000);
    const url = cluster.databaseUrl('search');
    const earlyMap = mapWith([{ vector: nearby(target, 0.99, random), x: 20, y: 2, width: 8, height: 8 }]);
    const stored = quantize(earlyMap);
    const set = regionSetOf(stored);
    const bytes = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // The early writer takes its seq; the late one stores its map and commits (a higher seq); a query loads past it.
      await client.query('BEGIN');
      const [{ seq }] = (await client.query<{ seq: string }>("SELECT nextval('region_sets_seq') AS seq")).rows;
      maps.set(late, mapWith([{ vector: randomUnit(dim, random), x: 3, y: 3, width: 6, height: 6 }]));
      await embed(new Map([[late, maps.get(late)!]]));
      expect((await query(tokens.labeler)).result.stats.images).toBe(images.length + 1);
      // Then the early writer's rows land, with the lower seq.
      await client.query(`INSERT INTO embeddings (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [early, modelId, stored.width, stored.height, stored.dim, stored.imageWidth,
        stored.imageHeight, stored.dtype, stored.scale, bytes(stored.bytes)]);
      await client.query(`INSERT INTO region_sets (seq, image_id, model_id, grid_width, grid_height, image_width, image_height, dim, leaf_count,
        region_count, labels, parents, boxes, vectors) VALUES ($14, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [early, modelId, set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight, set.dim, set.leafCount, set.parents.length,
        bytes(set.labels), bytes(set.parents), bytes(set.boxes), bytes(set.vectors), seq]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const { hits, stats } = (await query(tokens.labeler, { limit: 3 })).result;
    expect(stats.images).toBe(images.length + 2);
    expect(hits[0].imageId).toBe(early);
  });

  it('a server that sees many small catch-ups re-packs its matrix: stale rows go, every image keeps its newest row', async () => {
    const index = new TeamRegionIndex(store);
    const [image] = await addImages(1, 5000);
    const url = cluster.databaseUrl('search');
    await index.refresh(modelId);
    const live = index.held(modelId)!.images;
    for (let round = 0; round < 40; round++) {
      // Each round re-embeds the image (a new row, a new seq) and a query catches up on it: one chunk per round.
      await cluster.query(url, "UPDATE embed_tasks SET status = 'queued' WHERE image_id = $1", [image]);
      const similarity = round === 39 ? 0.97 : 0.3;
      await embed(new Map([[image, mapWith([{ vector: nearby(target, similarity, random), x: 5, y: 5, width: 8, height: 8 }])]]));
      if (round === 0) expect((await store.tasks.counts()).queued).toBe(0);
      await index.refresh(modelId);
    }
    const held = index.held(modelId)!;
    expect(held.images).toBe(live + 1);
    expect(held.chunks).toBeLessThanOrEqual(34);
    expect(held.staleRows).toBeLessThan(34);
    const [{ regions }] = await cluster.query<{ regions: number }>(url, 'SELECT sum(region_count)::int AS regions FROM region_sets WHERE model_id = $1', [modelId]);
    const result = await index.scan(modelId, [target], { limit: 1, only: new Set([image]) });
    expect(result.regions).toBeGreaterThanOrEqual(regions);
    expect(result.hits[0].score).toBeGreaterThan(0.9);
    const all = await index.scan(modelId, [target], { limit: 1000 });
    expect(all.hits.filter((hit) => hit.imageId === image)).toHaveLength(1);
  });
});

describe('maps stored before the server kept regions', () => {
  it('get their regions when a server first searches the model', async () => {
    const url = cluster.databaseUrl('search');
    // As after the upgrade to schema 3: the embedding is there, its region row is not.
    await cluster.query(url, 'DELETE FROM region_sets WHERE image_id = $1', [images[0]]);
    const index = new TeamRegionIndex(store);
    const result = await index.scan(modelId, [target], { limit: 1, only: new Set([images[0]]) });
    expect(result.hits[0].imageId).toBe(images[0]);
    expect(result.hits[0].score).toBeGreaterThan(0.9);
    const [{ n }] = await cluster.query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM region_sets WHERE image_id = $1', [images[0]]);
    expect(n).toBe(1);
  });
});

describe('search on a served project file', () => {
  it('the SQLite store writes regions with each map too, and the same index finds the planted object', async () => {
    const file = new SqliteStore(join(tempDir(), 'served.pixelwise'), { create: true });
    try {
      await file.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
      const paths = await writeImages(join(tempDir(), 'images'), 6, gridWidth * stride, gridHeight * stride, 6000);
      const ids: number[] = [];
      for (const path of paths) {
        const bytes = readFileSync(path);
        ids.push(await file.images.add({ ...(await describeImage(bytes)), path: path.split('/').pop()!, bytes }));
      }
      const fileMaps = new Map(ids.map((imageId, i) => [imageId, mapWith([i === 3
        ? { vector: nearby(target, 0.95, random), x: 10, y: 10, width: 8, height: 8 }
        : { vector: randomUnit(dim, random), x: 10, y: 10, width: 8, height: 8 }])]));
      await file.tasks.enqueueEmbed(modelId, ids);
      for (let task = await file.tasks.claim('test', 60); task; task = await file.tasks.claim('test', 60)) {
        expect(await file.tasks.complete(task, quantize(fileMaps.get(task.imageId)!))).toBe(true);
      }
      const index = new TeamRegionIndex(file);
      const first = await index.scan(modelId, [target], { limit: 2 });
      expect(first.images).toBe(ids.length);
      expect(first.hits[0].imageId).toBe(ids[3]);
      expect(first.hits[0].score).toBeGreaterThan(0.85);
      // A map removed from the file: the count tells, and the matrix is loaded again without it.
      file.project.db.prepare('DELETE FROM embeddings WHERE image_id = ?').run(ids[3]);
      const after = await index.scan(modelId, [target], { limit: 2 });
      expect(after.images).toBe(ids.length - 1);
      expect(after.hits.map((hit) => hit.imageId)).not.toContain(ids[3]);
    } finally {
      await file.close();
    }
  });
});
