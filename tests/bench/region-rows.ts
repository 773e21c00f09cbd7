/**
 * Generated region rows for the team search benches (team-search.ts, team-load.ts --only search), inserted straight
 * into a PostgreSQL team database with unnest() batches: N images of R random unit int8 vectors each (R = 78 is what
 * the indexer gives for a 64x43 region grid with 40 leaves, dim 16 is the built-in models' width), with tiny
 * embedding rows made in SQL for the foreign key; `planted` of them hold a region at cosine ~0.9 to `target`.
 */
import { nearby, randomUnit } from '../../core/search/synthetic';
import { toInt8 } from '../../core/search/scan';
import type { PgCluster } from '../pg-cluster';

export interface RegionRows {
  modelId: string;
  regionsPerImage: number;
  dim: number;
  target: Float32Array;
  plantedIds: ReadonlySet<number>;
  random: () => number;
}

/** Images 1..imageCount of which `planted`, spread evenly, hold a region near the target. */
export function plantedIdsOf(imageCount: number, planted: number): Set<number> {
  return new Set(Array.from({ length: planted }, (_, i) => 1 + Math.floor(((i + 0.5) * imageCount) / planted)));
}

/** One image's region vectors: random unit int8, with a region near the target on planted images. */
function vectorsOf(rows: RegionRows, imageId: number): Buffer {
  const { regionsPerImage, dim, random } = rows;
  const out = Buffer.alloc(regionsPerImage * dim);
  const view = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let r = 0; r < regionsPerImage; r++) view.set(toInt8(randomUnit(dim, random)), r * dim);
  if (rows.plantedIds.has(imageId)) view.set(toInt8(nearby(rows.target, 0.9, random)), Math.floor(random() * regionsPerImage) * dim);
  return out;
}

/**
 * Embedding rows (4x3 cells, every value 1 x scale 1/127: small but not zero, so a re-ranking reads them) and region
 * rows of images from..to (the images must exist).
 */
export async function insertRegions(cluster: PgCluster, url: string, rows: RegionRows, from: number, to: number, batch = 2000): Promise<void> {
  const { modelId, dim, regionsPerImage } = rows;
  await cluster.query(url, `INSERT INTO embeddings (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
    SELECT g, $3, 4, 3, $4, 640, 480, 'int8', 1.0 / 127, decode(repeat('01', 12 * $4), 'hex') FROM generate_series($1::int, $2::int) g`, [from, to, modelId, dim]);
  const parents = Buffer.alloc(regionsPerImage * 2), boxes = Buffer.alloc(regionsPerImage * 10), labels = Buffer.alloc(1);
  for (let start = from; start <= to; start += batch) {
    const ids = Array.from({ length: Math.min(batch, to - start + 1) }, (_, i) => start + i);
    await cluster.query(url, `INSERT INTO region_sets (image_id, model_id, grid_width, grid_height, image_width, image_height, dim, leaf_count,
        region_count, labels, parents, boxes, vectors)
      SELECT id, $2, 1, 1, 640, 480, $3, 40, $4, $5, $6, $7, v FROM unnest($1::int[], $8::bytea[]) AS t (id, v)`,
    [ids, modelId, dim, regionsPerImage, labels, parents, boxes, ids.map((id) => vectorsOf(rows, id))]);
  }
}

/** Placeholder image rows 1..count (tiny bytes; names scene-<id>.jpg). */
export async function insertImages(cluster: PgCluster, url: string, count: number): Promise<void> {
  await cluster.query(url, `INSERT INTO images (path, hash, width, height, byte_size, format, data, thumbnail)
    SELECT 'scene-' || g || '.jpg', md5(g::text) || md5((-g)::text), 640, 480, 1, 'jpeg', '\\x00', '\\x00' FROM generate_series(1, $1::int) g`, [count]);
}
