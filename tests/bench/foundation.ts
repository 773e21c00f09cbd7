/**
 * Foundation benchmarks, printed as a table: embedding time per image at 1024 px long side (default model, CPU),
 * bytes stored per image, import time for 1,000 generated images, and web mode's cold start to first paint.
 * Run: `npm run bench` (all benchmarks) or `npx tsx tests/bench/foundation.ts [--images 1000]`.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { quantize } from '../../core/embedding';
import { createEmbedder } from '../../electron/embedding/embedder';
import { decodeImageFile } from '../../electron/embedding/image-io';
import { ModelRegistry } from '../../electron/models';
import { builtinModelsDir } from '../../electron/paths';
import { Studio } from '../../electron/services/studio';
import { chromiumArgs, startServer } from '../e2e/harness';
import { tempDir, writeImages } from '../fixtures';

const { values } = parseArgs({ options: { images: { type: 'string', default: '1000' }, model: { type: 'string' } } });
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

async function embedding(dir: string) {
  const registry = new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]);
  const model = registry.get(values.model);
  const files = await writeImages(join(dir, 'embed'), 6, 1024, 768, 500);
  const embedder = await createEmbedder(model.dir, ['cpu']);
  const times: number[] = [];
  let bytes = 0;
  for (const [i, file] of files.entries()) {
    const image = await decodeImageFile(file);
    const started = performance.now();
    const map = await embedder.embed(image);
    if (i > 0) times.push(performance.now() - started); // the first run includes one-off session warm-up
    bytes = quantize(map).bytes.byteLength;
  }
  await embedder.close();
  return { model: model.id, p50: percentile(times, 50), max: Math.max(...times), bytes };
}

async function importTime(dir: string, count: number) {
  const folder = join(dir, 'import');
  await writeImages(folder, count, 640, 480, 10_000);
  const studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  await studio.openProject(join(dir, 'import.pixelwise'), true);
  const started = performance.now();
  studio.runner.enqueue('import', { paths: [folder] }, 0);
  studio.runner.kick();
  await studio.runner.idle();
  const seconds = (performance.now() - started) / 1000;
  const imported = studio.project.info().imageCount;
  await studio.close();
  return { seconds, imported };
}

async function coldStart(dir: string) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  const page = await browser.newPage();
  const started = Date.now();
  const server = await startServer(join(dir, 'cold'));
  await page.goto(server.url);
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
  const paintedAt = await page.evaluate(() => performance.timeOrigin + performance.getEntriesByName('first-contentful-paint')[0].startTime);
  await browser.close();
  server.process.kill('SIGTERM');
  await server.exited;
  return paintedAt - started;
}

async function main() {
  const dir = tempDir('pixelwise-bench-');
  const embed = await embedding(dir);
  console.log(`embedding (${embed.model}, CPU, 1024x768): p50 ${embed.p50.toFixed(0)} ms/image, max ${embed.max.toFixed(0)} ms`);
  console.log(`stored per image (int8): ${(embed.bytes / 1024).toFixed(0)} KiB`);
  const imported = await importTime(dir, Number(values.images));
  console.log(`import ${imported.imported} generated 640x480 images: ${imported.seconds.toFixed(1)} s (${((imported.seconds * 1000) / imported.imported).toFixed(1)} ms/image)`);
  console.log(`web mode cold start to first paint: ${(await coldStart(dir)).toFixed(0)} ms`);
}

void main();
