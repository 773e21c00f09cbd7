/**
 * Stored region trees (core/search/regions.ts), one row per (image, model); see migrations/002-regions.ts.
 * Typed arrays are stored as their little-endian bytes (every platform we ship is little-endian).
 */
import type { RegionSet } from '../core/search/regions';
import type { Db } from './connection';

interface RegionRow {
  grid_width: number;
  grid_height: number;
  image_width: number;
  image_height: number;
  dim: number;
  leaf_count: number;
  region_count: number;
  labels: Buffer;
  parents: Buffer;
  boxes: Buffer;
  vectors: Buffer;
}

/** One row of the stage-1 stream: just what the scan needs. */
export interface RegionVectorRow {
  image_id: number;
  region_count: number;
  dim: number;
  vectors: Buffer;
}

export class RegionDataError extends Error {
  override name = 'RegionDataError';
}

const bytesOf = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

/** Copies into a fresh (aligned) buffer: SQLite blobs may start at any offset. */
function copyAs<T>(blob: Buffer, make: (buffer: ArrayBuffer) => T): T {
  const buffer = new ArrayBuffer(blob.byteLength);
  new Uint8Array(buffer).set(blob);
  return make(buffer);
}

export function regionRepository(db: Db) {
  const insert = db.prepare(`INSERT OR REPLACE INTO region_sets (image_id, model_id, grid_width, grid_height, image_width,
    image_height, dim, leaf_count, region_count, labels, parents, boxes, vectors)
    VALUES (@imageId, @modelId, @gridWidth, @gridHeight, @imageWidth, @imageHeight, @dim, @leafCount, @regionCount,
    @labels, @parents, @boxes, @vectors)`);
  const get = db.prepare('SELECT * FROM region_sets WHERE image_id = ? AND model_id = ?');
  const missing = db.prepare(`SELECT e.image_id FROM embeddings e WHERE e.model_id = ?
    AND NOT EXISTS (SELECT 1 FROM region_sets r WHERE r.image_id = e.image_id AND r.model_id = e.model_id) ORDER BY e.image_id`).pluck();
  const signature = db.prepare('SELECT count(*) AS count, total(rowid) AS rowids FROM region_sets WHERE model_id = ?');
  const stream = db.prepare(`SELECT image_id, region_count, dim, vectors FROM region_sets WHERE model_id = ? AND image_id > ?
    ORDER BY image_id LIMIT ?`);
  const remove = db.prepare('DELETE FROM region_sets WHERE image_id = ? AND model_id = ?');

  return {
    /** Stores (or replaces) an image's regions; the image must have an embedding for the model (foreign key). */
    put(imageId: number, modelId: string, set: RegionSet): void {
      const regionCount = set.parents.length;
      if (set.vectors.length !== regionCount * set.dim || set.boxes.length !== regionCount * 5) {
        throw new RegionDataError(`region set for image ${imageId} is inconsistent: ${regionCount} regions, ${set.vectors.length} vector values`);
      }
      insert.run({
        imageId, modelId, gridWidth: set.gridWidth, gridHeight: set.gridHeight, imageWidth: set.imageWidth,
        imageHeight: set.imageHeight, dim: set.dim, leafCount: set.leafCount, regionCount,
        labels: bytesOf(set.labels), parents: bytesOf(set.parents), boxes: bytesOf(set.boxes), vectors: bytesOf(set.vectors),
      });
    },
    get(imageId: number, modelId: string): RegionSet | undefined {
      const row = get.get(imageId, modelId) as RegionRow | undefined;
      if (!row) return undefined;
      if (row.labels.byteLength !== row.grid_width * row.grid_height || row.vectors.byteLength !== row.region_count * row.dim) {
        throw new RegionDataError(`stored regions of image ${imageId} (${modelId}) are corrupt; re-index them`);
      }
      return {
        gridWidth: row.grid_width, gridHeight: row.grid_height, imageWidth: row.image_width, imageHeight: row.image_height,
        dim: row.dim, leafCount: row.leaf_count,
        labels: new Uint8Array(row.labels),
        parents: copyAs(row.parents, (buffer) => new Int16Array(buffer)),
        boxes: copyAs(row.boxes, (buffer) => new Uint16Array(buffer)),
        vectors: copyAs(row.vectors, (buffer) => new Int8Array(buffer)),
      };
    },
    /** Images that have an embedding for the model but no regions, in id order. */
    missing: (modelId: string) => missing.all(modelId) as number[],
    /** Changes whenever a row of the model is added, replaced or removed (cache validation for the stage-1 scan). */
    signature(modelId: string): string {
      const { count, rowids } = signature.get(modelId) as { count: number; rowids: number };
      return `${count}:${rowids}`;
    },
    /** Up to `limit` rows with image_id > afterImageId, in id order: the stage-1 scan pages through these. */
    page: (modelId: string, afterImageId: number, limit: number) => stream.all(modelId, afterImageId, limit) as RegionVectorRow[],
    remove: (imageId: number, modelId: string) => remove.run(imageId, modelId).changes > 0,
  };
}

export type RegionRepository = ReturnType<typeof regionRepository>;
