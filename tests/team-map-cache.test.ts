/**
 * The team server's map cache (electron/team/map-cache.ts): the bytes bound holds, least recently used maps go
 * first, concurrent first reads share one read, a read at another version reads again. On a real PostgreSQL cluster,
 * a server with the cache answers search.query and search.feedback exactly as one without it, and a re-embedded
 * image's new map is what the cached server re-ranks and masks with afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingMap, quantize, type StoredEmbedding } from '../core/embedding';
import { encodeRle } from '../core/rle';
import { nearby, objectMask, type PlantedObject, randomUnit, seededRandom, syntheticMap } from '../core/search/synthetic';
import { PgStore } from '../db/pg/store';
import { readManifest } from '../electron/embedding/embedder';
import { describeImage } from '../electron/jobs/import-job';
import { ModelRegistry } from '../electron/models';
import { builtinModelsDir } from '../electron/paths';
import { hashPassword } from '../electron/team/auth';
import { MapCache } from '../electron/team/map-cache';
import { startTeamServer } from '../electron/team/server';
import { tempDir, writeImages } from './fixtures';
import { type PgCluster, startPgCluster } from './pg-cluster';
import { signIn, teamCall } from './team-cli';

const modelId = 'pixelwise-colorpos';
const dim = 16, gridWidth = 40, gridHeight = 30, stride = 4;
const random = seededRandom(2626);
const password = 'correct horse battery';

/** A stored map of `bytes` bytes (int8, 1-d cells). */
const mapOf = (bytes: number, fill = 0): StoredEmbedding => ({
  width: bytes, height: 1, dim: 1, imageWidth: bytes * 4, imageHeight: 4, dtype: 'int8', scale: 1, bytes: new Uint8Array(bytes).fill(fill),
});

describe('MapCache', () => {
  it('keeps at most its bytes, dropping the least recently used; a map over the bound is read but not kept', async () => {
    const cache = new MapCache(3000);
    let reads = 0;
    const read = (bytes: number) => async () => { reads++; return mapOf(bytes); };
    await cache.get('m', 1, 'v1', read(1000));
    await cache.get('m', 2, 'v1', read(1000));
    await cache.get('m', 3, 'v1', read(1000));
    expect(cache.bytes).toBe(3000);
    await cache.get('m', 1, 'v1', read(1000)); // used again: image 2 is now the oldest
    expect(reads).toBe(3);
    await cache.get('m', 4, 'v1', read(1000));
    expect(cache.bytes).toBe(3000);
    expect(cache.size).toBe(3);
    await cache.get('m', 1, 'v1', read(1000));
    await cache.get('m', 3, 'v1', read(1000));
    expect(reads).toBe(4);
    await cache.get('m', 2, 'v1', read(1000)); // dropped: read again
    expect(reads).toBe(5);
    expect(cache.bytes).toBeLessThanOrEqual(3000);
    const big = await cache.get('m', 9, 'v1', read(5000));
    expect(big?.bytes.byteLength).toBe(5000);
    expect(cache.bytes).toBeLessThanOrEqual(3000);
    await cache.get('m', 9, 'v1', read(5000));
    expect(reads).toBe(7);
  });

  it('shares one read between concurrent first reads; another version reads again and replaces it; no map is not kept', async () => {
    const cache = new MapCache(1 << 20);
    let reads = 0;
    const slow = (fill: number) => () => new Promise<StoredEmbedding>((resolve) => { reads++; setTimeout(() => resolve(mapOf(100, fill)), 20); });
    const [a, b, c] = await Promise.all([cache.get('m', 1, 'v1', slow(1)), cache.get('m', 1, 'v1', slow(1)), cache.get('m', 1, 'v1', slow(1))]);
    expect(reads).toBe(1);
    expect(a).toBe(b);
    expect(b).toBe(c);
    const next = await cache.get('m', 1, 'v2', slow(2));
    expect(reads).toBe(2);
    expect(next?.bytes[0]).toBe(2);
    expect(cache.bytes).toBe(100);
    expect(cache.size).toBe(1);
    expect((await cache.get('m', 1, 'v2', slow(3)))?.bytes[0]).toBe(2);
    expect(await cache.get('m', 5, 'v1', async () => undefined)).toBeUndefined();
    expect(cache.size).toBe(1);
    // No version (the caller cannot tell which map is current): read each time, never kept.
    await cache.get('m', 6, undefined, slow(4));
    await cache.get('m', 6, undefined, slow(4));
    expect(reads).toBe(4);
    expect(cache.size).toBe(1);
    // A failed read is not kept either.
    await expect(cache.get('m', 7, 'v1', async () => { throw new Error('connection lost'); })).rejects.toThrow('connection lost');
    expect(cache.size).toBe(1);
  });
});

describe('search on a team server with and without the map cache', () => {
  let cluster: PgCluster;
  let store: PgStore;
  const servers: Array<Awaited<ReturnType<typeof startTeamServer>>> = [];
  let images: number[];
  let example: { imageId: number; rle: ReturnType<typeof encodeRle> };
  let lookalike: PlantedObject;

  const mapWith = (objects: PlantedObject[]): EmbeddingMap =>
    syntheticMap({ width: gridWidth, height: gridHeight, dim, stride, background: [randomUnit(dim, random), randomUnit(dim, random)], objects, random });

  async function embed(imageMaps: Map<number, EmbeddingMap>): Promise<void> {
    await store.tasks.enqueueEmbed(modelId, [...imageMaps.keys()]);
    for (let task = await store.tasks.claim('test', 60); task; task = await store.tasks.claim('test', 60)) {
      expect(await store.tasks.complete(task, quantize(imageMaps.get(task.imageId)!))).toBe(true);
    }
  }

  beforeAll(async () => {
    cluster = await startPgCluster();
    store = await PgStore.open(await cluster.createDatabase('mapcache'));
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
    await store.users.create('ann', 'labeler', await hashPassword(password));
    const files = await writeImages(join(tempDir(), 'images'), 16, gridWidth * stride, gridHeight * stride, 4100);
    images = [];
    for (const file of files) {
      const bytes = readFileSync(file);
      images.push(await store.images.add({ ...(await describeImage(bytes)), path: file.split('/').pop()!, bytes }));
    }
    const target = randomUnit(dim, random);
    const queryObject = { vector: target, x: 4, y: 4, width: 8, height: 6 };
    lookalike = { vector: nearby(target, 0.95, random), x: 24, y: 16, width: 9, height: 7 };
    const maps = new Map<number, EmbeddingMap>();
    images.forEach((imageId, i) => maps.set(imageId, mapWith([i === 0 ? queryObject
      : i % 4 === 0 ? { ...lookalike, vector: nearby(target, 0.8 + i / 100, random) }
        : { vector: randomUnit(dim, random), x: 3 + i, y: 10, width: 8, height: 8 }])));
    maps.set(images[5], mapWith([lookalike]));
    await embed(maps);
    example = { imageId: images[0], rle: encodeRle(objectMask(maps.get(images[0])!, queryObject)) };
    const registry = new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]);
    for (const mapCacheMB of [0, 512]) servers.push(await startTeamServer({ store, registry, host: '127.0.0.1', port: 0, mapCacheMB }));
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await server.close();
    await store?.close();
    await cluster?.stop();
  });

  /** A query, then feedback, then a hit mask, on one server; the same steps on each server give the same answers. */
  async function session(server: (typeof servers)[number], rounds: number) {
    const origin = `http://127.0.0.1:${server.port}`;
    const token = await signIn(origin, 'ann', password);
    const call = async (name: string, input: unknown) => {
      const reply = await teamCall(origin, token, name, input);
      expect(reply.error).toBeUndefined();
      return reply.result;
    };
    const answers: unknown[] = [];
    for (let round = 0; round < rounds; round++) {
      const found = await call('search.query', { examples: [example], modelId, limit: 8, rerank: 12, excludeExampleImages: true });
      type Hit = { imageId: number };
      const hits = found.hits as Hit[];
      const judged = await call('search.feedback', { sessionId: found.sessionId, accepted: [hits[0].imageId], rejected: [hits[hits.length - 1].imageId] });
      const mask = await call('search.hitMask', { sessionId: found.sessionId, imageId: (judged.hits as Hit[])[1].imageId });
      answers.push({ query: found.hits, feedback: judged.hits, mask });
    }
    return answers;
  }

  it('gives the same hits, scores, regions and masks as a server that reads every map from the database', async () => {
    const [uncached, cached] = [await session(servers[0], 1), await session(servers[1], 3)];
    expect(uncached[0]).toMatchObject({ query: expect.arrayContaining([expect.objectContaining({ imageId: images[5] })]) });
    for (const answer of cached) expect(answer).toEqual(uncached[0]); // the first round read the maps, the next from the cache
  });

  it('a re-embedded image\'s new map is what the cached server re-ranks and masks with', async () => {
    const origin = `http://127.0.0.1:${servers[1].port}`;
    const token = await signIn(origin, 'ann', password);
    const only = async () => (await teamCall(origin, token, 'search.query', { examples: [example], modelId, imageIds: [images[5]], limit: 1, rerank: 1 })).result;
    const before = await only();
    expect(before.hits[0].bbox[0]).toBeGreaterThan(80); // planted at cell x 24 = pixel 96
    // Embedded again with the lookalike moved to the top left: the new map, not the cached one, must be used.
    await cluster.query(cluster.databaseUrl('mapcache'), "UPDATE embed_tasks SET status = 'queued' WHERE image_id = $1", [images[5]]);
    await embed(new Map([[images[5], mapWith([{ ...lookalike, x: 2, y: 2 }])]]));
    const after = await only();
    expect(after.hits[0].bbox[0]).toBeLessThan(24);
    expect(after.hits[0].bbox[1]).toBeLessThan(24);
    expect(after.hits[0].grid).not.toEqual(before.hits[0].grid);
    const mask = (await teamCall(origin, token, 'search.hitMask', { sessionId: after.sessionId, imageId: images[5] })).result;
    const uncachedOrigin = `http://127.0.0.1:${servers[0].port}`;
    const uncachedToken = await signIn(uncachedOrigin, 'ann', password);
    const fresh = (await teamCall(uncachedOrigin, uncachedToken, 'search.query', { examples: [example], modelId, imageIds: [images[5]], limit: 1, rerank: 1 })).result;
    expect(after.hits).toEqual(fresh.hits);
    expect(mask).toEqual((await teamCall(uncachedOrigin, uncachedToken, 'search.hitMask', { sessionId: fresh.sessionId, imageId: images[5] })).result);
  });
});
