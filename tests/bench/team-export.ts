/**
 * A dataset export from a team project (electron/team/export.ts): the snapshot pull, then the project file's
 * export, against the same export run on an already pulled copy; on a throwaway PostgreSQL cluster with the server in
 * this process.
 *
 *   npx tsx tests/bench/team-export.ts [--images 200] [--format coco] [--maps]
 *
 * N photos of 1024x768 (JPEG and PNG), two objects on each, one class; with --maps each also has a 0.8 MB map of
 * the built-in model (generated, stored as a worker's are), which the snapshot pull fetches too. Prints wall seconds of the team export job
 * (pull + export), of the export alone on a pulled copy, how many progress values the job showed, and that the
 * snapshot folder was removed. The machine may be shared: compare runs on one machine only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantize } from '../../core/embedding';
import type { FormatId } from '../../core/formats/types';
import { encodeRle } from '../../core/rle';
import { randomUnit, seededRandom, syntheticMap } from '../../core/search/synthetic';
import { PgStore } from '../../db/pg/store';
import { Project } from '../../db/project';
import { readManifest } from '../../electron/embedding/embedder';
import { exportDataset } from '../../electron/formats';
import { describeImage } from '../../electron/jobs/import-job';
import { ModelRegistry } from '../../electron/models';
import { builtinModelsDir } from '../../electron/paths';
import { hashPassword } from '../../electron/team/auth';
import { TeamClient } from '../../electron/team/client';
import { exportTeamDataset } from '../../electron/team/export';
import type { TeamJob } from '../../electron/team/jobs';
import { startTeamServer } from '../../electron/team/server';
import { pull } from '../../electron/team/transfer';
import { tempDir, writeImages } from '../fixtures';
import { startPgCluster } from '../pg-cluster';

const { values } = parseArgs({ options: { images: { type: 'string', default: '200' }, format: { type: 'string', default: 'coco' }, maps: { type: 'boolean', default: false } } });
const imageCount = Number(values.images), format = values.format as FormatId;
const password = 'correct horse battery';
const width = 1024, height = 768;
const seconds = (ms: number) => Math.round(ms / 100) / 10;

function box(x: number, y: number, w: number, h: number) {
  const data = new Uint8Array(width * height);
  for (let row = y; row < y + h; row++) data.fill(1, row * width + x, row * width + x + w);
  return encodeRle({ width, height, data });
}

async function main(): Promise<void> {
  const cluster = await startPgCluster();
  const store = await PgStore.open(await cluster.createDatabase('export'));
  let server: Awaited<ReturnType<typeof startTeamServer>> | undefined;
  try {
    const admin = await store.users.create('admin', 'admin', await hashPassword(password));
    const cup = await store.classes.create('cup');
    for (const [i, file] of (await writeImages(join(tempDir(), 'images'), imageCount, width, height, 9000)).entries()) {
      const bytes = readFileSync(file);
      const imageId = await store.images.add({ ...(await describeImage(bytes)), path: `batch/${basename(file)}`, bytes });
      await store.annotations.save({ imageId, baseVersion: 0, userId: admin.id, annotations: [
        { classId: cup.id, rle: box(10 + i, 20, 200, 150) }, { classId: cup.id, rle: box(400, 300 + (i % 50), 120, 220) },
      ] });
    }
    if (values.maps) {
      const modelId = 'pixelwise-colorpos', random = seededRandom(5);
      await store.embeddings.registerModel(await readManifest(join(builtinModelsDir(), modelId)));
      await store.tasks.enqueueEmbed(modelId, null);
      for (let task = await store.tasks.claim('bench', 600); task; task = await store.tasks.claim('bench', 600)) {
        await store.tasks.complete(task, quantize(syntheticMap({ width: 256, height: 192, dim: 16, stride: 4,
          background: [randomUnit(16, random), randomUnit(16, random)], objects: [{ vector: randomUnit(16, random), x: 10, y: 10, width: 30, height: 20 }], random })));
      }
    }
    server = await startTeamServer({ store, registry: new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]), host: '127.0.0.1', port: 0 });
    const client = new TeamClient(`http://127.0.0.1:${server.port}`);
    await client.signIn('admin', password);
    const snapshots = () => readdirSync(tmpdir()).filter((name) => name.startsWith('pixelwise-team-export-')).length;
    const before = snapshots();

    const job = { id: 2, kind: 'dataset-export', status: 'running', total: 0, done: 0, failed: 0, etaSeconds: null, error: null, result: null,
      createdAt: '', finishedAt: null, cancelled: false } as TeamJob;
    const seen = new Set<string>();
    const watch = setInterval(() => seen.add(`${job.done}/${job.total}`), 20);
    const target = join(tempDir(), 'team-export');
    let started = performance.now();
    await exportTeamDataset(client, job, { format, target, options: {} }, () => Promise.reject(new Error('no image ids were given')));
    const teamMs = performance.now() - started;
    clearInterval(watch);

    const copy = join(tempDir(), 'copy.pixelwise');
    started = performance.now();
    await pull(client, copy);
    const pullMs = performance.now() - started;
    const project = new Project(copy);
    started = performance.now();
    const local = await exportDataset(project, format, join(tempDir(), 'local-export'), {});
    const localMs = performance.now() - started;
    project.close();
    await client.signOut();

    console.log(JSON.stringify({
      images: imageCount, imageSize: `${width}x${height}`, format, maps: values.maps,
      teamExportSeconds: seconds(teamMs), pullAloneSeconds: seconds(pullMs), exportOfPulledCopySeconds: seconds(localMs),
      sameCounts: JSON.stringify([(job.result as { images: number }).images, (job.result as { annotations: number }).annotations]) === JSON.stringify([local.images, local.annotations]),
      progressValuesSeen: seen.size, finalProgress: `${job.done}/${job.total}`, snapshotRemoved: snapshots() === before && existsSync(target),
    }, null, 1));
  } finally {
    await server?.close();
    await store.close();
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
