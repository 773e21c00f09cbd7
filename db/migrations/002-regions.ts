/**
 * Region vectors for similar-object search and discovery (core/search/regions.ts): one row per (image, model)
 * holding the image's whole region tree. Rows hang off their embedding, so re-embedding an image or replacing a
 * model (which drops its embeddings) removes the stale regions; search/reindexMissing recomputes them.
 */
export const regions = `
CREATE TABLE region_sets (
  image_id INTEGER NOT NULL,
  model_id TEXT NOT NULL,
  grid_width INTEGER NOT NULL,          -- region grid (the embedding grid pooled to a long side <= 64)
  grid_height INTEGER NOT NULL,
  image_width INTEGER NOT NULL,
  image_height INTEGER NOT NULL,
  dim INTEGER NOT NULL,
  leaf_count INTEGER NOT NULL,
  region_count INTEGER NOT NULL,
  labels BLOB NOT NULL,                 -- uint8 leaf id per region-grid cell, row-major
  parents BLOB NOT NULL,                -- int16 LE per region: merged region containing it, -1 at the top
  boxes BLOB NOT NULL,                  -- uint16 LE per region: x, y, width, height, cells (region-grid cells)
  vectors BLOB NOT NULL,                -- int8 per region x dim, value = q / 127, unit length
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (image_id, model_id),
  FOREIGN KEY (image_id, model_id) REFERENCES embeddings (image_id, model_id) ON DELETE CASCADE
);
CREATE INDEX region_sets_model ON region_sets (model_id, image_id);
`;
