/**
 * Push and pull bench: a project of N images (default 100) at 1024x768, each with a colorpos map of the real shape
 * (256x192x16 int8, 768 KiB; random values, so the server's region split works on noise), pushed to a
 * `pixelwise serve` on a throwaway PostgreSQL cluster and pulled back into a new project file. Push and pull run in
 * this process, so its resident memory is sampled (every 20 ms) while each runs: the growth over the start shows
 * whether memory stays bounded (one map at a time) rather than growing with the project.
 *
 * Run: npx tsx tests/bench/team-transfer.ts [--images 100]
 */
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { inputGeometry } from '../../core/manifest';
import { storedPath } from '../../db/images';
import { Project } from '../../db/project';
import { readManifest } from '../../electron/embedding/embedder';
import { readImageFile } from '../../electron/jobs/import-job';
import { builtinModelsDir } from '../../electron/paths';
import { TeamClient } from '../../electron/team/client';
import { pull, push, type TransferReport } from '../../electron/team/transfer';
import { tempDir, writeImages } from '../fixtures';
import { freePort, startPgCluster } from '../pg-cluster';
import { spawnCli, waitForOutput } from '../team-cli';

const { values } = parseArgs({ options: { images: { type: 'string', default: '100' } } });
const count = Number(values.images);
const width = 1024, height = 768, modelId = 'pixelwise-colorpos', password = 'bench admin password';
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024 * 10) / 10;

/** Runs fn, sampling this process's RSS; returns its result, the seconds it took and the peak RSS growth. */
async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number; growthMiB: number }> {
  global.gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  const began = performance.now();
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, seconds: Math.round((performance.now() - began) / 100) / 10, growthMiB: mib(peak - start) };
  } finally {
    clearInterval(timer);
  }
}

async function main() {
  const dir = tempDir();
  const manifest = await readManifest(join(builtinModelsDir(), modelId));
  const grid = inputGeometry(manifest, width, height);
  const mapBytes = grid.gridWidth * grid.gridHeight * manifest.output.dim;
  const file = join(dir, 'bench.pixelwise');
  const project = new Project(file, { create: true });
  project.embeddings.registerModel(manifest);
  const images = await writeImages(join(dir, 'images'), count, width, height, 9000);
  for (const image of images) {
    const id = project.images.add({ ...(await readImageFile(image)), path: storedPath(project.dir, image) });
    project.embeddings.put(id, modelId, {
      width: grid.gridWidth, height: grid.gridHeight, dim: manifest.output.dim, imageWidth: width, imageHeight: height,
      dtype: 'int8', scale: 1 / 127, bytes: randomFillSync(new Uint8Array(mapBytes)),
    });
  }
  project.close();

  const cluster = await startPgCluster();
  const port = await freePort();
  const server = spawnCli(['serve', '--database', await cluster.createDatabase('bench'), '--port', String(port)], { PIXELWISE_ADMIN_PASSWORD: password });
  try {
    await waitForOutput(server, /Pixelwise team server/);
    const client = new TeamClient(`http://127.0.0.1:${port}`);
    await client.signIn('admin', password);
    const line = (name: string, run: { result: TransferReport; seconds: number; growthMiB: number }) => console.log(JSON.stringify({
      step: name, images: run.result.images, maps: run.result.maps, seconds: run.seconds,
      mapsPerSecond: Math.round(run.result.maps / run.seconds * 10) / 10, rssGrowthMiB: run.growthMiB,
      mapsTotalMiB: mib(run.result.maps * mapBytes),
    }));
    console.log(JSON.stringify({ images: count, imageSize: `${width}x${height}`, map: `${grid.gridWidth}x${grid.gridHeight}x${manifest.output.dim} int8`, mapKiB: mapBytes / 1024 }));
    line('push', await measured(() => push(file, client)));
    line('push again (nothing to do)', await measured(() => push(file, client)));
    line('pull', await measured(() => pull(client, join(dir, 'copy', 'bench.pixelwise'))));
  } finally {
    server.process.kill('SIGTERM');
    await server.exited;
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
