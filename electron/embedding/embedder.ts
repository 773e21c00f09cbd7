/**
 * Runs an ONNX pixel-embedding model described by a model.json manifest: image in, EmbeddingMap out.
 * Execution providers are tried in order (CUDA, then CPU); the one that worked is reported.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider, RuntimeInfo } from '../../core/api/records';
import { chwToHwc, type EmbeddingMap, normalizeCells } from '../../core/embedding';
import type { RgbImage } from '../../core/image';
import { inputGeometry, type ModelManifest, ManifestError, parseManifest } from '../../core/manifest';
import { onnxruntimeBinDir } from '../gpu/diagnose';
import { resizeRgb } from './image-io';

export { decodeImageFile } from './image-io';

export interface Embedder {
  manifest: ModelManifest;
  provider: ExecutionProvider;
  attempts: RuntimeInfo['attempts'];
  embed(image: RgbImage): Promise<EmbeddingMap>;
  close(): Promise<void>;
}

export async function readManifest(modelDir: string): Promise<ModelManifest> {
  const path = join(modelDir, 'model.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ManifestError(`${path}: cannot read the model manifest`);
  }
  try {
    return parseManifest(JSON.parse(text), path);
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    throw new ManifestError(`${path}: not valid JSON`);
  }
}

/** Reads the ONNX file and checks it against the manifest's sha256. */
export async function readModelFile(modelDir: string, manifest: ModelManifest): Promise<Uint8Array> {
  const path = join(modelDir, manifest.file);
  const bytes = await readFile(path);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== manifest.sha256) throw new ManifestError(`${path}: sha256 ${digest} does not match the manifest`);
  return bytes;
}

const defaultProviders: ExecutionProvider[] = process.env.PIXELWISE_PROVIDERS
  ? (process.env.PIXELWISE_PROVIDERS.split(',') as ExecutionProvider[])
  : ['cuda', 'cpu'];

/** onnxruntime-node ships the CPU provider; the CUDA one arrives only with `npm run gpu:install`. */
function cudaInstalled(): boolean {
  return readdirSync(onnxruntimeBinDir()).some((file) => file.includes('providers_cuda'));
}

export async function createEmbedder(modelDir: string, providers = defaultProviders): Promise<Embedder> {
  const manifest = await readManifest(modelDir);
  const model = await readModelFile(modelDir, manifest);
  const attempts: RuntimeInfo['attempts'] = [];
  for (const provider of providers) {
    if (provider === 'cuda' && !safe(cudaInstalled)) {
      attempts.push({ provider, ok: false, error: 'CUDA provider not installed (run `npm run gpu:install` on a machine with CUDA 12)' });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: 'all' });
      attempts.push({ provider, ok: true, error: null });
      return {
        manifest,
        provider,
        attempts,
        embed: (image) => embed(session, manifest, image),
        close: () => session.release(),
      };
    } catch (error) {
      attempts.push({ provider, ok: false, error: (error as Error).message.split('\n')[0] });
    }
  }
  throw new Error(`no execution provider could run ${manifest.id}: ${attempts.map((a) => `${a.provider}: ${a.error}`).join('; ')}`);
}

function safe(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

/** Image -> normalised, padded 1x3xHxW tensor -> network -> cropped, unit-length HWC map. */
async function embed(session: ort.InferenceSession, manifest: ModelManifest, image: RgbImage): Promise<EmbeddingMap> {
  const geometry = inputGeometry(manifest, image.width, image.height);
  const resized = await resizeRgb(image, geometry.resizedWidth, geometry.resizedHeight);
  const { inputWidth, inputHeight } = geometry;
  const plane = inputWidth * inputHeight;
  const tensor = new Float32Array(3 * plane);
  const { mean, std } = manifest.input;
  for (let c = 0; c < 3; c++) {
    const pad = -mean[c] / std[c];
    tensor.fill(pad, c * plane, (c + 1) * plane);
  }
  for (let y = 0; y < resized.height; y++) {
    for (let x = 0; x < resized.width; x++) {
      const source = (y * resized.width + x) * 3, target = y * inputWidth + x;
      for (let c = 0; c < 3; c++) tensor[c * plane + target] = (resized.data[source + c] / 255 - mean[c]) / std[c];
    }
  }
  const feeds = { [manifest.input.name]: new ort.Tensor('float32', tensor, [1, 3, inputHeight, inputWidth]) };
  const results = await session.run(feeds, [manifest.output.name]);
  const output = results[manifest.output.name];
  const [, dim, outHeight, outWidth] = output.dims as number[];
  if (dim !== manifest.output.dim) throw new ManifestError(`${manifest.id}: output has ${dim} channels, manifest says ${manifest.output.dim}`);
  const width = Math.min(geometry.gridWidth, outWidth), height = Math.min(geometry.gridHeight, outHeight);
  const data = chwToHwc(output.data as Float32Array, dim, outHeight, outWidth, width, height);
  output.dispose();
  return { width, height, dim, imageWidth: image.width, imageHeight: image.height, data: normalizeCells(data, dim) };
}
