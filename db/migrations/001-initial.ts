/** The first schema: images, classes, annotations, models, embeddings, jobs. */
export const initial = `
CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,            -- relative to the project file's folder where possible, '/'-separated
  hash TEXT UNIQUE,                     -- sha256 of the content, hex; NULL when the file could not be read
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  byte_size INTEGER NOT NULL DEFAULT 0,
  format TEXT,
  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'embedded', 'annotated', 'reviewed', 'failed')),
  error TEXT,
  reviewed INTEGER NOT NULL DEFAULT 0,  -- set by the labeler; status is derived from this and the other tables
  thumbnail BLOB,                       -- JPEG, long side 256
  added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX images_status ON images (status, id);

CREATE TABLE classes (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  color TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE annotations (
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  class_id INTEGER REFERENCES classes (id) ON DELETE SET NULL,
  rle_counts TEXT NOT NULL,             -- COCO compressed RLE
  rle_height INTEGER NOT NULL,
  rle_width INTEGER NOT NULL,
  bbox_x INTEGER NOT NULL, bbox_y INTEGER NOT NULL, bbox_w INTEGER NOT NULL, bbox_h INTEGER NOT NULL,
  area INTEGER NOT NULL,
  score REAL,
  z_order INTEGER NOT NULL DEFAULT 0,
  visible INTEGER NOT NULL DEFAULT 1,
  source TEXT NOT NULL DEFAULT 'manual',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX annotations_image ON annotations (image_id, z_order);

CREATE TABLE models (
  id TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,               -- model.json as used for the stored embeddings
  sha256 TEXT NOT NULL,
  added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE embeddings (
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  grid_width INTEGER NOT NULL,
  grid_height INTEGER NOT NULL,
  dim INTEGER NOT NULL,
  image_width INTEGER NOT NULL,
  image_height INTEGER NOT NULL,
  dtype TEXT NOT NULL CHECK (dtype IN ('int8', 'float16')),
  scale REAL NOT NULL,                  -- value = stored int8 * scale
  data BLOB NOT NULL,                   -- cell-major (HWC)
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (image_id, model_id)
);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'failed')),
  payload TEXT NOT NULL DEFAULT '{}',   -- JSON; enough to resume the job after a restart
  total INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at TEXT,
  finished_at TEXT
);
CREATE INDEX jobs_status ON jobs (status, id);
`;
