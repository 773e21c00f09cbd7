/**
 * Search sessions on a team server (electron/team/search-sessions.ts): what a labeler's query, feedback, hit mask
 * and accept cost the server, on a throwaway PostgreSQL cluster with the server in this process, called over HTTP.
 *
 *   node --expose-gc --import tsx tests/bench/team-search-sessions.ts [--images 200] [--rounds 10] [--map-cache-mb 512]
 *
 * N photos of 1024x768 (JPEG and PNG) with generated maps of the built-in models' shape (256x192 cells, 16-d int8:
 * 0.8 MB each), stored through the embed queue as a worker's are; a tenth hold a lookalike of the query object.
 * Measured (wall ms over HTTP, p50/p95 of `rounds`): search.query (limit 50, rerank 100: stage 2 reads 100 maps
 * from PostgreSQL; queryStage2Ms is that part, as the server timed it); search.feedback (2 rejected, 1 accepted per round: stage 1 with negatives and stage 2 again);
 * search.hitMask of a hit the first time (decoding the image, the click engine) and again (kept with the hit);
 * search.accept of 10 hits (versioned saves under a lease each). Memory: heap + array buffers held by 64 sessions
 * (the most a server keeps), each with 5 hit masks made. --map-cache-mb: the server's map cache (0: every map read
 * from PostgreSQL, as before the cache).
 * The machine may be shared: compare runs on one machine only.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantize } from '../../core/embedding';
import { encodeRle } from '../../core/rle';
import { nearby, objectMask, type PlantedObject, randomUnit, seededRandom, syntheticMap } from '../../core/search/synthetic';
import { PgStore } from '../../db/pg/store';
import { readManifest } from '../../electron/embedding/embedder';
import { describeImage } from '../../electron/jobs/import-job';
import { ModelRegistry } from '../../electron/models';
import { builtinModelsDir } from '../../electron/paths';
import { hashPassword } from '../../electron/team/auth';
import { startTeamServer } from '../../electron/team/server';
import { tempDir, writeImages } from '../fixtures';
import { startPgCluster } from '../pg-cluster';
import { signIn, teamCall } from '../team-cli';

const { values } = parseArgs({ options: { images: { type: 'string', default: '200' }, rounds: { type: 'string', default: '10' }, 'map-cache-mb': { type: 'string', default: '512' } } });
const imageCount = Number(values.images), rounds = Number(values.rounds), mapCacheMB = Number(values['map-cache-mb']);
const modelId = 'pixelwise-colorpos', dim = 16, width = 256, height = 192, stride = 4;
const random = seededRandom(2606);
const target = randomUnit(dim, random);
const password = 'correct horse battery';

const percentile = (list: number[], p: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
};
const spread = (list: number[]) => ({ p50: percentile(list, 50), p95: percentile(list, 95) });
const held = () => {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

async function main(): Promise<void> {
  const cluster = await startPgCluster();
  const store = await PgStore.open(await cluster.createDatabase('sessions'));
  const server = { current: undefined as Awaited<ReturnType<typeof startTeamServer>> | undefined };
  try {
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
    await store.users.create('ann', 'labeler', await hashPassword(password));
    const started = performance.now();
    const files = await writeImages(join(tempDir(), 'images'), imageCount, width * stride, height * stride, 7000);
    const images: number[] = [];
    const objects: PlantedObject[] = [];
    const maps = new Map<number, ReturnType<typeof syntheticMap>>();
    for (const [i, file] of files.entries()) {
      const bytes = readFileSync(file);
      const imageId = await store.images.add({ ...(await describeImage(bytes)), path: basename(file), bytes });
      images.push(imageId);
      const box = { x: 20 + ((i * 37) % 180), y: 20 + ((i * 23) % 120), width: 40, height: 30 };
      objects[i] = { vector: i === 0 ? target : i % 10 === 0 ? nearby(target, 0.9, random) : randomUnit(dim, random), ...box };
      maps.set(imageId, syntheticMap({ width, height, dim, stride, background: [randomUnit(dim, random), randomUnit(dim, random)], objects: [objects[i]], random }));
    }
    await store.tasks.enqueueEmbed(modelId, images);
    for (let task = await store.tasks.claim('bench', 600); task; task = await store.tasks.claim('bench', 600)) {
      await store.tasks.complete(task, quantize(maps.get(task.imageId)!));
      maps.delete(task.imageId);
    }
    const setupSeconds = Math.round((performance.now() - started) / 100) / 10;
    const exampleMap = syntheticMap({ width, height, dim, stride, background: [randomUnit(dim, random), randomUnit(dim, random)], objects: [objects[0]], random });
    const example = { imageId: images[0], rle: encodeRle(objectMask(exampleMap, objects[0])) };

    server.current = await startTeamServer({ store, registry: new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]), host: '127.0.0.1', port: 0, mapCacheMB });
    const origin = `http://127.0.0.1:${server.current.port}`;
    const token = await signIn(origin, 'ann', password);
    const call = async (name: string, input: unknown) => {
      const reply = await teamCall(origin, token, name, input);
      if (!reply.ok) throw new Error(`${name}: ${reply.error?.message}`);
      return reply;
    };
    const query = { examples: [example], modelId, limit: 50, rerank: 100, excludeExampleImages: true };

    const stage2Ms: number[] = [], queryMs: number[] = [], feedbackMs: number[] = [], firstMaskMs: number[] = [], keptMaskMs: number[] = [], acceptMs: number[] = [];
    let planted = 0;
    for (let round = 0; round < rounds; round++) {
      const first = await call('search.query', query);
      queryMs.push(first.ms);
      stage2Ms.push(first.result.stats.stage2Ms);
      if (round === 0) planted = first.result.hits.slice(0, 19).filter((hit: { imageId: number }) => images.indexOf(hit.imageId) % 10 === 0).length;
      const hits = first.result.hits as Array<{ imageId: number }>;
      const judged = await call('search.feedback', { sessionId: first.result.sessionId, rejected: [hits[0].imageId, hits[1].imageId], accepted: [hits[2].imageId] });
      feedbackMs.push(judged.ms);
      const shown = judged.result.hits as Array<{ imageId: number }>;
      const mask = await call('search.hitMask', { sessionId: first.result.sessionId, imageId: shown[round % 10].imageId });
      firstMaskMs.push(mask.ms);
      keptMaskMs.push((await call('search.hitMask', { sessionId: first.result.sessionId, imageId: shown[round % 10].imageId })).ms);
      if (round < 3) {
        // Ten hits written (their masks made here), then undone directly in the store for the next round.
        const accepted = await call('search.accept', { sessionId: first.result.sessionId, classId: null, imageIds: shown.slice(10, 20).map((hit) => hit.imageId) });
        acceptMs.push(accepted.ms);
        for (const imageId of accepted.result.imageIds as number[]) {
          const current = await store.annotations.get(imageId);
          await store.annotations.save({ imageId, baseVersion: current.version, annotations: [], userId: 1 });
        }
      }
    }

    const before = held();
    for (let i = 0; i < 64; i++) {
      // A user keeps 4 sessions: 16 users hold the 64.
      const name = `user${Math.floor(i / 4)}`;
      if (i % 4 === 0) await store.users.create(name, 'labeler', await hashPassword(password)).catch(() => undefined);
      const own = await signIn(origin, name, password);
      const found = await teamCall(origin, own, 'search.query', query);
      for (const hit of (found.result.hits as Array<{ imageId: number }>).slice(0, 5)) {
        await teamCall(origin, own, 'search.hitMask', { sessionId: found.result.sessionId, imageId: hit.imageId });
      }
    }
    const sessionsMB = Math.round((held() - before) / 1024 / 1024);

    console.log(JSON.stringify({
      images: imageCount, mapCacheMB, imageSize: `${width * stride}x${height * stride}`, mapMB: Math.round((width * height * dim) / 1024 / 102.4) / 10, setupSeconds,
      plantedInTop19: `${planted} of ${Math.min(19, Math.floor((imageCount - 1) / 10))}`,
      queryMs: spread(queryMs), queryStage2Ms: spread(stage2Ms), feedbackMs: spread(feedbackMs), hitMaskFirstMs: spread(firstMaskMs), hitMaskKeptMs: spread(keptMaskMs),
      accept10Ms: spread(acceptMs), heldBy64SessionsMB: sessionsMB, gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    }, null, 1));
  } finally {
    await server.current?.close();
    await store.close();
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
