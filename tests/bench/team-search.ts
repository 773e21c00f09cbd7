/**
 * Stage 1 of team-server search at scale, on a throwaway PostgreSQL cluster (tests/pg-cluster.ts).
 *
 *   npx tsx tests/bench/team-search.ts [--images 100000] [--regions 78] [--dim 16] [--queries 50] [--added 1000]
 *
 * N images with generated region rows (R random unit int8 vectors each; R = 78 is what the indexer gives for a
 * 64x43 region grid with 40 leaves, dim 16 is the built-in models' width), inserted straight into region_sets with
 * unnest() batches (images and tiny 4x3 embedding rows made in SQL, for the foreign keys); 100 of them hold a
 * planted region at cosine ~0.9 to the first query. Then, as the server does it (electron/team/search.ts):
 *   cold load = the first refresh of a fresh TeamRegionIndex (the missing-regions check plus reading every row);
 *   warm stage 1 = scan() of Q queries against the loaded matrix (ms = the scan, sync = the version check before it,
 *     cpu = this process's CPU time for the call);
 *   catch-up = the refresh after `--added` new rows were inserted.
 * Prints wall milliseconds and RSS; the machine may be shared, so compare runs on one machine only.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nearby, randomUnit, seededRandom } from '../../core/search/synthetic';
import { toInt8 } from '../../core/search/scan';
import { PgStore } from '../../db/pg/store';
import { readManifest } from '../../electron/embedding/embedder';
import { builtinModelsDir } from '../../electron/paths';
import { TeamRegionIndex } from '../../electron/team/search';
import { type PgCluster, startPgCluster } from '../pg-cluster';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '100000' }, regions: { type: 'string', default: '78' }, dim: { type: 'string', default: '16' },
    queries: { type: 'string', default: '50' }, added: { type: 'string', default: '1000' } },
});
const imageCount = Number(values.images), regionsPerImage = Number(values.regions), dim = Number(values.dim);
const queryCount = Number(values.queries), added = Number(values.added);
const modelId = 'pixelwise-colorpos', planted = 100, batch = 2000;
const random = seededRandom(26);
const target = randomUnit(dim, random);
const plantedIds = new Set(Array.from({ length: planted }, (_, i) => 1 + Math.floor(((i + 0.5) * imageCount) / planted)));

const percentile = (list: number[], p: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 10) / 10;
};
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** One image's region vectors: random unit int8, with a region near the target on planted images. */
function vectorsOf(imageId: number): Buffer {
  const out = Buffer.alloc(regionsPerImage * dim);
  const view = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let r = 0; r < regionsPerImage; r++) view.set(toInt8(randomUnit(dim, random)), r * dim);
  if (plantedIds.has(imageId)) view.set(toInt8(nearby(target, 0.9, random)), Math.floor(random() * regionsPerImage) * dim);
  return out;
}

/** Embedding rows (tiny, for the foreign key) and region rows of images from..to. */
async function insertRegions(cluster: PgCluster, url: string, from: number, to: number): Promise<void> {
  await cluster.query(url, `INSERT INTO embeddings (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
    SELECT g, $3, 4, 3, $4, 640, 480, 'int8', 1, decode(repeat('00', 12 * $4), 'hex') FROM generate_series($1::int, $2::int) g`, [from, to, modelId, dim]);
  const parents = Buffer.alloc(regionsPerImage * 2), boxes = Buffer.alloc(regionsPerImage * 10), labels = Buffer.alloc(1);
  for (let start = from; start <= to; start += batch) {
    const ids = Array.from({ length: Math.min(batch, to - start + 1) }, (_, i) => start + i);
    await cluster.query(url, `INSERT INTO region_sets (image_id, model_id, grid_width, grid_height, image_width, image_height, dim, leaf_count,
        region_count, labels, parents, boxes, vectors)
      SELECT id, $2, 1, 1, 640, 480, $3, 40, $4, $5, $6, $7, v FROM unnest($1::int[], $8::bytea[]) AS t (id, v)`,
    [ids, modelId, dim, regionsPerImage, labels, parents, boxes, ids.map(vectorsOf)]);
  }
}

async function main(): Promise<void> {
  const cluster = await startPgCluster();
  const url = await cluster.createDatabase('search');
  const store = await PgStore.open(url);
  try {
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
    let started = performance.now();
    const total = imageCount + added;
    await cluster.query(url, `INSERT INTO images (path, hash, width, height, byte_size, format, data, thumbnail)
      SELECT 'scene-' || g || '.jpg', md5(g::text) || md5((-g)::text), 640, 480, 1, 'jpeg', '\\x00', '\\x00' FROM generate_series(1, $1::int) g`, [total]);
    await insertRegions(cluster, url, 1, imageCount);
    await cluster.query(url, 'ANALYZE');
    const insertMs = performance.now() - started;

    const index = new TeamRegionIndex(store);
    const rssBefore = process.memoryUsage().rss;
    started = performance.now();
    await index.refresh(modelId);
    const coldMs = performance.now() - started;
    const rssAfter = process.memoryUsage().rss;

    const queries = [target, ...Array.from({ length: queryCount - 1 }, () => randomUnit(dim, random))];
    const stage1: number[] = [], stage1Cpu: number[] = [], sync: number[] = [];
    let recall = 0, images = 0, regions = 0;
    for (const [i, query] of queries.entries()) {
      const cpu = process.cpuUsage();
      const result = await index.scan(modelId, [query], { limit: 100 });
      const used = process.cpuUsage(cpu);
      stage1.push(result.ms);
      stage1Cpu.push((used.user + used.system) / 1000);
      sync.push(result.syncMs);
      images = result.images;
      regions = result.regions;
      if (i === 0) recall = result.hits.filter((hit) => plantedIds.has(hit.imageId)).length / planted;
    }

    await insertRegions(cluster, url, imageCount + 1, imageCount + added);
    started = performance.now();
    const afterAdd = await index.scan(modelId, [target], { limit: 100 });
    const catchUpMs = performance.now() - started;

    console.log(JSON.stringify({
      images, regions, dim, insertSeconds: Math.round(insertMs / 100) / 10,
      coldLoadMs: Math.round(coldMs), matrixMB: mb(index.bytes), rssGrowthMB: mb(rssAfter - rssBefore),
      warmStage1Ms: { p50: percentile(stage1, 50), p95: percentile(stage1, 95), max: percentile(stage1, 100) },
      // CPU of this process per query (scan + the version check's client side): the wall time on a shared machine includes waiting.
      stage1CpuMs: { p50: percentile(stage1Cpu, 50), p95: percentile(stage1Cpu, 95) },
      versionCheckMs: { p50: percentile(sync, 50), p95: percentile(sync, 95) },
      plantedRecallAt100: recall,
      catchUp: { added, images: afterAdd.images, ms: Math.round(catchUpMs), syncMs: Math.round(afterAdd.syncMs), stage1Ms: Math.round(afterAdd.ms) },
    }, null, 1));
  } finally {
    await store.close();
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
