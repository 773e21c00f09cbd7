/**
 * One click on a large noisy photo: does the mask stay one clean region, and what do opening and clicking cost?
 *
 *   npx tsx tests/bench/large-image.ts [--width 6000] [--height 4500] [--noise 12] [--param name=value ...]
 *
 * The photo is generated: a textured disk (the object) on a gradient background with per-pixel sensor noise
 * (uniform, +-noise). The built-in model embeds it (long side 512, so cells are about width / 128 pixels); the
 * click goes to the disk's centre. Prints the time to build the segmenter (what the worker does on opening an
 * image), the first and second click, the number of 4-connected object regions and holes, and the IoU with the
 * disk. `--param guideBlur=0` shows the specks that unsmoothed boundary votes make at this size.
 *
 * Then the click latency a labeler gets (target: p50 <= 30 ms at 6000x4500): `--sequences` (5) sequences of eight
 * clicks on the disk and around it (positive and negative, like a labeler correcting), each on a fresh segmenter
 * after one unmeasured sequence (the studio's worker warms up the same way), timing segment + RLE encoding per
 * click, the work the segment worker does before it transfers the mask (a transfer, not a copy). Wall time and the
 * process CPU time of the same call (uncontended estimate; GC threads can make it exceed the wall) are printed,
 * with the load average: on a shared machine report both.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dequantize, quantize } from '../../core/embedding';
import { type Click, type EngineOptions, createSegmenter, defaultEngineOptions, percentile } from '../../core/engine';
import { encodeRle } from '../../core/rle';
import { type Mask, maskIou } from '../../core/mask';
import { seededRandom } from '../../core/random';
import { createEmbedder } from '../../electron/embedding/embedder';
import { builtinModelsDir } from '../../electron/paths';
import { join } from 'node:path';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** 4-connected regions of pixels equal to `value`. */
function regions(mask: Mask, value: number): number {
  const { width, height, data } = mask, seen = new Uint8Array(width * height), stack = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < data.length; start++) {
    if (data[start] !== value || seen[start]) continue;
    count++;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top) {
      const p = stack[--top], x = p % width;
      const neighbours = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, p >= width ? p - width : -1, p + width < data.length ? p + width : -1];
      for (const q of neighbours) {
        if (q >= 0 && !seen[q] && data[q] === value) {
          seen[q] = 1;
          stack[top++] = q;
        }
      }
    }
  }
  return count;
}

async function main() {
  const width = option('width', 6000), height = option('height', 4500), noise = option('noise', 12);
  const options: Partial<EngineOptions> = {};
  process.argv.forEach((flag, i) => {
    if (flag !== '--param') return;
    const [name, value] = (process.argv[i + 1] ?? '').split('=');
    if (!(name in defaultEngineOptions) || !Number.isFinite(Number(value))) throw new Error(`bad --param ${process.argv[i + 1]}`);
    (options as Record<string, number>)[name] = Number(value);
  });
  const next = seededRandom(11);
  const cx = width * 0.45, cy = height * 0.5, radius = Math.min(width, height) * 0.3;
  const pixels = new Uint8Array(width * height * 3), truth = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x, inside = (x - cx) ** 2 + (y - cy) ** 2 < radius * radius;
      truth[p] = inside ? 1 : 0;
      // Object: warm with stripes; background: a cool vertical gradient. Then noise on every channel.
      const base = inside
        ? [170 + 25 * Math.sin(x / 40), 110, 90]
        : [90, 110 + (60 * y) / height, 150];
      for (let c = 0; c < 3; c++) pixels[p * 3 + c] = Math.max(0, Math.min(255, base[c] + (next() - 0.5) * 2 * noise));
    }
  }
  const image = { width, height, data: pixels };
  const embedder = await createEmbedder(join(builtinModelsDir(), 'pixelwise-unet-s'));
  let start = performance.now();
  const map = dequantize(quantize(await embedder.embed(image), 'int8'));
  const embedMs = performance.now() - start;
  await embedder.close();
  start = performance.now();
  const segmenter = createSegmenter(map, image, options);
  const setupMs = performance.now() - start;
  const clicks = [{ x: Math.round(cx), y: Math.round(cy), positive: true }];
  start = performance.now();
  let { mask } = segmenter.segment(clicks);
  const firstMs = performance.now() - start;
  clicks.push({ x: Math.round(cx + radius * 0.5), y: Math.round(cy - radius * 0.3), positive: true });
  start = performance.now();
  ({ mask } = segmenter.segment(clicks));
  const secondMs = performance.now() - start;
  console.log(`${width}x${height} photo, noise +-${noise}, map ${map.width}x${map.height} (cells ${(width / map.width).toFixed(1)} px), options ${JSON.stringify(options)}`);
  console.log(`embed ${embedMs.toFixed(0)} ms, createSegmenter ${setupMs.toFixed(0)} ms, first click ${firstMs.toFixed(0)} ms, second click ${secondMs.toFixed(0)} ms`);
  console.log(`object regions ${regions(mask, 1)}, background regions ${regions(mask, 0)} (1 and 1 = clean), IoU with the disk ${maskIou(mask, { width, height, data: truth }).toFixed(3)}`);
  segmenter.release?.();

  // Offsets from the disk's centre in radii, and the click's sign: inside refinements, outside corrections.
  const sequence: Array<[number, number, boolean]> = [
    [0, 0, true], [0.5, -0.3, true], [-0.9, 0.1, true], [1.2, 0, false], [0.3, 0.8, true], [0, -0.95, true], [-1.3, -0.5, false], [0.7, 0.6, true],
  ];
  const wall: number[] = [], cpu: number[] = [], firstWall: number[] = [], firstCpu: number[] = [];
  const sequences = option('sequences', 5);
  console.log(`click sequences: ${sequences} x ${sequence.length} clicks, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (let run = -1; run < sequences; run++) {
    const fresh = createSegmenter(map, image, options), placed: Click[] = [];
    for (const [dx, dy, positive] of sequence) {
      placed.push({ x: Math.round(cx + dx * radius), y: Math.round(cy + dy * radius), positive });
      const started = performance.now(), cpuStarted = process.cpuUsage();
      encodeRle(fresh.segment(placed).mask);
      const used = process.cpuUsage(cpuStarted), ms = performance.now() - started, cpuMs = (used.user + used.system) / 1000;
      if (run < 0) continue;
      wall.push(ms);
      cpu.push(cpuMs);
      if (placed.length === 1) {
        firstWall.push(ms);
        firstCpu.push(cpuMs);
      }
    }
    fresh.release?.();
  }
  const line = (name: string, values: number[]) => `${name} p50 ${percentile(values, 50).toFixed(1)} ms, p95 ${percentile(values, 95).toFixed(1)} ms`;
  console.log(`segment + RLE per click: ${line('wall', wall)}; ${line('CPU', cpu)}`);
  console.log(`first click of a sequence: ${line('wall', firstWall)}; ${line('CPU', firstCpu)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
