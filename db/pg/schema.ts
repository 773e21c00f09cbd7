/**
 * The team server's PostgreSQL schema, in migrations; migration i (0-based) moves pixelwise_schema.version from
 * i to i + 1. Append only: never edit a migration that has shipped. Same concepts as the SQLite project
 * (db/migrations), with the image bytes in the database (team members share no folder) and timestamptz times.
 */
const initial = `
CREATE TABLE images (
  id serial PRIMARY KEY,
  path text NOT NULL UNIQUE,
  hash text NOT NULL UNIQUE,               -- sha256 of data, hex
  width integer NOT NULL,
  height integer NOT NULL,
  byte_size integer NOT NULL,
  format text NOT NULL,
  reviewed boolean NOT NULL DEFAULT false,
  data bytea NOT NULL,                     -- the encoded file as uploaded
  thumbnail bytea NOT NULL,                -- JPEG, long side 256
  added_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE classes (
  id serial PRIMARY KEY,
  name text NOT NULL,
  color text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX classes_name ON classes (lower(name));

CREATE TABLE annotations (
  id serial PRIMARY KEY,
  image_id integer NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  class_id integer REFERENCES classes (id) ON DELETE SET NULL,
  rle_counts text NOT NULL,                -- COCO compressed RLE
  rle_height integer NOT NULL,
  rle_width integer NOT NULL,
  bbox_x integer NOT NULL, bbox_y integer NOT NULL, bbox_w integer NOT NULL, bbox_h integer NOT NULL,
  area integer NOT NULL,
  score double precision,
  z_order integer NOT NULL DEFAULT 0,
  visible boolean NOT NULL DEFAULT true,
  source text NOT NULL DEFAULT 'manual',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotations_image ON annotations (image_id, z_order);

CREATE TABLE users (
  id serial PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'labeler', 'reviewer', 'worker')),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_name ON users (lower(name));

CREATE TABLE sessions (
  token_hash text PRIMARY KEY,             -- sha256 of the bearer token, hex
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);

CREATE TABLE annotation_saves (
  image_id integer NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  version integer NOT NULL,
  user_id integer REFERENCES users (id) ON DELETE SET NULL,
  save_id text UNIQUE,
  annotations jsonb NOT NULL,              -- the drafts as saved
  saved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, version)
);

CREATE TABLE image_leases (
  image_id integer PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);

CREATE TABLE activity (
  id bigserial PRIMARY KEY,
  image_id integer NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  user_id integer REFERENCES users (id) ON DELETE SET NULL,
  action text NOT NULL,
  detail jsonb,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_image ON activity (image_id, id);

CREATE TABLE models (
  id text PRIMARY KEY,
  manifest jsonb NOT NULL,
  sha256 text NOT NULL
);

CREATE TABLE embeddings (
  image_id integer NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_id text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  grid_width integer NOT NULL,
  grid_height integer NOT NULL,
  dim integer NOT NULL,
  image_width integer NOT NULL,
  image_height integer NOT NULL,
  dtype text NOT NULL CHECK (dtype IN ('int8', 'float16')),
  scale double precision NOT NULL,
  data bytea NOT NULL,                     -- cell-major (HWC)
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, model_id)
);

CREATE TABLE embed_tasks (
  id serial PRIMARY KEY,
  image_id integer NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  model_id text NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  worker text,
  lease_token uuid,
  lease_expires_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  error text,
  UNIQUE (image_id, model_id)
);
CREATE INDEX embed_tasks_pending ON embed_tasks (id) WHERE status IN ('queued', 'running');
`;

/**
 * images.status, derived from reviewed, annotations and embeddings (PgStore refreshes it in the transaction of each
 * change), stored so that a status-filtered list reads an index instead of testing every row: at 100,000 images a
 * filtered page took 0.66-0.80 s computed, 45-52 ms stored (tests/bench/team-load.ts --only list).
 */
const imageStatus = `
ALTER TABLE images ADD COLUMN status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'embedded', 'annotated', 'reviewed'));
UPDATE images i SET status = CASE WHEN i.reviewed THEN 'reviewed'
  WHEN EXISTS (SELECT 1 FROM annotations a WHERE a.image_id = i.id) THEN 'annotated'
  WHEN EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id) THEN 'embedded' ELSE 'new' END;
CREATE INDEX images_status ON images (status, id);
`;

/**
 * Region vectors for similar-object search (core/search/regions.ts, as db/regions.ts stores them locally), written
 * with the embedding they come from. seq grows on every insert or replacement, so the server's in-memory stage-1
 * matrix (electron/team/search.ts) catches up by reading only the rows past the last seq it holds. region_versions
 * keeps each model's row count, last seq and rows ever removed, kept by statement triggers in the writing transaction, so the check
 * before each query reads one row: count(*) over 100,000 rows took 95 ms (p95 250 ms) per query on a shared machine.
 */
const regionSets = `
CREATE SEQUENCE region_sets_seq;
CREATE TABLE region_sets (
  image_id integer NOT NULL,
  model_id text NOT NULL,
  seq bigint NOT NULL DEFAULT nextval('region_sets_seq'),
  grid_width integer NOT NULL,
  grid_height integer NOT NULL,
  image_width integer NOT NULL,
  image_height integer NOT NULL,
  dim integer NOT NULL,
  leaf_count integer NOT NULL,
  region_count integer NOT NULL,
  labels bytea NOT NULL,                   -- grid_width * grid_height leaf ids (uint8)
  parents bytea NOT NULL,                  -- int16 per region, little-endian
  boxes bytea NOT NULL,                    -- uint16 x 5 per region, little-endian
  vectors bytea NOT NULL,                  -- int8, region_count * dim
  PRIMARY KEY (image_id, model_id),
  FOREIGN KEY (image_id, model_id) REFERENCES embeddings (image_id, model_id) ON DELETE CASCADE
);
CREATE INDEX region_sets_model_seq ON region_sets (model_id, seq);

CREATE TABLE region_versions (
  model_id text PRIMARY KEY,
  rows bigint NOT NULL,
  last bigint NOT NULL,
  removed bigint NOT NULL DEFAULT 0        -- rows deleted, ever: a reader holding deleted rows reloads
);
CREATE FUNCTION region_versions_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE region_versions v SET rows = v.rows - d.n, removed = v.removed + d.n FROM (SELECT model_id, count(*) AS n FROM old_rows GROUP BY model_id) d
      WHERE v.model_id = d.model_id;
  ELSE
    INSERT INTO region_versions AS v (model_id, rows, last)
      SELECT model_id, CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE 0 END, max(seq) FROM new_rows GROUP BY model_id
      ON CONFLICT (model_id) DO UPDATE SET rows = v.rows + excluded.rows, last = greatest(v.last, excluded.last);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER region_sets_inserted AFTER INSERT ON region_sets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION region_versions_track();
CREATE TRIGGER region_sets_updated AFTER UPDATE ON region_sets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION region_versions_track();
CREATE TRIGGER region_sets_deleted AFTER DELETE ON region_sets REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION region_versions_track();
`;

/**
 * Account management: an admin disables (and re-enables) accounts; a session ended early (account disabled,
 * password reset) keeps why until it would have expired, so its holder is told in words; and failed sign-ins are
 * kept in the database (electron/team/auth.ts), so a restart does not reset the lockout and servers on one database
 * share it.
 */
const accounts = `
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE sessions ADD COLUMN ended text CHECK (ended IN ('disabled', 'password-reset'));
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_in_failures (
  name text NOT NULL,                      -- the name tried, lower-cased
  at timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_name ON sign_in_failures (name, at);
`;

export const pgMigrations: string[] = [initial, imageStatus, regionSets, accounts];
export const pgSchemaVersion = pgMigrations.length;
