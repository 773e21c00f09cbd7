/**
 * Augment speed: milliseconds per 512 px variant (target <= 1 s on 2 CPU cores).
 *
 *   npm run bench:augment -- [--variants 12] [--edit jitter|swap|interpolate] [--size 512x384]
 *
 * A real project (SQLite file in a temp folder) with generated scenes at --size, embedded with the built-in
 * pixelwise-unet-s and given two rectangular objects each, then one augment job of --variants per image through
 * the studio's own handler and the shipped ONNX decoder (onnxruntime-node, 2 intra-op threads). Prints:
 * - "variant": one variant in memory (map edits + decoder + compose), wall and process CPU ms, median and p90;
 * - "job": the whole job's wall time per variant, which adds the PNG encode, the file write, hashing and the
 *   thumbnail, and the one transaction per variant (the source's decode is amortised over its variants).
 * On this shared machine wall time includes the neighbours' load (printed first); CPU ms / 2 estimates the
 * uncontended 2-thread wall time.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { augmentEdits, type AugmentEdit } from '../../core/augment/edits';
import { percentile } from '../../core/engine';
import { createMask } from '../../core/mask';
import { seededRandom } from '../../core/random';
import { encodeRle } from '../../core/rle';
import { dispatch } from '../../core/api/contract';
import type { ImageRecord, JobRecord } from '../../core/api/records';
import { createMapDecoder, findDecoder } from '../../electron/augment/decoder';
import { makeVariant } from '../../electron/augment/job';
import { dequantize } from '../../core/embedding';
import { decodeRle } from '../../core/rle';
import { mapObject } from '../../core/augment/edits';
import { innerFeather } from '../../core/augment/compose';
import { decodeImageFile } from '../../electron/embedding/image-io';
import { resolveStoredPath } from '../../db/images';
import { createApiImplementation } from '../../electron/services/api';
import { Studio } from '../../electron/services/studio';
import { tempDir, writeImages } from '../fixtures';

const { values } = parseArgs({ options: { variants: { type: 'string' }, edit: { type: 'string' }, size: { type: 'string' } } });
const variants = Number(values.variants ?? 12);
const edit = (values.edit ?? 'swap') as AugmentEdit;
if (!augmentEdits.includes(edit)) throw new Error(`--edit takes ${augmentEdits.join(', ')}`);
const [width, height] = (values.size ?? '512x384').split('x').map(Number);

function rect(x0: number, y0: number, x1: number, y1: number) {
  const mask = createMask(width, height);
  for (let y = Math.round(y0); y < Math.round(y1); y++) for (let x = Math.round(x0); x < Math.round(x1); x++) mask.data[y * width + x] = 1;
  return mask;
}

async function main(): Promise<void> {
  console.log(`load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}; ${width}x${height}, ${variants} variants per image, edit ${edit}`);
  const dir = tempDir('pixelwise-augment-bench-');
  const studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  const api = createApiImplementation(studio, null);
  const call = <T>(service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<T>;
  try {
    await writeImages(join(dir, 'images'), 2, width, height);
    await call('projects', 'create', { path: join(dir, 'bench.pixelwise') });
    await call('images', 'import', { paths: [join(dir, 'images')] });
    await call('embeddings', 'start', {});
    studio.runner.kick();
    await studio.runner.idle();
    const images = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items;
    const masks = [rect(width * 0.05, height * 0.1, width * 0.45, height * 0.8), rect(width * 0.55, height * 0.15, width * 0.95, height * 0.9)];
    await call('annotations', 'add', { items: images.flatMap((image) => masks.map((mask) => ({ imageId: image.id, classId: null, rle: encodeRle(mask) }))) });

    // One variant in memory, timed alone.
    const model = studio.registry.get(studio.modelId()).manifest;
    const decoder = await createMapDecoder(await findDecoder(model), model);
    const map = dequantize(studio.project.embeddings.get(images[0].id, model.id)!);
    const image = await decodeImageFile(resolveStoredPath(studio.project.dir, images[0].path));
    const objects = studio.project.annotations.list(images[0].id).map((annotation) => {
      const mask = decodeRle(annotation.rle);
      return { annotation, object: mapObject(map, mask), alpha: innerFeather(mask, 3) };
    });
    const source = { map, image, objects };
    const original = await decoder.decode(map);
    const wall: number[] = [], cpu: number[] = [];
    for (let i = 0; i <= variants; i++) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      await makeVariant(source, decoder, original, edit, 1, seededRandom(i), null);
      const used = process.cpuUsage(c0);
      if (i === 0) continue; // warm-up
      wall.push(performance.now() - t0);
      cpu.push((used.user + used.system) / 1000);
    }
    await decoder.close();
    const line = (values: number[]) => `median ${percentile(values, 50).toFixed(0)} ms, p90 ${percentile(values, 90).toFixed(0)} ms`;
    console.log(`variant (edit + decode + compose): wall ${line(wall)}; CPU ${line(cpu)}`);

    // The whole job through the studio.
    const t0 = performance.now(), c0 = process.cpuUsage();
    const job = await call<JobRecord>('augment', 'start', { imageIds: images.map((i) => i.id), variants, edit, strength: 1, seed: 1 });
    await new Promise<void>((resolve) => {
      studio.runner.onChange = (record) => {
        if (record.id === job.id && ['done', 'failed', 'cancelled'].includes(record.status)) resolve();
      };
      studio.runner.kick();
    });
    const used = process.cpuUsage(c0);
    const finished = studio.runner.list(false).find((j) => j.id === job.id)!;
    const made = (finished.result as { created: number }).created;
    console.log(`job: ${made} variants in ${((performance.now() - t0) / 1000).toFixed(1)} s: wall ${((performance.now() - t0) / made).toFixed(0)} ms per variant, `
      + `CPU ${((used.user + used.system) / 1000 / made).toFixed(0)} ms per variant (main process, includes onnxruntime threads)`);
    await studio.runner.idle();
  } finally {
    await studio.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
