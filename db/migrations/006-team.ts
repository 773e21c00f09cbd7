/**
 * What a project needs to be served to a team (db/store.ts): users and sessions, image leases, the per-image
 * activity log, a version per image's annotations with every accepted save kept, and the embed-task queue.
 * The desktop app leaves these tables empty.
 */
export const team = `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'labeler', 'reviewer', 'worker')),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,          -- sha256 of the bearer token, hex: a leaked database holds no usable token
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at TEXT NOT NULL
);

CREATE TABLE image_leases (
  image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at TEXT NOT NULL
);

CREATE TABLE activity (
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
  action TEXT NOT NULL,
  detail TEXT,                          -- JSON
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX activity_image ON activity (image_id, id);

CREATE TABLE annotation_saves (
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
  save_id TEXT UNIQUE,
  annotations TEXT NOT NULL,            -- JSON: the drafts as saved
  saved_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (image_id, version)
);

CREATE TABLE embed_tasks (
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  worker TEXT,
  lease_token TEXT,
  lease_expires_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  UNIQUE (image_id, model_id)
);
CREATE INDEX embed_tasks_status ON embed_tasks (status, id);
`;
