/**
 * Three `pixelwise worker` processes on one queue in a real PostgreSQL cluster; one is killed with SIGKILL while
 * it holds a task. Its task comes back when the lease runs out, and every image ends embedded exactly once: one
 * stored map each, one "done" line each across the workers' logs, nothing left running or queued.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStore } from '../db/pg/store';
import { readManifest } from '../electron/embedding/embedder';
import { describeImage } from '../electron/jobs/import-job';
import { builtinModelsDir } from '../electron/paths';
import { tempDir, writeImages } from './fixtures';
import { type PgCluster, startPgCluster } from './pg-cluster';
import { spawnCli } from './team-cli';

const imageCount = 40;
let cluster: PgCluster;
let database: string;
let store: PgStore;

beforeAll(async () => {
  cluster = await startPgCluster();
  database = await cluster.createDatabase('workers');
  store = await PgStore.open(database);
  const files = await writeImages(join(tempDir(), 'images'), imageCount, 320, 240);
  for (const file of files) {
    const bytes = readFileSync(file);
    await store.images.add({ ...(await describeImage(bytes)), path: file.split('/').pop()!, bytes });
  }
  await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), 'pixelwise-colorpos')));
});

afterAll(async () => {
  await store?.close();
  await cluster?.stop();
});

describe('embedding workers', () => {
  it('3 workers, one killed with SIGKILL mid-task: every image embedded exactly once, nothing stuck', async () => {
    expect(await store.tasks.enqueueEmbed('pixelwise-colorpos', null)).toBe(imageCount);
    const workers = ['w1', 'w2', 'w3'].map((name) =>
      spawnCli(['worker', '--database', database, '--name', name, '--lease-seconds', '3', '--exit-when-idle']));
    const victim = workers[0];
    // Kill w1 the moment it holds a task and has finished one (so it is past its start-up, mid-stream).
    let orphaned: number[] = [];
    for (const started = Date.now(); ; ) {
      const held = (await store.tasks.counts()).running > 0
        ? (await cluster.query<{ id: number }>(database, "SELECT id FROM embed_tasks WHERE worker = 'w1' AND status = 'running'")).map((r) => r.id)
        : [];
      if (held.length && victim.stdout().includes('"outcome":"done"')) {
        victim.process.kill('SIGKILL');
        await victim.exited;
        orphaned = (await cluster.query<{ id: number }>(database, "SELECT id FROM embed_tasks WHERE worker = 'w1' AND status = 'running'")).map((r) => r.id);
        break;
      }
      if (Date.now() - started > 60_000) throw new Error(`w1 never held a task:\n${victim.stdout()}\n${victim.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(orphaned).toHaveLength(1);
    const codes = await Promise.all(workers.slice(1).map((worker) => worker.exited));
    expect(codes).toEqual([0, 0]);

    const lines = workers.flatMap((worker) => worker.stdout().trim().split('\n').filter((line) => line.startsWith('{"task"')).map((line) => JSON.parse(line)));
    const done = lines.filter((line) => line.outcome === 'done').map((line) => line.image as number);
    expect(done).toHaveLength(imageCount);
    expect(new Set(done).size).toBe(imageCount);
    // On a loaded machine a slow worker can miss its 3-second lease and lose its task to another (taken-over: its
    // result is refused, the other's stored); never a failure, and each image is still stored once (above and below).
    expect(lines.filter((line) => line.outcome !== 'done' && line.outcome !== 'taken-over')).toEqual([]);
    expect(await store.tasks.counts()).toEqual({ queued: 0, running: 0, done: imageCount, failed: 0 });
    expect(await store.embeddings.count('pixelwise-colorpos')).toBe(imageCount);
    const [retried] = await cluster.query<{ worker: string; attempts: number }>(database, 'SELECT worker, attempts FROM embed_tasks WHERE id = $1', [orphaned[0]]);
    expect(retried.attempts).toBe(2);
    expect(['w2', 'w3']).toContain(retried.worker);
  });
});
