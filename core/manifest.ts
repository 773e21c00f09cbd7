/**
 * The model manifest (`model.json` beside each ONNX file). Everything the studio needs to run a model and read
 * its output comes from here; no constant is retyped in code.
 */
import { z } from 'zod';

export const modelManifestSchema = z.object({
  /** Stable id, also the folder name under models/builtin and the key in a project's embeddings table. */
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  name: z.string(),
  version: z.string(),
  /** "learned" for trained networks, "non-learned" for fixed feature graphs. */
  kind: z.enum(['learned', 'non-learned']),
  description: z.string().default(''),
  license: z.string(),
  /** ONNX file name, relative to the manifest. */
  file: z.string(),
  /** sha256 of the ONNX file, hex; checked before a session is created. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  input: z.object({
    /** Name of the single image input: float32 1x3xHxW, RGB. */
    name: z.string(),
    /** The image is resized so its long side is this many pixels (keeping aspect), then padded. */
    longSide: z.number().int().positive(),
    /** H and W are padded (bottom/right, zeros after normalisation) up to a multiple of this. */
    multipleOf: z.number().int().positive(),
    /** Per-channel value = (pixel / 255 - mean) / std. */
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number(), z.number(), z.number()]),
  }),
  output: z.object({
    /** Name of the embedding output: float32 1xDx(H/stride)x(W/stride). */
    name: z.string(),
    stride: z.number().int().positive(),
    dim: z.number().int().positive(),
    /** Whether each pixel's vector has unit L2 norm (the studio normalises otherwise). */
    normalized: z.boolean(),
  }),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(json: unknown, source = 'model.json'): ModelManifest {
  const result = modelManifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ManifestError(`${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Network input size for an image: long side scaled to `longSide`, then padded to `multipleOf`. */
export function inputGeometry(manifest: ModelManifest, imageWidth: number, imageHeight: number) {
  const { longSide, multipleOf } = manifest.input;
  const scale = longSide / Math.max(imageWidth, imageHeight);
  const resizedWidth = Math.max(1, Math.round(imageWidth * scale));
  const resizedHeight = Math.max(1, Math.round(imageHeight * scale));
  const pad = (n: number) => Math.ceil(n / multipleOf) * multipleOf;
  const { stride } = manifest.output;
  return {
    resizedWidth,
    resizedHeight,
    inputWidth: pad(resizedWidth),
    inputHeight: pad(resizedHeight),
    /** The part of the output grid that covers the image (the rest covers padding). */
    gridWidth: Math.ceil(resizedWidth / stride),
    gridHeight: Math.ceil(resizedHeight / stride),
  };
}
