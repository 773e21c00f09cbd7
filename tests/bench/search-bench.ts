/**
 * Speed and memory of similar-object search on generated data, through a real project file.
 *
 *   npx tsx tests/bench/search-bench.ts [--sizes 1000,10000,100000] [--dim 16] [--regions 78] [--cache-mb 256]
 *
 * Per size N: N images with generated region rows (R random unit int8 vectors each, R = 78 is what the indexer
 * gives for a 64x43 region grid with 40 leaves), 100 of them holding a planted object near the query (a region
 * at cosine ~0.9 and a full-size 256x192 map with the object painted in, for the dense stage). To keep the
 * file small at 100k, the other images carry a tiny 4x3 embedding row (only the top 100 are ever read densely),
 * and region rows are generated directly instead of running the indexer N times; indexing speed is measured
 * separately on real-size maps. Prints wall and CPU milliseconds (the machine may be shared) and RSS.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddingMap, quantize } from '../../core/embedding';
import type { ModelManifest } from '../../core/manifest';
import { encodeRle } from '../../core/rle';
import { computeRegions, type RegionSet } from '../../core/search/regions';
import { fitClassModel } from '../../core/search/classmodel';
import { toInt8 } from '../../core/search/scan';
import { nearby, objectMask, randomUnit, seededRandom, syntheticMap } from '../../core/search/synthetic';
import { Project } from '../../db/project';
import { regionsOf } from '../../electron/search/indexer';
import { RegionScanner } from '../../electron/search/scanner';
import { createSearchService } from '../../electron/search/service';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

const sizes = argument('sizes', '1000,10000,100000').split(',').map(Number);
const dim = Number(argument('dim', '16')), regionsPerImage = Number(argument('regions', '78'));
const cacheBytes = Number(argument('cache-mb', '256')) * 1024 * 1024;
const modelId = 'bench-model';
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Runs fn, returns [wall ms, cpu ms, result]. */
function timed<T>(fn: () => T): [number, number, T] {
  const wall = performance.now(), cpu = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(cpu);
  return [performance.now() - wall, (used.user + used.system) / 1000, result];
}

/** Random region vectors come from a pool of 997 images' worth (generating 8M unit vectors would dominate the run). */
let pool: Int8Array[] | null = null;

function generatedSet(random: () => number, index: number, planted: Float32Array | null): RegionSet {
  pool ??= Array.from({ length: 997 }, () => {
    const vectors = new Int8Array(regionsPerImage * dim);
    for (let region = 0; region < regionsPerImage; region++) vectors.set(toInt8(randomUnit(dim, random)), region * dim);
    return vectors;
  });
  const vectors = Int8Array.from(pool[index % pool.length]);
  if (planted) vectors.set(toInt8(nearby(planted, 0.97, random)), 5 * dim);
  const leafCount = Math.ceil((regionsPerImage + 2) / 2);
  return {
    gridWidth: 4, gridHeight: 3, imageWidth: 1024, imageHeight: 768, dim, leafCount,
    labels: new Uint8Array(12), parents: new Int16Array(regionsPerImage).fill(-1),
    boxes: new Uint16Array(regionsPerImage * 5).fill(1), vectors,
  };
}

async function benchSize(count: number, target: Float32Array, fullMaps: EmbeddingMap[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pixelwise-search-bench-'));
  const random = seededRandom(count);
  const project = new Project(join(dir, 'bench.pixelwise'), { create: true });
  project.embeddings.registerModel({ id: modelId, sha256: 'b'.repeat(64), output: { dim } } as unknown as ModelManifest);
  const tiny = quantize({ width: 4, height: 3, dim, imageWidth: 1024, imageHeight: 768, data: new Float32Array(12 * dim).fill(1 / Math.sqrt(dim)) });
  const plantedEvery = Math.floor(count / 100);
  const regions = regionsOf(project);
  const [buildMs] = timed(() => {
    for (let start = 0; start < count; start += 5000) {
      project.transaction(() => {
        for (let i = start; i < Math.min(count, start + 5000); i++) {
          const planted = i % plantedEvery === 0 && i / plantedEvery < 100;
          const imageId = project.images.add({ path: `i${i}`, hash: `h${i}`, width: 1024, height: 768, byteSize: 1, format: 'png', thumbnail: new Uint8Array(0) });
          project.embeddings.put(imageId, modelId, planted ? quantize(fullMaps[(i / plantedEvery) % fullMaps.length]) : tiny);
          regions.put(imageId, modelId, generatedSet(random, i, planted ? target : null));
        }
      });
    }
  });
  const fileSize = statSync(join(dir, 'bench.pixelwise')).size;
  const query = [target];
  const cold = new RegionScanner(regions, { cacheBytes });
  const [coldWall, coldCpu, first] = timed(() => cold.scan(modelId, query, { limit: 100 }));
  const warm = Array.from({ length: 5 }, () => timed(() => cold.scan(modelId, query, { limit: 100 })));
  const streaming = new RegionScanner(regions, { cacheBytes: 0 });
  const streamed = Array.from({ length: 3 }, () => timed(() => streaming.scan(modelId, query, { limit: 100 })));
  const plantedIds = new Set(Array.from({ length: 100 }, (_, k) => 1 + k * plantedEvery));
  const recall = first.hits.filter((hit) => plantedIds.has(hit.imageId)).length / 100;

  const service = createSearchService(project, { defaultModelId: modelId, scanner: { cacheBytes } });
  const example = { imageId: 1, rle: encodeRle(objectMask(fullMaps[0], { vector: target, x: 100, y: 60, width: 40, height: 30 })) };
  const timedRuns = Array.from({ length: 3 }, () => timed(() => service.search.query({ examples: [example], limit: 100, rerank: 100, excludeExampleImages: false })));
  const runs = timedRuns.map((run) => run[2]);
  const denseRecall = runs[0].hits.filter((hit) => plantedIds.has(hit.imageId)).length / 100;
  // Judgements: three rounds of the simulated labeler (10 accepted, 10 rejected each), each one feedback call that
  // refits the class model and re-ranks every image (stage 1 over all regions + dense top 100).
  const judged: Array<[number, number, number, number, number]> = [];
  let session = runs[0];
  for (let round = 0; round < 3; round++) {
    const open = session.hits.filter((hit) => hit.judgement === null);
    const [wall, cpu, next] = timed(() => service.search.feedback({
      sessionId: session.sessionId, accepted: open.slice(0, 10).map((hit) => hit.imageId), rejected: open.slice(-10).map((hit) => hit.imageId), limit: 100,
    }));
    // Stage 1 alone with the refitted model, timed again on the warm cache (wall and cpu).
    const model = fitClassModel({ positives: [target, ...session.hits.slice(0, 10 * (round + 1)).map(() => nearby(target, 0.9, random))], negatives: Array.from({ length: 10 * (round + 1) }, () => randomUnit(dim, random)) });
    const [stage1Wall, stage1Cpu] = timed(() => cold.scan(modelId, model.queries.slice(0, model.scanQueries), { limit: 100, negatives: { vectors: model.negatives, weight: model.negativeWeight } }));
    judged.push([wall, cpu, next.stats.stage2Ms, stage1Wall, stage1Cpu]);
    session = next;
  }
  const rss = process.memoryUsage().rss;
  console.log(`N=${count} images, ${first.regions} regions (${dim}-d int8), file ${mb(fileSize)}, built in ${(buildMs / 1000).toFixed(1)} s`);
  console.log(`  stage 1 cold (SQLite stream + cache fill): ${coldWall.toFixed(1)} ms wall / ${coldCpu.toFixed(1)} ms cpu`);
  console.log(`  stage 1 warm (cached, median of 5):        ${median(warm.map((r) => r[0])).toFixed(1)} ms wall / ${median(warm.map((r) => r[1])).toFixed(1)} ms cpu  cache ${mb(cold.cachedBytes)}`);
  console.log(`  stage 1 streaming (no cache, median of 3): ${median(streamed.map((r) => r[0])).toFixed(1)} ms wall / ${median(streamed.map((r) => r[1])).toFixed(1)} ms cpu`);
  console.log(`  dense re-rank top 100 (median of 3, incl. reading maps): ${median(runs.map((r) => r.stats.stage2Ms)).toFixed(1)} ms wall; whole query (example pooling + stage 1 + 2) ${median(timedRuns.map((r) => r[0])).toFixed(1)} ms wall / ${median(timedRuns.map((r) => r[1])).toFixed(1)} ms cpu`);
  console.log(`  a judgement (feedback call, rounds 1-3, up to 30 positives and 30 negatives), wall / cpu ms: ${judged.map(([wall, cpu, two]) => `${wall.toFixed(0)} / ${cpu.toFixed(0)} (dense ${two.toFixed(0)} wall)`).join(', ')}`);
  console.log(`  its stage 1 re-rank of all ${count} images (class mean + 2 exemplars, 10-30 negatives), wall / cpu ms: ${judged.map(([, , , one, oneCpu]) => `${one.toFixed(1)} / ${oneCpu.toFixed(1)}`).join(', ')}`);
  console.log(`  planted objects in top 100: stage 1 ${(recall * 100).toFixed(0)}%, after re-rank ${(denseRecall * 100).toFixed(0)}%   RSS ${mb(rss)}`);
  project.close();
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const random = seededRandom(99);
  const target = randomUnit(dim, random);
  // Ten real-size maps (256x192 cells = a 1024x768 image at stride 4) holding the object, reused by the 100 planted images.
  const fullMaps = Array.from({ length: 10 }, () => syntheticMap({
    width: 256, height: 192, dim, background: [randomUnit(dim, random), randomUnit(dim, random)], noise: 0.03, random,
    objects: [{ vector: nearby(target, 0.95, random), x: 100, y: 60, width: 40, height: 30 }],
  }));
  const [indexWall, indexCpu] = timed(() => fullMaps.forEach((map) => computeRegions(map)));
  console.log(`load: ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
  console.log(`indexing a 256x192x${dim} map: ${(indexWall / 10).toFixed(1)} ms wall / ${(indexCpu / 10).toFixed(1)} ms cpu per image`);
  for (const size of sizes) await benchSize(size, target, fullMaps);
  console.log(`final RSS ${mb(process.memoryUsage().rss)}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
