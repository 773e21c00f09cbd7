/**
 * Stage 1 of team search in worker threads (electron/team/scan-pool.ts) against the same scan on the event loop, on a
 * real project file (SQLite) whose region rows are generated: 6,000 images of 1-40 regions drawn from a small set of
 * vectors, so many images tie at the cut of the best 100; then 400 of them re-embedded (their first rows go stale) and
 * 300 images added. The worker path must give the same hits bit for bit (ties, stale rows, exclude, only, negative
 * examples), with the worker built for development (tsx) and, when built (npm run build), the bundle's
 * out/team-scan-worker.cjs, also as `pixelwise serve` finds it. A worker that cannot start, or dies mid-scan, is
 * said in words and the scan is done on the event loop with the same answer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUnit, seededRandom } from '../core/search/synthetic';
import { toInt8 } from '../core/search/scan';
import { SqliteStore } from '../db/sqlite-store';
import { readManifest } from '../electron/embedding/embedder';
import { builtinModelsDir, outFile } from '../electron/paths';
import { ScanPool } from '../electron/team/scan-pool';
import { TeamRegionIndex } from '../electron/team/search';
import { encodeRle } from '../core/rle';
import { tempDir } from './fixtures';
import { freePort } from './pg-cluster';
import { signIn, teamCall } from './team-cli';

const modelId = 'pixelwise-colorpos', dim = 16;
const random = seededRandom(2626);
/** Region vectors come from this small set, so equal scores are common. */
const palette = Array.from({ length: 60 }, () => toInt8(randomUnit(dim, random)));
const queries = [randomUnit(dim, random), randomUnit(dim, random), randomUnit(dim, random)];

let store: SqliteStore;
const pools: ScanPool[] = [];

/** Region rows for the images (the embedding row each needs is a tiny placeholder); a second call re-embeds. */
function putRegions(ids: number[]): void {
  const db = store.project.db;
  const embedding = db.prepare(`INSERT OR REPLACE INTO embeddings (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
    VALUES (?, ?, 1, 1, ?, 640, 480, 'int8', 1.0 / 127, ?)`);
  const regions = db.prepare(`INSERT OR REPLACE INTO region_sets (image_id, model_id, grid_width, grid_height, image_width, image_height, dim, leaf_count,
    region_count, labels, parents, boxes, vectors) VALUES (?, ?, 1, 1, 640, 480, ?, 1, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (const id of ids) {
      const count = 1 + Math.floor(random() * 40);
      const vectors = Buffer.alloc(count * dim);
      for (let r = 0; r < count; r++) Buffer.from(palette[Math.floor(random() * palette.length)].buffer).copy(vectors, r * dim);
      embedding.run(id, modelId, dim, Buffer.from(palette[id % palette.length].buffer));
      regions.run(id, modelId, dim, count, Buffer.alloc(1), Buffer.alloc(2 * count), Buffer.alloc(10 * count), vectors);
    }
  })();
}

function addImages(from: number, to: number): number[] {
  const insert = store.project.db.prepare("INSERT INTO images (id, path, hash, width, height, status) VALUES (?, ?, ?, 640, 480, 'embedded')");
  const ids = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  store.project.db.transaction(() => { for (const id of ids) insert.run(id, `scene-${id}.jpg`, `hash-${id}`); })();
  return ids;
}

beforeAll(async () => {
  store = new SqliteStore(join(tempDir(), 'scan.pixelwise'), { create: true });
  await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
  putRegions(addImages(1, 6000));
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  await store?.close();
});

function pool(options: ConstructorParameters<typeof ScanPool>[0]): ScanPool {
  const made = new ScanPool(options);
  pools.push(made);
  return made;
}

/** Each query with each option set, on both indexes (loaded at the same time): the hits must be the same. */
async function expectSameHits(threaded: TeamRegionIndex, threads: number, plain = new TeamRegionIndex(store)): Promise<void> {
  const exclude = new Set(Array.from({ length: 500 }, (_, i) => 1 + i * 7));
  const only = new Set(Array.from({ length: 3000 }, (_, i) => 2 + i * 2));
  const negatives = { vectors: [randomUnit(dim, random), randomUnit(dim, random)], weight: 0.5 };
  for (const options of [{ limit: 100 }, { limit: 100, exclude }, { limit: 37, only }, { limit: 100, exclude, only }, { limit: 1 }, { limit: 100, negatives }]) {
    for (const vectors of [[queries[0]], queries]) {
      const [want, got] = [await plain.scan(modelId, vectors, options), await threaded.scan(modelId, vectors, options)];
      expect(want.threads).toBe(0);
      expect(got.threads).toBe(threads);
      expect(got.hits.length).toBe(options.limit);
      expect(got.hits).toEqual(want.hits);
      expect([got.images, got.regions]).toEqual([want.images, want.regions]);
    }
  }
}

describe('stage 1 in worker threads', () => {
  it('gives the event loop scan\'s hits bit for bit (ties at the cut, stale rows, exclude, only), in 3 threads', async () => {
    const index = new TeamRegionIndex(store, pool({ threads: 3 }), (message) => { throw new Error(`unexpected fallback: ${message}`); });
    const plain = new TeamRegionIndex(store);
    // The cut of the best 100 falls inside a run of equal scores: which of them are kept depends on the scan order.
    const wide = await new TeamRegionIndex(store).scan(modelId, [queries[0]], { limit: 400 });
    const cut = wide.hits[99].score;
    expect(wide.hits.filter((hit) => hit.score === cut).length).toBeGreaterThan(wide.hits.slice(0, 100).filter((hit) => hit.score === cut).length);
    await expectSameHits(index, 3, plain);

    // Re-embedded images leave stale rows in the loaded matrix; added ones come in a new chunk.
    putRegions(Array.from({ length: 400 }, (_, i) => 3 + i * 11));
    putRegions(addImages(6001, 6300));
    await expectSameHits(index, 3, plain);
    expect(index.held(modelId)).toMatchObject({ images: 6300, staleRows: 400 });
    expect(plain.held(modelId)).toMatchObject({ images: 6300, staleRows: 400 });
  });

  it('the bundle\'s worker (out/team-scan-worker.cjs, npm run build) gives the same hits', async (context) => {
    if (!existsSync(outFile('cli.cjs'))) return context.skip(); // not built
    await expectSameHits(new TeamRegionIndex(store, pool({ threads: 2, workerFile: outFile('team-scan-worker.cjs') })), 2);
  });

  it('pixelwise serve from the bundle (bin/pixelwise.cjs) finds its scan thread: a search answers with no fallback said', async (context) => {
    if (!existsSync(outFile('cli.cjs'))) return context.skip(); // not built
    const port = await freePort();
    const server = spawn(process.execPath, [resolve(__dirname, '..', 'bin', 'pixelwise.cjs'), 'serve', '--database', store.location, '--port', String(port), '--scan-threads', '2'], {
      env: { ...process.env, PIXELWISE_ADMIN_PASSWORD: 'bundle test password' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    server.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    try {
      for (let i = 0; !output.includes('Pixelwise team server'); i++) {
        if (i > 600 || server.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      const origin = `http://127.0.0.1:${port}`;
      const admin = await signIn(origin, 'admin', 'bundle test password');
      const rle = encodeRle({ width: 640, height: 480, data: new Uint8Array(640 * 480).fill(1) });
      const reply = await teamCall(origin, admin, 'search.query', { examples: [{ imageId: 5, rle }], modelId, limit: 20 });
      expect(reply.error).toBeUndefined();
      expect(reply.result.hits).toHaveLength(20);
      expect(reply.result.stats.images).toBe((store.project.db.prepare('SELECT count(*) AS n FROM region_sets').get() as { n: number }).n);
      expect(output).not.toMatch(/scan thread/);
    } finally {
      server.kill('SIGTERM');
      await new Promise((done) => server.once('exit', done));
    }
  });

  it('pixelwise serve refuses a --scan-threads that is not a whole number, in words', (context) => {
    if (!existsSync(outFile('cli.cjs'))) return context.skip(); // not built
    const result = spawnSync(process.execPath, [resolve(__dirname, '..', 'bin', 'pixelwise.cjs'), 'serve', '--database', join(tempDir(), 'refused.pixelwise'), '--scan-threads', 'two'], {
      env: { ...process.env, PIXELWISE_ADMIN_PASSWORD: 'bundle test password' }, encoding: 'utf8', timeout: 60_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--scan-threads takes a whole number of threads (0: search scans on the event loop), not "two"');
  });

  it('a worker that cannot start is said once and every scan runs on the event loop, with the same hits', async () => {
    const warnings: string[] = [];
    const broken = pool({ threads: 2, workerFile: join(tempDir(), 'missing-worker.cjs') });
    const index = new TeamRegionIndex(store, broken, (message) => warnings.push(message));
    await expectSameHits(index, 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^search: a search scan thread could not start \(Cannot find module .*missing-worker\.cjs.*\); this search and the next ones scan on the server's main thread$/s);
    expect(broken.disabled).toMatch(/could not start/);
  });

  it('a worker that dies mid-scan fails only that scan: it is redone on the event loop, and the thread is started again', async () => {
    // Starts as the real worker does, then exits on its first request.
    const file = join(tempDir(), 'dying-worker.cjs');
    writeFileSync(file, `const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => process.exit(7));
parentPort.postMessage({ type: 'ready' });
`);
    const warnings: string[] = [];
    const dying = pool({ threads: 2, workerFile: file });
    const index = new TeamRegionIndex(store, dying, (message) => warnings.push(message));
    const plain = await new TeamRegionIndex(store).scan(modelId, queries, { limit: 50 });
    for (let i = 0; i < 2; i++) {
      const result = await index.scan(modelId, queries, { limit: 50 });
      expect(result.threads).toBe(0);
      expect(result.hits).toEqual(plain.hits);
      expect(dying.disabled).toBeNull();
    }
    expect(warnings.length).toBe(2);
    for (const warning of warnings) expect(warning).toBe('search: a search scan thread stopped (exit code 7); this search scans on the server\'s main thread');
  });
});
