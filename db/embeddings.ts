/** Stored embedding maps (image x model) and the models they were computed with. */
import type { StoredEmbedding } from '../core/embedding';
import type { ModelManifest } from '../core/manifest';
import type { Db } from './connection';

interface EmbeddingRow {
  grid_width: number;
  grid_height: number;
  dim: number;
  image_width: number;
  image_height: number;
  dtype: StoredEmbedding['dtype'];
  scale: number;
  data: Buffer;
}

export function embeddingRepository(db: Db) {
  const upsertModel = db.prepare(`INSERT INTO models (id, manifest, sha256) VALUES (?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET manifest = excluded.manifest, sha256 = excluded.sha256`);
  const modelSha = db.prepare('SELECT sha256 FROM models WHERE id = ?').pluck();
  const dropForModel = db.prepare('DELETE FROM embeddings WHERE model_id = ?');
  const insert = db.prepare(`INSERT OR REPLACE INTO embeddings
    (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
    VALUES (@imageId, @modelId, @width, @height, @dim, @imageWidth, @imageHeight, @dtype, @scale, @data)`);
  const get = db.prepare('SELECT grid_width, grid_height, dim, image_width, image_height, dtype, scale, data FROM embeddings WHERE image_id = ? AND model_id = ?');
  const missing = db.prepare(`SELECT id FROM images i WHERE i.hash IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_id = ?) ORDER BY id`).pluck();
  const has = db.prepare('SELECT 1 FROM embeddings WHERE image_id = ? AND model_id = ?').pluck();
  const byModel = db.prepare('SELECT model_id AS modelId, count(*) AS count FROM embeddings GROUP BY model_id ORDER BY count DESC');
  const lacking = db.prepare(`SELECT count(*) FROM embeddings e WHERE e.model_id = ?
    AND NOT EXISTS (SELECT 1 FROM embeddings n WHERE n.image_id = e.image_id AND n.model_id = ?)`).pluck();
  const removeForModel = db.prepare('DELETE FROM embeddings WHERE model_id = ?');
  const stats = db.prepare('SELECT count(*) AS count, coalesce(avg(length(data)), 0) AS bytes FROM embeddings WHERE model_id = ?');

  return {
    /** Registers the model; embeddings made by a different file of the same id are dropped (they no longer match). */
    registerModel(manifest: ModelManifest): void {
      db.transaction(() => {
        const previous = modelSha.get(manifest.id) as string | undefined;
        if (previous && previous !== manifest.sha256) dropForModel.run(manifest.id);
        upsertModel.run(manifest.id, JSON.stringify(manifest), manifest.sha256);
      })();
    },
    put(imageId: number, modelId: string, stored: StoredEmbedding): void {
      insert.run({ imageId, modelId, ...stored, data: Buffer.from(stored.bytes.buffer, stored.bytes.byteOffset, stored.bytes.byteLength) });
    },
    get(imageId: number, modelId: string): StoredEmbedding | undefined {
      const row = get.get(imageId, modelId) as EmbeddingRow | undefined;
      if (!row) return undefined;
      return {
        width: row.grid_width, height: row.grid_height, dim: row.dim, imageWidth: row.image_width, imageHeight: row.image_height,
        dtype: row.dtype, scale: row.scale, bytes: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
      };
    },
    /** The sha256 of the model file the project's maps of `modelId` were computed with; undefined when it was never registered. */
    modelSha256: (modelId: string) => modelSha.get(modelId) as string | undefined,
    has: (imageId: number, modelId: string) => has.get(imageId, modelId) === 1,
    /** Images (readable ones) with no embedding for the model, in id order. */
    missing: (modelId: string) => missing.all(modelId) as number[],
    stats: (modelId: string) => stats.get(modelId) as { count: number; bytes: number },
    /** Images with a map from model `from` but none from model `to`. */
    lacking: (from: string, to: string) => lacking.get(from, to) as number,
    /** Deletes every stored map of the model (their search regions go with them: foreign key cascade). */
    removeModel: (modelId: string) => removeForModel.run(modelId).changes,
    /** Models with stored embeddings, most used first. */
    countsByModel: () => byModel.all() as Array<{ modelId: string; count: number }>,
  };
}

export type EmbeddingRepository = ReturnType<typeof embeddingRepository>;
