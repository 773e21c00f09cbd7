/**
 * Team server load bench, on a throwaway PostgreSQL cluster (tests/pg-cluster.ts) and a `pixelwise serve` process.
 *
 * Part 1: L simulated labelers (default 20) x S saves each (default 200), all at once. Each labeler claims two
 * images and works on them from two "tabs" (two concurrent loops sharing the account, S/2 saves each), so tabs
 * race and some saves are refused as stale (409, expected; the tab reloads and saves again). Between saves each
 * tab lists images, searches by name and every 4th save runs a click-to-mask. Each tab logs every save the
 * server accepted (saveId, version it was based on, version given). Checked afterwards against the database:
 *   lost = accepted saves missing from the image's history (or with another version);
 *   silently overwritten = accepted saves whose version is not their base version + 1, or history rows no client
 *     logged, or a final state other than the last accepted save's.
 * Part 2: W workers (default 3) on N images (default 1000) with the colorpos model (fast, non-learned), one
 * killed with SIGKILL mid-task: every image embedded exactly once, nothing stuck.
 *
 * Part 3: image list calls on a database of --list-images (default 100,000) rows made in SQL (tiny placeholder
 * bytes; a third annotated): first page, a page deep in, filtered by status, searched by name.
 *
 * Part 4: other calls while similar-object searches run, on --search-images (default 100,000) images with generated
 * region rows (tests/bench/region-rows.ts, 78 16-d regions each). 8 labelers each save, list a page and search by
 * name in a loop (--search-rounds rounds, default 40) while 2 searchers run search.query (a mask on an image) until
 * the labelers are done; once on a server whose search scans on the event loop (--scan-threads 0, as before
 * electron/team/scan-pool.ts) and once on one with the default scan threads, one after the other on the same
 * database, after a round of the labelers alone. p50/p95 of each call kind, with the load average.
 *
 * Run: npx tsx tests/bench/team-load.ts [--labelers 20] [--saves 200] [--images 1000] [--workers 3] [--list-images 100000]
 *      [--search-images 100000] [--search-rounds 40] [--only labeling|workers|list|search]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeRle } from '../../core/rle';
import { toInt8 } from '../../core/search/scan';
import { randomUnit, seededRandom } from '../../core/search/synthetic';
import { PgStore } from '../../db/pg/store';
import { readManifest } from '../../electron/embedding/embedder';
import { describeImage } from '../../electron/jobs/import-job';
import { builtinModelsDir } from '../../electron/paths';
import { defaultScanThreads } from '../../electron/team/scan-pool';
import { tempDir, writeImages } from '../fixtures';
import { freePort, startPgCluster } from '../pg-cluster';
import { type Reply, signIn, spawnCli, teamCall, waitForOutput } from '../team-cli';
import { insertImages, insertRegions, plantedIdsOf } from './region-rows';

const { values } = parseArgs({
  options: { labelers: { type: 'string', default: '20' }, saves: { type: 'string', default: '200' }, images: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '3' }, 'list-images': { type: 'string', default: '100000' }, only: { type: 'string' },
    'search-images': { type: 'string', default: '100000' }, 'search-rounds': { type: 'string', default: '40' } },
});
const labelers = Number(values.labelers), saves = Number(values.saves), workerImages = Number(values.images), workerCount = Number(values.workers);
const width = 96, height = 64, model = 'pixelwise-colorpos';

interface Accepted { imageId: number; saveId: string; base: number; version: number; area: number }

const latencies: Record<string, number[]> = { save: [], list: [], search: [], segment: [] };
const errors: string[] = [];
let conflicts = 0, retries = 0;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 10) / 10 : NaN;
}

/** A mask of the top-left `w` columns, 8 rows: its area identifies the save that wrote it. */
function mask(w: number) {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < 8; y++) pixels.fill(1, y * width, y * width + w);
  return encodeRle({ width, height, data: pixels });
}

/** A call timed under `kind`; a failed request (no answer) is retried with the same input, so a save keeps its saveId. */
async function timed(origin: string, token: string, kind: string, call: string, input: unknown): Promise<Reply> {
  for (let attempt = 0; ; attempt++) {
    try {
      const reply = await teamCall(origin, token, call, input);
      if (reply.status === 503 && attempt < 3) { retries++; continue; }
      latencies[kind].push(reply.ms);
      if (!reply.ok && reply.status !== 409) errors.push(`${call}: ${reply.status} ${reply.error?.message}`);
      return reply;
    } catch (error) {
      if (attempt >= 3) throw error;
      retries++;
    }
  }
}

async function tab(origin: string, token: string, label: number, tabIndex: number, images: number[], classId: number, log: Accepted[]): Promise<void> {
  const known = new Map(images.map((id) => [id, 0]));
  for (let n = 0; n < saves / 2; n++) {
    const imageId = images[n % 2];
    const w = 1 + ((label * 7 + tabIndex * 31 + n) % (width - 1));
    const saveId = `${label}-${tabIndex}-${n}`;
    for (;;) {
      const base = known.get(imageId)!;
      const reply = await timed(origin, token, 'save', 'annotations.save', { imageId, baseVersion: base, saveId, annotations: [{ classId, rle: mask(w), source: 'clicks' }] });
      if (reply.ok) {
        known.set(imageId, reply.result.version);
        log.push({ imageId, saveId, base, version: reply.result.version, area: w * 8 });
        break;
      }
      if (reply.error?.code !== 'conflict') break;
      conflicts++;
      known.set(imageId, reply.error.current.version); // the other tab saved: reload, then save on top of it
    }
    await timed(origin, token, 'list', 'images.list', { offset: (n * 10) % 40, limit: 20 });
    await timed(origin, token, 'search', 'images.list', { search: `scene-00${n % 10}` });
    if (n % 4 === 0) await timed(origin, token, 'segment', 'segment.clicks', { image: imageId, clicks: [[10 + (n % 50), 20, 1]], modelId: model });
  }
}

async function labelingLoad(): Promise<Record<string, unknown>> {
  const cluster = await startPgCluster();
  const database = await cluster.createDatabase('load');
  const port = await freePort();
  const password = 'bench admin password';
  const server = spawnCli(['serve', '--database', database, '--port', String(port)], { PIXELWISE_ADMIN_PASSWORD: password });
  try {
    await waitForOutput(server, /Pixelwise team server/);
    const origin = `http://127.0.0.1:${port}`;
    const admin = await signIn(origin, 'admin', password);
    const files = await writeImages(join(tempDir(), 'images'), labelers * 2, width, height);
    const imageIds: number[] = [];
    for (const file of files) {
      imageIds.push((await teamCall(origin, admin, 'images.upload', { path: file.split('/').pop(), data: readFileSync(file).toString('base64') })).result.id);
    }
    const classId = (await teamCall(origin, admin, 'classes.create', { name: 'object' })).result.id as number;
    await teamCall(origin, admin, 'embeddings.start', { modelId: model });
    const worker = spawnCli(['worker', '--database', database, '--exit-when-idle']);
    if ((await worker.exited) !== 0) throw new Error(`worker failed: ${worker.stderr()}`);
    const tokens: string[] = [];
    for (let i = 0; i < labelers; i++) {
      await teamCall(origin, admin, 'users.create', { name: `labeler${i}`, role: 'labeler', password: `labeler ${i} password` });
      tokens.push(await signIn(origin, `labeler${i}`, `labeler ${i} password`));
    }
    const logs: Accepted[][] = tokens.map(() => []);
    for (let i = 0; i < labelers; i++) {
      for (const imageId of imageIds.slice(2 * i, 2 * i + 2)) await teamCall(origin, tokens[i], 'leases.claim', { imageId });
    }
    const started = performance.now();
    await Promise.all(tokens.flatMap((token, i) => [0, 1].map((t) => tab(origin, token, i, t, imageIds.slice(2 * i, 2 * i + 2), classId, logs[i]))));
    const seconds = (performance.now() - started) / 1000;

    // The clients' logs against the database.
    const accepted = logs.flat();
    const history = await cluster.query<{ image_id: number; version: number; save_id: string }>(database, 'SELECT image_id, version, save_id FROM annotation_saves');
    const stored = new Map(history.map((row) => [row.save_id, row]));
    const lost = accepted.filter((save) => stored.get(save.saveId)?.version !== save.version || stored.get(save.saveId)?.image_id !== save.imageId).length;
    const logged = new Set(accepted.map((save) => save.saveId));
    let overwritten = accepted.filter((save) => save.version !== save.base + 1).length + history.filter((row) => !logged.has(row.save_id)).length;
    for (const imageId of imageIds) {
      const last = accepted.filter((save) => save.imageId === imageId).sort((a, b) => b.version - a.version)[0];
      const now = (await teamCall(origin, admin, 'annotations.get', { imageId })).result;
      if (last && (now.version !== last.version || now.annotations[0]?.area !== last.area)) overwritten++;
    }
    const summary = (kind: string) => ({ calls: latencies[kind].length, p50_ms: percentile(latencies[kind], 50), p95_ms: percentile(latencies[kind], 95) });
    return {
      labelers, tabsPerLabeler: 2, savesPerLabeler: saves, seconds: Math.round(seconds * 10) / 10,
      acceptedSaves: accepted.length, staleSavesRefused409: conflicts, retriedRequests: retries, errors: errors.length, firstErrors: errors.slice(0, 3),
      lostAnnotations: lost, silentlyOverwritten: overwritten,
      save: summary('save'), list: summary('list'), searchByName: summary('search'), segment: summary('segment'),
    };
  } finally {
    server.process.kill('SIGTERM');
    await server.exited;
    await cluster.stop();
  }
}

async function workerLoad(): Promise<Record<string, unknown>> {
  const cluster = await startPgCluster();
  const database = await cluster.createDatabase('workers');
  const store = await PgStore.open(database);
  try {
    const files = await writeImages(join(tempDir(), 'worker-images'), workerImages, 128, 96);
    for (const file of files) {
      const bytes = readFileSync(file);
      await store.images.add({ ...(await describeImage(bytes)), path: file.split('/').pop()!, bytes });
    }
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), model)));
    await store.tasks.enqueueEmbed(model, null);
    const started = performance.now();
    const workers = Array.from({ length: workerCount }, (_, i) =>
      spawnCli(['worker', '--database', database, '--name', `w${i + 1}`, '--lease-seconds', '5', '--exit-when-idle']));
    // Kill w1 once it has done a tenth of its share and holds a task.
    for (;;) {
      const doneByVictim = (workers[0].stdout().match(/"outcome":"done"/g) ?? []).length;
      const held = await cluster.query(database, "SELECT id FROM embed_tasks WHERE worker = 'w1' AND status = 'running'");
      if (doneByVictim >= workerImages / workerCount / 10 && held.length) break;
      if (workers[0].process.exitCode !== null) throw new Error(`w1 ended early: ${workers[0].stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    workers[0].process.kill('SIGKILL');
    await workers[0].exited;
    const orphaned = await cluster.query<{ id: number }>(database, "SELECT id FROM embed_tasks WHERE worker = 'w1' AND status = 'running'");
    const codes = await Promise.all(workers.slice(1).map((worker) => worker.exited));
    const seconds = (performance.now() - started) / 1000;
    const done = workers.flatMap((worker) => (worker.stdout().match(/"image":\d+,"outcome":"done"/g) ?? []).map((line) => Number(/\d+/.exec(line)![0])));
    const [embedded] = await cluster.query<{ maps: number; images: number }>(database, 'SELECT count(*)::int AS maps, count(DISTINCT image_id)::int AS images FROM embeddings');
    const retried = await cluster.query<{ attempts: number; worker: string }>(database, 'SELECT attempts, worker FROM embed_tasks WHERE id = ANY($1::int[])', [orphaned.map((o) => o.id)]);
    return {
      images: workerImages, workers: workerCount, model, seconds: Math.round(seconds * 10) / 10, imagesPerSecond: Math.round((workerImages / seconds) * 10) / 10,
      killedMidTask: orphaned.length, orphanedTaskRetriedBy: retried.map((r) => `${r.worker} (attempt ${r.attempts})`),
      survivorsExitCodes: codes, doneLines: done.length, distinctImagesDone: new Set(done).size, storedMaps: embedded.maps, imagesWithMap: embedded.images,
      tasks: await store.tasks.counts(),
    };
  } finally {
    await store.close();
    await cluster.stop();
  }
}

async function listAtScale(): Promise<Record<string, unknown>> {
  const rows = Number(values['list-images']);
  const cluster = await startPgCluster();
  const database = await cluster.createDatabase('scale');
  const store = await PgStore.open(database);
  try {
    await cluster.query(database, `INSERT INTO images (path, hash, width, height, byte_size, format, data, thumbnail)
      SELECT 'batch-' || (g / 1000) || '/scene-' || g || '.jpg', md5(g::text) || md5((-g)::text), 640, 480, 1, 'jpeg', '\\x00', '\\x00'
      FROM generate_series(1, $1::int) g`, [rows]);
    await cluster.query(database, `INSERT INTO annotations (image_id, rle_counts, rle_height, rle_width, bbox_x, bbox_y, bbox_w, bbox_h, area)
      SELECT g, '0', 480, 640, 0, 0, 1, 1, 1 FROM generate_series(1, $1::int, 3) g`, [rows]);
    await cluster.query(database, "UPDATE images SET status = 'annotated' WHERE id % 3 = 1");
    await cluster.query(database, 'ANALYZE');
    const queries: Record<string, Parameters<PgStore['images']['list']>[0]> = {
      firstPage: { offset: 0, limit: 100 }, deepPage: { offset: Math.floor(rows / 2), limit: 100 },
      annotatedOnly: { status: 'annotated', offset: 0, limit: 100 }, newOnly: { status: 'new', offset: 0, limit: 100 },
      searchByName: { search: 'scene-7777', offset: 0, limit: 100 },
    };
    const result: Record<string, unknown> = { images: rows };
    for (const [name, query] of Object.entries(queries)) {
      const times: number[] = [];
      let total = 0;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        total = (await store.images.list(query)).total;
        times.push(performance.now() - started);
      }
      result[name] = { total, median_ms: percentile(times, 50) };
    }
    return result;
  } finally {
    await store.close();
    await cluster.stop();
  }
}

/** Part 4: each call kind's latency with searches running, the scan on the event loop and in threads. */
async function searchLoad(): Promise<Record<string, unknown>> {
  const images = Number(values['search-images']), rounds = Number(values['search-rounds']), searchLabelers = 8, searchers = 2;
  const dim = 16, random = seededRandom(27);
  const target = randomUnit(dim, random);
  const cluster = await startPgCluster();
  const database = await cluster.createDatabase('searching');
  const password = 'bench admin password';
  try {
    const store = await PgStore.open(database);
    await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), model)));
    await store.close();
    await insertImages(cluster, database, images);
    await insertRegions(cluster, database, { modelId: model, regionsPerImage: 78, dim, target, plantedIds: plantedIdsOf(images, 100), random }, 1, images);
    // The example image's map holds the target in every cell: a mask over the whole image pools to it.
    const cell = Buffer.from(toInt8(target).buffer);
    await cluster.query(database, 'UPDATE embeddings SET data = $2, scale = $3 WHERE image_id = $1 AND model_id = $4', [1, Buffer.concat(Array(12).fill(cell)), 1 / 127, model]);
    await cluster.query(database, 'ANALYZE');
    const wholeImage = encodeRle({ width: 640, height: 480, data: new Uint8Array(640 * 480).fill(1) });
    const saveMask = (w: number) => {
      const pixels = new Uint8Array(640 * 480);
      for (let y = 0; y < 8; y++) pixels.fill(1, y * 640, y * 640 + w);
      return encodeRle({ width: 640, height: 480, data: pixels });
    };
    const runs: Record<string, unknown> = { images, regionsPerImage: 78, dim, cores: cpus().length, labelers: searchLabelers, roundsPerLabeler: rounds, searchers };
    let classId = 0;
    const versions = new Map<number, number>();
    for (const [name, threads] of [['eventLoop', 0], ['workers', defaultScanThreads()]] as const) {
      const port = await freePort();
      const server = spawnCli(['serve', '--database', database, '--port', String(port), '--scan-threads', String(threads)], { PIXELWISE_ADMIN_PASSWORD: password });
      try {
        await waitForOutput(server, /Pixelwise team server/);
        const origin = `http://127.0.0.1:${port}`;
        const admin = await signIn(origin, 'admin', password);
        if (!classId) {
          classId = (await teamCall(origin, admin, 'classes.create', { name: 'object' })).result.id as number;
          for (let i = 0; i < searchLabelers; i++) await teamCall(origin, admin, 'users.create', { name: `labeler${i}`, role: 'labeler', password: `labeler ${i} password` });
        }
        const tokens = await Promise.all(Array.from({ length: searchLabelers }, (_, i) => signIn(origin, `labeler${i}`, `labeler ${i} password`)));
        for (let i = 0; i < searchLabelers; i++) await teamCall(origin, tokens[i], 'leases.claim', { imageId: 2 + i });
        const query = { examples: [{ imageId: 1, rle: wholeImage }], modelId: model, limit: 20 };
        const warm = await teamCall(origin, admin, 'search.query', query); // loads the matrix
        if (!warm.ok) throw new Error(`search failed: ${warm.error?.message}`);
        const planted = plantedIdsOf(images, 100);
        const kinds = ['save', 'list', 'searchByName', 'similar'];
        const measure = async (withSearches: boolean) => {
          const times: Record<string, number[]> = Object.fromEntries(kinds.map((kind) => [kind, []]));
          const failures: string[] = [];
          const timedCall = async (token: string, kind: string, call: string, input: unknown) => {
            const reply = await teamCall(origin, token, call, input);
            times[kind].push(reply.ms);
            if (!reply.ok) failures.push(`${call}: ${reply.status} ${reply.error?.message}`);
            return reply;
          };
          let labeling = true, similarHitsPlanted = 0;
          const stages = { stage1Ms: [] as number[], stage2Ms: [] as number[] };
          const loadBefore = loadavg();
          const started = performance.now();
          const searching = withSearches ? Array.from({ length: searchers }, async () => {
            while (labeling) {
              const reply = await timedCall(admin, 'similar', 'search.query', query);
              similarHitsPlanted = reply.ok ? reply.result.hits.filter((hit: { imageId: number }) => planted.has(hit.imageId)).length : 0;
              if (reply.ok) for (const stage of ['stage1Ms', 'stage2Ms'] as const) stages[stage].push(reply.result.stats[stage]);
            }
          }) : [];
          await Promise.all(tokens.map(async (token, i) => {
            const imageId = 2 + i;
            for (let n = 0; n < rounds; n++) {
              const base = versions.get(imageId) ?? 0;
              const reply = await timedCall(token, 'save', 'annotations.save', { imageId, baseVersion: base, annotations: [{ classId, rle: saveMask(1 + ((i * 7 + n) % 600)), source: 'clicks' }] });
              if (reply.ok) versions.set(imageId, reply.result.version);
              await timedCall(token, 'list', 'images.list', { offset: (n * 10) % 40, limit: 20 });
              await timedCall(token, 'searchByName', 'images.list', { search: `scene-${1000 + n}` });
            }
          }));
          labeling = false;
          await Promise.all(searching);
          const load = [loadBefore[0], loadavg()[0]].map((value) => Math.round(value * 100) / 100);
          const summary = Object.fromEntries(kinds.filter((kind) => times[kind].length).map((kind) => [kind, { calls: times[kind].length, p50_ms: percentile(times[kind], 50), p95_ms: percentile(times[kind], 95) }]));
          return { seconds: Math.round((performance.now() - started) / 100) / 10, loadAverage1m: load, errors: failures.length, firstErrors: failures.slice(0, 3), ...summary, ...(withSearches ? {
            similarPlantedInTop20: similarHitsPlanted,
            // Inside a search, as the server timed them: the scan (queued behind the other searcher's included) and the re-ranking.
            similarStages: Object.fromEntries(Object.entries(stages).map(([stage, list]) => [stage, { p50: percentile(list, 50), p95: percentile(list, 95) }])),
          } : {}) };
        };
        if (name === 'eventLoop') runs.labelersAlone = await measure(false);
        runs[name] = { scanThreads: threads, withSearches: await measure(true) };
      } finally {
        server.process.kill('SIGTERM');
        await server.exited;
      }
    }
    return runs;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  if (!values.only || values.only === 'labeling') console.log(JSON.stringify({ labelingLoad: await labelingLoad() }, null, 2));
  if (!values.only || values.only === 'workers') console.log(JSON.stringify({ workerLoad: await workerLoad() }, null, 2));
  if (!values.only || values.only === 'list') console.log(JSON.stringify({ listAtScale: await listAtScale() }, null, 2));
  if (!values.only || values.only === 'search') console.log(JSON.stringify({ searchLoad: await searchLoad() }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
