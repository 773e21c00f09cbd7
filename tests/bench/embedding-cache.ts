/**
 * The float32 embedding cache of the click benchmarks (eval-clicks.ts, augment-variants.ts): one file per
 * (model, sha256, dataset, image) under .cache/embeddings, so a map is computed once.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { EmbeddingMap } from '../../core/embedding';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/** Where the map of `stem` (a file stem, class folder allowed) of `datasetName` made by the model is cached. */
export function embeddingCachePath(model: { id: string; sha256: string }, datasetName: string, stem: string): string {
  return join(root, '.cache/embeddings', `${model.id}@${model.sha256.slice(0, 12)}`, datasetName, `${stem}.f32`);
}

/** Float32 maps cached on disk: 5 uint32 (width, height, dim, imageWidth, imageHeight) then the data. */
export async function cachedEmbedding(path: string, compute: () => Promise<EmbeddingMap>): Promise<EmbeddingMap> {
  if (existsSync(path)) {
    const bytes = await readFile(path);
    const header = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 20));
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 20, bytes.byteOffset + bytes.byteLength));
    const [width, height, dim, imageWidth, imageHeight] = header;
    if (data.length === width * height * dim) return { width, height, dim, imageWidth, imageHeight, data };
  }
  const map = await compute();
  await mkdir(dirname(path), { recursive: true });
  const header = new Uint32Array([map.width, map.height, map.dim, map.imageWidth, map.imageHeight]);
  await writeFile(path, Buffer.concat([Buffer.from(header.buffer), Buffer.from(map.data.buffer, map.data.byteOffset, map.data.byteLength)]));
  return map;
}
