/**
 * Runs an ONNX map decoder (models/decoders/<id>: decoder.json + model.onnx, written by
 * models/pwtrain/decoder_export.py) through onnxruntime-node: stored embedding map in, RGB image out.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import type { EmbeddingMap } from '../../core/embedding';
import type { RgbImage } from '../../core/image';
import { inputGeometry, type ModelManifest } from '../../core/manifest';
import { appRoot } from '../paths';
import { resizeRgb } from '../embedding/image-io';

const decoderManifestSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  name: z.string(),
  version: z.string(),
  kind: z.literal('decoder'),
  description: z.string(),
  license: z.string(),
  file: z.string().regex(/^[^/\\]+\.onnx$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  embedder: z.object({ id: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  input: z.object({ name: z.string(), dim: z.number().int().positive(), stride: z.number().int().positive() }),
  output: z.object({ name: z.string(), range: z.tuple([z.number(), z.number()]) }),
});
export type DecoderManifest = z.infer<typeof decoderManifestSchema>;

/** Built-in decoders: beside the app, or in Electron's resources folder once packaged. */
export function builtinDecodersDir(): string {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const packaged = resources ? join(resources, 'models', 'decoders') : null;
  return packaged && existsSync(packaged) ? packaged : join(appRoot(), 'models', 'decoders');
}

/** The folder of the decoder made for `embedder` (same id and file hash), or an error saying what is missing. */
export async function findDecoder(embedder: ModelManifest, root = builtinDecodersDir()): Promise<string> {
  const folders = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
  for (const folder of folders) {
    const dir = join(root, folder.name);
    const manifest = await readDecoderManifest(dir).catch(() => null);
    if (manifest && manifest.embedder.id === embedder.id && manifest.embedder.sha256 === embedder.sha256) return dir;
  }
  throw new Error(`no decoder is installed for the embedding model ${embedder.id}; Augment works with the built-in pixelwise-unet-s maps`);
}

export async function readDecoderManifest(dir: string): Promise<DecoderManifest> {
  const path = join(dir, 'decoder.json');
  const parsed = decoderManifestSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

export interface MapDecoder {
  manifest: DecoderManifest;
  /** RGB at the map's image size (the decoded grid cropped to the scaled image, then resized). */
  decode(map: EmbeddingMap): Promise<RgbImage>;
  close(): Promise<void>;
}

/** Opens the decoder in `dir` for maps of `embedder`; `threads` caps onnxruntime's intra-op threads. */
export async function createMapDecoder(dir: string, embedder: ModelManifest, threads = 2): Promise<MapDecoder> {
  const manifest = await readDecoderManifest(dir);
  if (manifest.embedder.id !== embedder.id || manifest.embedder.sha256 !== embedder.sha256) {
    throw new Error(`decoder ${manifest.id} decodes ${manifest.embedder.id} maps of another file, not these ${embedder.id} maps`);
  }
  const bytes = await readFile(join(dir, manifest.file));
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== manifest.sha256) throw new Error(`${join(dir, manifest.file)}: sha256 ${digest} does not match decoder.json`);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  return {
    manifest,
    decode: async (map) => {
      if (map.dim !== manifest.input.dim) throw new Error(`decoder ${manifest.id} takes ${manifest.input.dim}-d maps, not ${map.dim}-d`);
      const { width, height, dim, data } = map;
      const plane = width * height;
      const chw = new Float32Array(dim * plane);
      for (let cell = 0; cell < plane; cell++) for (let k = 0; k < dim; k++) chw[k * plane + cell] = data[cell * dim + k];
      const results = await session.run({ [manifest.input.name]: new ort.Tensor('float32', chw, [1, dim, height, width]) });
      const output = results[manifest.output.name];
      const [, , outHeight, outWidth] = output.dims as number[];
      const values = output.data as Float32Array;
      // The grid covers the image scaled to the embedder's long side (core/manifest.ts inputGeometry).
      const geometry = inputGeometry(embedder, map.imageWidth, map.imageHeight);
      const cropWidth = Math.min(outWidth, geometry.resizedWidth), cropHeight = Math.min(outHeight, geometry.resizedHeight);
      const [low, high] = manifest.output.range;
      const rgb = new Uint8Array(cropWidth * cropHeight * 3);
      const outPlane = outWidth * outHeight;
      for (let y = 0; y < cropHeight; y++) {
        for (let x = 0; x < cropWidth; x++) {
          for (let c = 0; c < 3; c++) {
            const value = (values[c * outPlane + y * outWidth + x] - low) / (high - low);
            rgb[(y * cropWidth + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value * 255)));
          }
        }
      }
      output.dispose();
      return resizeRgb({ width: cropWidth, height: cropHeight, data: rgb }, map.imageWidth, map.imageHeight);
    },
    close: () => session.release(),
  };
}
