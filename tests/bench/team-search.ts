/**
 * Stage 1 of team-server search at scale, on a throwaway PostgreSQL cluster (tests/pg-cluster.ts).
 *
 *   npx tsx tests/bench/team-search.ts [--images 100000] [--regions 78] [--dim 16] [--queries 50] [--added 1000] [--threads <cores - 1>]
 *
 * N images with generated region rows (tests/bench/region-rows.ts: R random unit int8 vectors each); 100 of them
 * hold a planted region at cosine ~0.9 to the first query. Then, as the server does it (electron/team/search.ts),
 * on two indexes of the same rows: one scanning on the event loop (as before scan-pool.ts), one in `--threads`
 * worker threads (the server's default), each query run on both, one after the other, so both see the same load:
 *   cold load = the first refresh of a fresh TeamRegionIndex (the missing-regions check plus reading every row);
 *   warm stage 1 = scan() of Q queries against the loaded matrix (ms = the scan, sync = the version check before it);
 *   event loop stall = the longest the event loop went without running a 1 ms timer during the call (what any
 *     other call on the server waits behind a search); idle stall = the same over 100 ms of doing nothing;
 *   catch-up = the refresh after `--added` new rows were inserted (threaded index).
 * The hits of both are compared on every query. Prints wall milliseconds, RSS and the load average; the machine may
 * be shared, so compare runs on one machine only.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUnit, seededRandom } from '../../core/search/synthetic';
import { PgStore } from '../../db/pg/store';
import { readManifest } from '../../electron/embedding/embedder';
import { builtinModelsDir } from '../../electron/paths';
import { defaultScanThreads, ScanPool } from '../../electron/team/scan-pool';
import { type Stage1Result, TeamRegionIndex } from '../../electron/team/search';
import { startPgCluster } from '../pg-cluster';
import { insertImages, insertRegions, plantedIdsOf, type RegionRows } from './region-rows';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '100000' }, regions: { type: 'string', default: '78' }, dim: { type: 'string', default: '16' },
    queries: { type: 'string', default: '50' }, added: { type: 'string', default: '1000' }, threads: { type: 'string', default: String(defaultScanThreads()) } },
});
const imageCount = Number(values.images), queryCount = Number(values.queries), added = Number(values.added), threads = Number(values.threads);
const random = seededRandom(26);
const rows: RegionRows = {
  modelId: 'pixelwise-colorpos', regionsPerImage: Number(values.regions), dim: Number(values.dim), random,
  target: randomUnit(Number(values.dim), random), plantedIds: plantedIdsOf(imageCount, 100),
};
const { modelId, dim, target, plantedIds } = rows;

const percentile = (list: number[], p: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 10) / 10;
};
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const load = () => loadavg().map((value) => Math.round(value * 100) / 100);

/** The call, and the longest gap between runs of a 1 ms timer while it ran. */
async function withStall<T>(call: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now(), stallMs = 0, running = true;
  const tick = () => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
    if (running) timer = setTimeout(tick, 1);
  };
  let timer = setTimeout(tick, 1);
  try {
    return { result: await call(), stallMs: Math.max(stallMs, performance.now() - last) };
  } finally {
    running = false;
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const cluster = await startPgCluster();
  const url = await cluster.createDatabase('search');
  const store = await PgStore.open(url);
  const pool = new ScanPool({ threads });
  try {
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
    let started = performance.now();
    await insertImages(cluster, url, imageCount + added);
    await insertRegions(cluster, url, rows, 1, imageCount);
    await cluster.query(url, 'ANALYZE');
    const insertMs = performance.now() - started;

    const modes = { eventLoop: new TeamRegionIndex(store), workers: new TeamRegionIndex(store, pool) };
    const cold: Record<string, { ms: number; rssGrowthMB: number }> = {};
    for (const [name, index] of Object.entries(modes)) {
      const rssBefore = process.memoryUsage().rss;
      started = performance.now();
      await index.refresh(modelId);
      cold[name] = { ms: Math.round(performance.now() - started), rssGrowthMB: mb(process.memoryUsage().rss - rssBefore) };
    }

    const queries = [target, ...Array.from({ length: queryCount - 1 }, () => randomUnit(dim, random))];
    const timings = Object.fromEntries(Object.keys(modes).map((name) => [name, { stage1: [] as number[], stall: [] as number[], sync: [] as number[] }]));
    const loadBefore = load();
    let recall = 0, differing = 0, last: Stage1Result | undefined;
    const idleStall: number[] = [];
    for (const [i, query] of queries.entries()) {
      const hits: string[] = [];
      for (const [name, index] of Object.entries(modes)) {
        const { result, stallMs } = await withStall(() => index.scan(modelId, [query], { limit: 100 }));
        timings[name].stage1.push(result.ms);
        timings[name].stall.push(stallMs);
        timings[name].sync.push(result.syncMs);
        hits.push(JSON.stringify(result.hits));
        last = result;
        if (i === 0) recall = result.hits.filter((hit) => plantedIds.has(hit.imageId)).length / plantedIds.size;
      }
      if (hits[0] !== hits[1]) differing++;
      idleStall.push((await withStall(() => new Promise((resolve) => setTimeout(resolve, 100)))).stallMs);
    }
    const loadAfter = load();

    await insertRegions(cluster, url, rows, imageCount + 1, imageCount + added);
    started = performance.now();
    const afterAdd = await modes.workers.scan(modelId, [target], { limit: 100 });
    const catchUpMs = performance.now() - started;

    const summary = (name: string) => ({
      coldLoadMs: cold[name].ms, rssGrowthMB: cold[name].rssGrowthMB,
      stage1Ms: { p50: percentile(timings[name].stage1, 50), p95: percentile(timings[name].stage1, 95), max: percentile(timings[name].stage1, 100) },
      eventLoopStallMs: { p50: percentile(timings[name].stall, 50), p95: percentile(timings[name].stall, 95), max: percentile(timings[name].stall, 100) },
      versionCheckMs: { p50: percentile(timings[name].sync, 50), p95: percentile(timings[name].sync, 95) },
    });
    console.log(JSON.stringify({
      images: last!.images, regions: last!.regions, dim, cores: cpus().length, loadAverage: { before: loadBefore, after: loadAfter },
      insertSeconds: Math.round(insertMs / 100) / 10, matrixMB: mb(modes.workers.bytes),
      eventLoop: summary('eventLoop'), workers: { threads, ...summary('workers') },
      // The same probe over 100 ms of waiting for nothing: what this machine's load alone makes the event loop wait.
      idleStallMs: { p50: percentile(idleStall, 50), p95: percentile(idleStall, 95) },
      queriesWithDifferentHits: differing, plantedRecallAt100: recall,
      catchUp: { added, images: afterAdd.images, ms: Math.round(catchUpMs), syncMs: Math.round(afterAdd.syncMs), stage1Ms: Math.round(afterAdd.ms), threads: afterAdd.threads },
    }, null, 1));
  } finally {
    await pool.close();
    await store.close();
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
