/**
 * NoC benchmark of the click engine on a folder of images + masks (standard protocol, see the data README).
 *
 *   npx tsx tests/bench/eval-clicks.ts --dataset ../shared/data/eval/GrabCut --model pixelwise-colorpos \
 *       [--engine embedding|colorpos] [--precision int8|fp32] [--limit N] [--every K] [--clicks 20] \
 *       [--param name=value ...] [--out result.json]   (an SVG plot of mIoU vs clicks is written beside --out)
 *   npx tsx tests/bench/eval-clicks.ts --dataset ../shared/data/train/VOC_coseg --model pixelwise-unet-s --box [--every K]
 *
 * `--step engine`: the engine's own formula instead of the learned click step (core/engine/clickstep.ts, the default).
 * `--step-weights file.json`: the learned step with these weights (an export of models/pwtrain/clickstep.py) instead
 *   of the shipped core/engine/clickstep-weights.json (its parity case is checked before use).
 * `--dump file.bin`: training data for models/pwtrain/clickstep.py (train/ folders only): for the first click and
 *   three seeded random later ones (2..15) of every object, the learned step's input features and the object's
 *   share of each grid cell, float16 (see writeDump); panoptic folders give every object of panoptic-targets.ts.
 * `--embed-only`: only fill the embedding cache (training data for models/pwtrain/clickstep.py), no engine run.
 * `--box`: box-only quality instead of NoC. The box is the ground-truth mask's bounding box grown by `--box-pad`
 * pixels (default 5, clipped to the image), segmented with no click; prints the mean IoU and the images below 0.5.
 * A folder with segments.json (COCO128_panoptic) gives two objects per image instead (panoptic-targets.ts).
 *
 * `--model` is an id (folder under models/builtin or models/experiments) or a folder with model.json + model.onnx.
 * Embeddings are computed once per (model, sha256, dataset, image) and cached in .cache/embeddings as float32;
 * `--precision int8` (default, what the studio stores) quantises them with core/embedding before the engine runs.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dequantize, quantize, toFloat16 } from '../../core/embedding';
import { type ClickStepWeights, checkClickStepWeights, runClickStep } from '../../core/engine/clickstep';
import { learnedClickStep } from '../../core/engine/clickstep-default';
import {
  type Box, ClickSimulator, type EngineOptions, boxFromCorners, type Segmenter, clickMetrics, clicksToReach, createColorPositionSegmenter, createSegmenter,
  defaultEngineOptions, percentile,
} from '../../core/engine';
import type { RgbImage } from '../../core/image';
import { type Mask, maskIou } from '../../core/mask';
import { type Embedder, createEmbedder, decodeImageFile, readManifest } from '../../electron/embedding/embedder';
import { cachedEmbedding, embeddingCachePath } from './embedding-cache';
import { modelFolder } from './model-folder';
import { listPanoptic } from './panoptic-targets';
import { listDataset } from './search-eval-data';

interface Arguments {
  dataset: string;
  model: string;
  engine: 'embedding' | 'colorpos';
  precision: 'int8' | 'fp32';
  limit: number;
  every: number;
  clicks: number;
  out: string | null;
  params: Partial<EngineOptions>;
  box: boolean;
  boxPad: number;
  embedOnly: boolean;
  step: 'engine' | 'learned';
  stepWeights: string | null;
  dump: string | null;
}

function parseArguments(argv: string[]): Arguments {
  const args: Arguments = { dataset: '', model: 'pixelwise-colorpos', engine: 'embedding', precision: 'int8', limit: Infinity, every: 1, clicks: 20, out: null, params: {}, box: false, boxPad: 5, embedOnly: false, step: 'learned', stepWeights: null, dump: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], value = argv[i + 1];
    const take = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i++;
      return value;
    };
    if (flag === '--dataset') args.dataset = take();
    else if (flag === '--model') args.model = take();
    else if (flag === '--engine') args.engine = take() as Arguments['engine'];
    else if (flag === '--precision') args.precision = take() as Arguments['precision'];
    else if (flag === '--limit') args.limit = Number(take());
    else if (flag === '--every') args.every = Number(take());
    else if (flag === '--clicks') args.clicks = Number(take());
    else if (flag === '--out') args.out = take();
    else if (flag === '--box') args.box = true;
    else if (flag === '--embed-only') args.embedOnly = true;
    else if (flag === '--step') args.step = take() as Arguments['step'];
    else if (flag === '--step-weights') args.stepWeights = take();
    else if (flag === '--dump') args.dump = take();
    else if (flag === '--box-pad') args.boxPad = Number(take());
    else if (flag === '--param') {
      const [name, number] = take().split('=');
      if (!(name in defaultEngineOptions) || !Number.isFinite(Number(number))) throw new Error(`bad --param ${name}=${number}`);
      (args.params as Record<string, number>)[name] = Number(number);
    } else throw new Error(`unknown argument ${flag}`);
  }
  if (!args.dataset) throw new Error('--dataset <folder> is required');
  if (!['embedding', 'colorpos'].includes(args.engine)) throw new Error(`--engine must be embedding or colorpos`);
  if (!['engine', 'learned'].includes(args.step)) throw new Error('--step must be engine or learned');
  if (args.stepWeights && args.step !== 'learned') throw new Error('--step-weights is the learned step\'s weights: leave out --step engine');
  if (!['int8', 'fp32'].includes(args.precision)) throw new Error(`--precision must be int8 or fp32`);
  return args;
}


/** Ground truth: > 128 object, exactly 128 ignore (GrabCut's band), anything else background. */
async function readTarget(path: string): Promise<{ width: number; height: number; object: Uint8Array; ignore: Uint8Array | null }> {
  const image = await decodeImageFile(path);
  const count = image.width * image.height;
  const object = new Uint8Array(count), ignore = new Uint8Array(count);
  let ignored = 0;
  for (let i = 0; i < count; i++) {
    const value = image.data[i * 3];
    if (value > 128) object[i] = 1;
    else if (value === 128) {
      ignore[i] = 1;
      ignored++;
    }
  }
  return { width: image.width, height: image.height, object, ignore: ignored ? ignore : null };
}

type Target = Awaited<ReturnType<typeof readTarget>>;

/** Images with their object targets: images/ + masks/ (one object each), or a panoptic set (see --box). */
function listSamples(dataset: string): Array<{ stem: string; imagePath: string; targets(): Promise<Target[]> }> {
  if (existsSync(join(dataset, 'segments.json'))) return listPanoptic(dataset);
  return listDataset(dataset).map((item) => ({ stem: item.stem, imagePath: item.imagePath, targets: async () => [await readTarget(item.maskPath)] }));
}

/** An exported weights file, checked like the shipped one (shape, then its parity case within 1e-3 of PyTorch's logits). */
async function readStepWeights(path: string): Promise<ClickStepWeights> {
  const weights = checkClickStepWeights(JSON.parse(await readFile(resolve(path), 'utf8')) as ClickStepWeights);
  if (!weights.parity) throw new Error(`${path}: no parity case (export it with models/pwtrain/clickstep.py --export)`);
  const { width, height, features, logits } = weights.parity;
  const ours = runClickStep(weights, Float32Array.from(features), width, height);
  const worst = ours.reduce((most, value, cell) => Math.max(most, Math.abs(value - logits[cell])), 0);
  if (!(worst < 1e-3)) throw new Error(`${path}: this engine's logits differ from PyTorch's by ${worst} on the parity case`);
  return weights;
}

interface ImageResult {
  stem: string;
  width: number;
  height: number;
  ious: number[];
  noc85: number;
  noc90: number;
  clicks: Array<[number, number, 0 | 1]>;
}

/** Engine time per click: wall milliseconds, and process CPU milliseconds (the uncontended estimate on a shared machine). */
interface Latencies {
  wall: number[];
  cpu: number[];
}

/** The learned step's last input (set by createSegmenter's onFeatures) and where --dump writes it. */
interface Dump {
  path: string;
  features: { data: Float32Array; width: number; height: number } | null;
}

/** A seeded choice of the rounds an object's dump keeps: the first click and three of clicks 2..15. */
function dumpRounds(stem: string): Set<number> {
  let seed = 0;
  for (const char of stem) seed = (seed * 31 + char.charCodeAt(0)) >>> 0;
  const rounds = new Set([0]);
  while (rounds.size < 4) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    rounds.add(1 + (seed % 14));
  }
  return rounds;
}

/**
 * One record: uint32 width, height, featureCount; then features (channel-major) and the object's share of each
 * cell (ignore pixels left out; -1 where a cell is all ignore), all float16.
 */
function writeDump(dump: Dump, target: Target): void {
  const { data, width, height } = dump.features!;
  const count = width * height, featureCount = data.length / count;
  const object = new Float64Array(count), total = new Float64Array(count);
  for (let y = 0; y < target.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / target.height)) * width;
    for (let x = 0; x < target.width; x++) {
      const i = y * target.width + x;
      if (target.ignore?.[i]) continue;
      const cell = row + Math.min(width - 1, Math.floor((x * width) / target.width));
      total[cell]++;
      object[cell] += target.object[i];
    }
  }
  const half = new Uint16Array(data.length + count);
  for (let i = 0; i < data.length; i++) half[i] = toFloat16(data[i]);
  for (let c = 0; c < count; c++) half[data.length + c] = toFloat16(total[c] ? object[c] / total[c] : -1);
  appendFileSync(dump.path, Buffer.concat([Buffer.from(new Uint32Array([width, height, featureCount]).buffer), Buffer.from(half.buffer)]));
}

function runClicks(segmenter: Segmenter, target: Awaited<ReturnType<typeof readTarget>>, maxClicks: number, latencies: Latencies,
  dump: Dump | null = null, rounds: Set<number> = new Set()): Omit<ImageResult, 'stem'> {
  const simulator = new ClickSimulator(target);
  const truth: Mask = { width: target.width, height: target.height, data: target.object };
  let predicted: Uint8Array = new Uint8Array(target.width * target.height);
  const ious: number[] = [];
  for (let k = 0; k < maxClicks; k++) {
    simulator.next(predicted);
    const start = performance.now(), cpu = process.cpuUsage();
    const { mask } = segmenter.segment(simulator.clicks);
    const used = process.cpuUsage(cpu);
    latencies.wall.push(performance.now() - start);
    latencies.cpu.push((used.user + used.system) / 1000);
    predicted = mask.data;
    if (dump?.features && rounds.has(k)) writeDump(dump, target);
    ious.push(maskIou(mask, truth, target.ignore ?? undefined));
  }
  return {
    width: target.width, height: target.height, ious,
    noc85: clicksToReach(ious, 0.85, maxClicks), noc90: clicksToReach(ious, 0.9, maxClicks),
    clicks: simulator.clicks.map((click) => [click.x, click.y, click.positive ? 1 : 0]),
  };
}

/** The ground truth's bounding box grown by `pad` pixels and clipped to the image, as [x, y, width, height]. */
function paddedBox(target: Awaited<ReturnType<typeof readTarget>>, pad: number): Box | null {
  const { width, height, object } = target;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      if (!object[i]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  return boxFromCorners(x0 - pad, y0 - pad, x1 + 1 + pad, y1 + 1 + pad, width, height);
}

/** Box-only IoU per image (no click), then the mean; images without an object are left out. */
function reportBoxes(results: Array<{ stem: string; iou: number; ms: number }>, args: Arguments, modelId: string, started: number): void {
  const mean = results.reduce((sum, result) => sum + result.iou, 0) / Math.max(1, results.length);
  const low = results.filter((result) => result.iou < 0.5).map((result) => `${result.stem} ${result.iou.toFixed(2)}`);
  console.log(`box+${args.boxPad}px ${basename(resolve(args.dataset))} ${modelId} ${args.precision} n=${results.length}: ` +
    `mean IoU ${mean.toFixed(4)}, engine p50 ${percentile(results.map((result) => result.ms), 50).toFixed(0)} ms, below 0.5: ${low.length}${low.length ? ` (${low.join(', ')})` : ''} ` +
    `(${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

function plotSvg(title: string, curve: number[]): string {
  const width = 640, height = 400, left = 60, right = 20, top = 40, bottom = 50;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const x = (k: number) => left + ((k - 1) / Math.max(1, curve.length - 1)) * plotWidth;
  const y = (iou: number) => top + (1 - iou) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (let tick = 0; tick <= 10; tick++) {
    const value = tick / 10;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${value.toFixed(1)}</text>`);
  }
  for (let k = 1; k <= curve.length; k++) parts.push(`<text x="${x(k)}" y="${height - bottom + 16}" text-anchor="middle">${k}</text>`);
  for (const level of [0.85, 0.9]) parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(level)}" y2="${y(level)}" stroke="#c44" stroke-dasharray="4 3"/>`);
  parts.push(`<polyline fill="none" stroke="#1f6fd1" stroke-width="2" points="${curve.map((iou, i) => `${x(i + 1).toFixed(1)},${y(iou).toFixed(1)}`).join(' ')}"/>`);
  parts.push(`<text x="${left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">clicks</text>`);
  parts.push(`<text x="16" y="${top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + plotHeight / 2})">mIoU</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function main() {
  const args = parseArguments(process.argv.slice(2));
  const started = performance.now();
  const dataset = resolve(args.dataset), datasetName = basename(dataset);
  // Name order (class subfolders allowed): every `every`-th pair, then the first `limit` of those.
  const samples = listSamples(dataset).filter((_, index) => index % args.every === 0).slice(0, args.limit);
  if (!samples.length) throw new Error(`no image/mask pairs under ${dataset}`);
  let embedder: Embedder | null = null;
  let modelInfo: { id: string; sha256: string; provider: string | null } | null = null;
  let modelDir = '';
  if (args.engine === 'embedding') {
    modelDir = modelFolder(args.model);
    const manifest = await readManifest(modelDir);
    modelInfo = { id: manifest.id, sha256: manifest.sha256, provider: null };
  }
  const options: EngineOptions = { ...defaultEngineOptions, ...args.params };
  const stepWeights = args.stepWeights ? await readStepWeights(args.stepWeights) : learnedClickStep;
  const latencies: Latencies = { wall: [], cpu: [] };
  const results: ImageResult[] = [];
  const boxResults: Array<{ stem: string; iou: number; ms: number }> = [];
  let embedSeconds = 0;
  if (args.dump && resolve(args.dataset).split('/').includes('eval')) throw new Error('--dump writes training data: never from an eval/ folder');
  const dump: Dump | null = args.dump ? { path: resolve(args.dump), features: null } : null;
  if (dump) await writeFile(dump.path, '');
  for (const [index, sample] of samples.entries()) {
    const image: RgbImage = await decodeImageFile(sample.imagePath);
    const targets = await sample.targets();
    if (targets.some((target) => target.width !== image.width || target.height !== image.height)) throw new Error(`${sample.stem}: mask and image sizes differ`);
    let segmenter: Segmenter;
    if (args.engine === 'colorpos') segmenter = createColorPositionSegmenter(image);
    else {
      const cachePath = embeddingCachePath(modelInfo!, datasetName, sample.stem);
      const map = await cachedEmbedding(cachePath, async () => {
        embedder ??= await createEmbedder(modelDir);
        modelInfo!.provider = embedder.provider;
        const t = performance.now();
        const computed = await embedder.embed(image);
        embedSeconds += (performance.now() - t) / 1000;
        return computed;
      });
      if (args.embedOnly) {
        if ((index + 1) % 50 === 0 || index + 1 === samples.length) process.stderr.write(`embedded ${index + 1}/${samples.length}\n`);
        continue;
      }
      const stored = args.precision === 'int8' ? dequantize(quantize(map, 'int8')) : map;
      segmenter = createSegmenter(stored, image, options, {
        weights: args.step === 'learned' ? stepWeights : null,
        onFeatures: dump ? (data, width, height) => { dump.features = { data, width, height }; } : undefined,
      });
    }
    if (args.box) {
      for (const [number, target] of targets.entries()) {
        const box = paddedBox(target, args.boxPad);
        if (!box) continue;
        const start = performance.now();
        const { mask } = segmenter.segment([], box);
        const ms = performance.now() - start;
        const iou = maskIou(mask, { width: target.width, height: target.height, data: target.object }, target.ignore ?? undefined);
        const stem = targets.length > 1 ? `${sample.stem}#${number + 1}` : sample.stem;
        boxResults.push({ stem, iou, ms });
        if (process.env.PIXELWISE_BOX_VERBOSE) process.stderr.write(`${stem} ${iou.toFixed(3)}\n`);
      }
      continue;
    }
    if (dump) {
      for (const [number, target] of targets.entries()) {
        const stem = `${sample.stem}#${number}`;
        results.push({ stem, ...runClicks(segmenter, target, args.clicks, latencies, dump, dumpRounds(stem)) });
      }
      if ((index + 1) % 20 === 0) process.stderr.write(`dumped ${index + 1}/${samples.length}\n`);
      continue;
    }
    if (targets.length !== 1) throw new Error(`${sample.stem}: NoC needs one object per image (use --box for panoptic sets)`);
    const result = { stem: sample.stem, ...runClicks(segmenter, targets[0], args.clicks, latencies) };
    results.push(result);
    if (process.stderr.isTTY || (index + 1) % 10 === 0 || index + 1 === samples.length) {
      process.stderr.write(`${index + 1}/${samples.length} ${sample.stem} NoC@90 ${result.noc90} IoU@1 ${result.ious[0].toFixed(3)}\n`);
    }
  }
  await (embedder as Embedder | null)?.close();
  if (args.embedOnly) return;
  if (args.box) {
    reportBoxes(boxResults, args, modelInfo?.id ?? 'colorpos', started);
    return;
  }
  const metrics = clickMetrics(results.map((result) => result.ious), args.clicks);
  const summary = {
    dataset: datasetName,
    datasetPath: dataset,
    engine: args.engine,
    model: modelInfo,
    precision: args.engine === 'embedding' ? args.precision : null,
    options: args.engine === 'embedding' ? options : null,
    protocol: 'RITM NoC: first click most interior point, next at max EDT of FN vs FP, border = boundary, p > 0.49, max clicks ' + args.clicks,
    metrics,
    latencyMs: {
      p50: percentile(latencies.wall, 50), p95: percentile(latencies.wall, 95),
      mean: latencies.wall.reduce((a, b) => a + b, 0) / Math.max(1, latencies.wall.length),
      cpuP50: percentile(latencies.cpu, 50), cpuP95: percentile(latencies.cpu, 95),
    },
    loadAverage: loadavg(),
    embedSeconds,
    seconds: (performance.now() - started) / 1000,
    command: `npx tsx tests/bench/eval-clicks.ts ${process.argv.slice(2).join(' ')}`,
    date: new Date().toISOString(),
    images: results,
  };
  const line = `${datasetName} ${args.engine === 'embedding' ? `${modelInfo!.id} ${args.precision}` : 'colorpos'} n=${metrics.images}: ` +
    `NoC@85 ${metrics.noc85.toFixed(2)} NoC@90 ${metrics.noc90.toFixed(2)} fail@90 ${metrics.failures90} ` +
    `mIoU@1/3/5 ${metrics.miou1.toFixed(3)}/${metrics.miou3.toFixed(3)}/${metrics.miou5.toFixed(3)} ` +
    `latency p50 ${summary.latencyMs.p50.toFixed(1)} ms p95 ${summary.latencyMs.p95.toFixed(1)} ms ` +
    `(cpu ${summary.latencyMs.cpuP50.toFixed(1)} / ${summary.latencyMs.cpuP95.toFixed(1)} ms, load ${loadavg()[0].toFixed(1)})`;
  console.log(line);
  if (args.out) {
    const out = resolve(args.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(summary, null, 1));
    await writeFile(out.replace(/\.json$/, '') + '.svg', plotSvg(line.split(':')[0] + ` — NoC@90 ${metrics.noc90.toFixed(2)}`, metrics.miouCurve));
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
