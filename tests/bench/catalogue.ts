/**
 * Costs of the catalogue's backbones (electron/models/catalogue.ts), measured here on random-weight exports: the
 * speed and the stored size do not depend on the weights, only on the architecture and the input size.
 *
 *   npx tsx tests/bench/catalogue.ts [--threads 2] [--runs 3] [--width 640] [--height 480] [--keep <folder>]
 *
 * --keep leaves the exports in <folder> and reuses the ones already there (only timing runs again).
 *
 * For each entry it exports the model with the committed exporter (models/pwtrain/backbones.py, `nice -n 10`,
 * PWTRAIN_THREADS = threads) into a temporary folder, once at full dimension and once with the entry's `--dim`,
 * then runs a width x height image through onnxruntime-node on the CPU exactly as the studio's embedder does
 * (manifest input geometry: resize to longSide, pad to multipleOf; output cropped, L2-normalised, quantised to int8
 * as stored). Prints one JSON line per export: wall ms per image (median of --runs after one warm-up), process CPU ms
 * per image (on a shared machine wall time also measures the neighbours; CPU time does not), bytes stored per
 * image, ONNX size, thread count, and the 1-minute load average while it ran (this machine's 2 cores are shared, so
 * compare CPU ms, not wall ms, across runs). No GPU is used.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { chwToHwc, normalizeCells, quantize } from '../../core/embedding';
import { inputGeometry, parseManifest } from '../../core/manifest';
import { catalogue } from '../../electron/models/catalogue';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const threads = Number(option('threads', '2'));
const runs = Number(option('runs', '3'));
const width = Number(option('width', '640')), height = Number(option('height', '480'));
const keep = process.argv.includes('--keep') ? resolve(option('keep', '')) : null;
const root = resolve(new URL('../..', import.meta.url).pathname);

function exportModel(family: string, variant: string, dim: number, out: string): void {
  const args = ['-n', '10', '/usr/bin/python3', '-m', 'models.pwtrain.backbones', family, '--variant', variant, '--out', out];
  if (dim) args.push('--dim', String(dim));
  const started = performance.now();
  const result = spawnSync('nice', args, { cwd: root, env: { ...process.env, PWTRAIN_THREADS: String(threads) }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`export ${family} ${variant} failed:\n${result.stderr}`);
  process.stderr.write(`exported ${family} ${variant}${dim ? ` --dim ${dim}` : ''} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

async function measure(folder: string) {
  const manifest = parseManifest(JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')), folder);
  const session = await ort.InferenceSession.create(join(folder, manifest.file), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  const geometry = inputGeometry(manifest, width, height);
  const { inputWidth, inputHeight } = geometry;
  // Any pixel values cost the same; a fixed pattern keeps runs comparable.
  const tensor = new Float32Array(3 * inputWidth * inputHeight).map((_, i) => Math.sin(i * 0.001));
  const feeds = { [manifest.input.name]: new ort.Tensor('float32', tensor, [1, 3, inputHeight, inputWidth]) };
  const wall: number[] = [], cpu: number[] = [];
  let stored = 0;
  for (let run = 0; run <= runs; run++) {
    const cpuStart = process.cpuUsage(), started = performance.now();
    const output = (await session.run(feeds, [manifest.output.name]))[manifest.output.name];
    const [, dim, outHeight, outWidth] = output.dims as number[];
    const cropWidth = Math.min(geometry.gridWidth, outWidth), cropHeight = Math.min(geometry.gridHeight, outHeight);
    const data = normalizeCells(chwToHwc(output.data as Float32Array, dim, outHeight, outWidth, cropWidth, cropHeight), dim);
    stored = quantize({ width: cropWidth, height: cropHeight, dim, imageWidth: width, imageHeight: height, data }).bytes.byteLength;
    const used = process.cpuUsage(cpuStart);
    if (run > 0) {
      wall.push(performance.now() - started);
      cpu.push((used.user + used.system) / 1000);
    }
  }
  await session.release();
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return {
    model: manifest.id, dim: manifest.output.dim, input: `${inputWidth}x${inputHeight}`, image: `${width}x${height}`, threads,
    wallMsPerImage: Math.round(median(wall)), cpuMsPerImage: Math.round(median(cpu)), bytesPerImage: stored,
    onnxBytes: statSync(join(folder, manifest.file)).size, loadAverage: +loadavg()[0].toFixed(1),
  };
}

async function main(): Promise<void> {
  const base = keep ?? mkdtempSync(join(tmpdir(), 'pixelwise-catalogue-'));
  process.stderr.write(`${cpus().length} cores, ${threads} threads, load ${JSON.stringify(loadavg().map((v) => +v.toFixed(1)))}\n`);
  try {
    for (const entry of catalogue) {
      for (const dim of [0, entry.export.dim]) {
        const folder = join(base, `${entry.id}${dim ? `-d${dim}` : ''}`);
        if (!keep || !existsSync(join(folder, 'model.json'))) exportModel(entry.export.family, entry.export.variant, dim, folder);
        console.log(JSON.stringify({ entry: entry.id, ...(await measure(folder)) }));
        if (!keep) rmSync(folder, { recursive: true, force: true });
      }
    }
  } finally {
    if (!keep) rmSync(base, { recursive: true, force: true });
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
