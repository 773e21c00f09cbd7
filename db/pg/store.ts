/**
 * The Store interface on PostgreSQL, for the team server and its workers. Writes that must hold together (a save
 * and its version, a task's completion and its embedding) run in one transaction; concurrent saves of one image
 * queue on the image's row lock (SELECT ... FOR UPDATE), and workers take tasks with FOR UPDATE SKIP LOCKED, so
 * they never wait on each other's task nor take the same one.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ApiError } from '../../core/api/contract';
import type { AnnotationRecord, ClassRecord, ImageRecord, ImageStatus } from '../../core/api/records';
import type { StoredEmbedding } from '../../core/embedding';
import type { RegionSet } from '../../core/search/regions';
import { annotationRow } from '../annotations';
import { RegionDataError } from '../regions';
import {
  type AccountRecord, type AccountUpdate, type ActivityEntry, assertKnownClasses, lastAdminError, leaseRoles, type SessionEnd, assertSaveId, type EmbedTask, type Lease, LeaseHeldError, type NewTeamImage, type RegionChange, type RegionVersion, type Role,
  gaveUp, maxTaskAttempts, regionSetOf, type SaveRequest, StaleVersionError, type Store, type StoredUser, type TaskCounts, type UserRecord, type VersionedAnnotations,
} from '../store';
import { type Connection, connectDatabase, databaseError, redactUrl } from './connect';

const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe',
  '#008080', '#e6beff', '#9a6324', '#800000', '#aaffc3', '#808000', '#000075'];

type Queryable = pg.Pool | pg.PoolClient;

const bytesOf = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

/** Replacing a row takes a new seq, so the search index sees it among the changes. */
const putRegions = `INSERT INTO region_sets (image_id, model_id, grid_width, grid_height, image_width, image_height, dim, leaf_count,
    region_count, labels, parents, boxes, vectors)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  ON CONFLICT (image_id, model_id) DO UPDATE SET seq = nextval('region_sets_seq'), grid_width = excluded.grid_width,
    grid_height = excluded.grid_height, image_width = excluded.image_width, image_height = excluded.image_height, dim = excluded.dim,
    leaf_count = excluded.leaf_count, region_count = excluded.region_count, labels = excluded.labels, parents = excluded.parents,
    boxes = excluded.boxes, vectors = excluded.vectors`;

function regionParams(imageId: number, modelId: string, set: RegionSet): unknown[] {
  const regionCount = set.parents.length;
  if (set.vectors.length !== regionCount * set.dim || set.boxes.length !== regionCount * 5) {
    throw new RegionDataError(`region set for image ${imageId} is inconsistent: ${regionCount} regions, ${set.vectors.length} vector values`);
  }
  return [imageId, modelId, set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight, set.dim, set.leafCount, regionCount,
    bytesOf(set.labels), bytesOf(set.parents), bytesOf(set.boxes), bytesOf(set.vectors)];
}

/** Recomputes images.status from the facts, for the images `where` selects; run in the transaction that changed them. */
const refreshStatus = (where: string) => `UPDATE images i SET status = CASE WHEN i.reviewed THEN 'reviewed'
  WHEN EXISTS (SELECT 1 FROM annotations a WHERE a.image_id = i.id) THEN 'annotated'
  WHEN EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id) THEN 'embedded' ELSE 'new' END WHERE ${where}`;
const imageColumns = `i.id, i.path, i.hash, i.width, i.height, i.byte_size, i.added_at, i.status,
  (SELECT count(*)::int FROM annotations a WHERE a.image_id = i.id) AS annotation_count`;

interface ImageRow {
  id: number; path: string; hash: string; width: number; height: number; byte_size: number; added_at: Date; status: ImageStatus;
  annotation_count: number;
}

const toImage = (row: ImageRow): ImageRecord => ({
  id: row.id, path: row.path, fileName: row.path.split('/').pop() ?? row.path, width: row.width, height: row.height,
  byteSize: row.byte_size, hash: row.hash, status: row.status, error: null, annotationCount: row.annotation_count,
  addedAt: row.added_at.toISOString(),
  // Augment runs on local projects only: a server holds no synthetic variants (yet).
  synthetic: false, sourceImageId: null,
});

interface AnnotationRow {
  id: number; image_id: number; class_id: number | null; rle_counts: string; rle_height: number; rle_width: number;
  bbox_x: number; bbox_y: number; bbox_w: number; bbox_h: number; area: number; score: number | null; z_order: number;
  visible: boolean; source: AnnotationRecord['source']; created_at: Date; updated_at: Date;
}

const toAnnotation = (row: AnnotationRow): AnnotationRecord => ({
  id: row.id, imageId: row.image_id, classId: row.class_id, rle: { size: [row.rle_height, row.rle_width], counts: row.rle_counts },
  bbox: [row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h], area: row.area, score: row.score, order: row.z_order,
  visible: row.visible, source: row.source, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(),
});

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private readonly pool: pg.Pool;

  private constructor(private readonly connection: Connection) {
    this.pool = connection.pool;
    this.location = redactUrl(connection.url);
  }

  static async open(url: string, options: { max?: number } = {}): Promise<PgStore> {
    return new PgStore(await connectDatabase(url, options));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    try {
      return (await on.query<R>(sql, params)).rows;
    } catch (error) {
      throw this.translate(error);
    }
  }

  private translate(error: unknown): unknown {
    const code = (error as { code?: string }).code;
    if (code === '23505') return new ApiError('exists', 'that name is taken already');
    if (code === '23503') return new ApiError('conflict', 'something this change refers to no longer exists (a class or an image removed meanwhile); reload and try again');
    return databaseError(error, this.connection.url);
  }

  /** Runs fn in one transaction; a failure anywhere rolls all of it back. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.translate(error);
    }
    let broken = false;
    // A connection cut while checked out is reported as an event too (besides the failing query): not a crash.
    const onError = () => { broken = true; };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw error instanceof ApiError ? error : this.translate(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  private async current(imageId: number, on: Queryable = this.pool): Promise<VersionedAnnotations> {
    const [{ version }] = await this.query<{ version: number }>(
      'SELECT coalesce(max(version), 0)::int AS version FROM annotation_saves WHERE image_id = $1', [imageId], on);
    const rows = await this.query<AnnotationRow>('SELECT * FROM annotations WHERE image_id = $1 ORDER BY z_order, id', [imageId], on);
    return { imageId, version, annotations: rows.map(toAnnotation) };
  }

  private async lease(imageId: number, on: Queryable = this.pool): Promise<Lease | undefined> {
    const [row] = await this.query<{ image_id: number; user_id: number; name: string; expires_at: Date }>(`SELECT l.image_id, l.user_id, u.name, l.expires_at
      FROM image_leases l JOIN users u ON u.id = l.user_id WHERE l.image_id = $1 AND l.expires_at > now()`, [imageId], on);
    return row && { imageId: row.image_id, userId: row.user_id, userName: row.name, expiresAt: row.expires_at.toISOString() };
  }

  /** An image's map, its regions and its status, in the caller's transaction. */
  private async writeMap(client: pg.PoolClient, imageId: number, modelId: string, stored: StoredEmbedding, regions: RegionSet): Promise<void> {
    await this.query(`INSERT INTO embeddings (image_id, model_id, grid_width, grid_height, dim, image_width, image_height, dtype, scale, data)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
      ON CONFLICT (image_id, model_id) DO UPDATE SET grid_width = excluded.grid_width, grid_height = excluded.grid_height, dim = excluded.dim,
        image_width = excluded.image_width, image_height = excluded.image_height, dtype = excluded.dtype, scale = excluded.scale,
        data = excluded.data, created_at = now()`,
    [imageId, modelId, stored.width, stored.height, stored.dim, stored.imageWidth, stored.imageHeight, stored.dtype, stored.scale, bytesOf(stored.bytes)], client);
    await this.query(putRegions, regionParams(imageId, modelId, regions), client);
    await this.query(refreshStatus('i.id = $1'), [imageId], client);
  }

  readonly images: Store['images'] = {
    add: async (image: NewTeamImage) => {
      const [row] = await this.query<{ id: number }>(`INSERT INTO images (path, hash, width, height, byte_size, format, data, thumbnail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO UPDATE SET hash = excluded.hash RETURNING id`,
      [image.path, image.hash, image.width, image.height, image.byteSize, image.format, Buffer.from(image.bytes), Buffer.from(image.thumbnail)]);
      return row.id;
    },
    get: async (id) => {
      const [row] = await this.query<ImageRow>(`SELECT ${imageColumns} FROM images i WHERE i.id = $1`, [id]);
      return row && toImage(row);
    },
    list: async ({ status, search, offset, limit }) => {
      const clauses: string[] = [], params: unknown[] = [];
      if (status) clauses.push(`i.status = $${params.push(status)}`);
      if (search) clauses.push(`i.path ILIKE $${params.push(`%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
      const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
      const [{ total }] = await this.query<{ total: number }>(`SELECT count(*)::int AS total FROM images i ${where}`, params);
      const rows = await this.query<ImageRow>(`SELECT ${imageColumns} FROM images i ${where} ORDER BY i.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, limit, offset]);
      return { items: rows.map(toImage), total };
    },
    neighbors: async (id, status) => {
      const and = status ? 'AND status = $2' : '';
      const params = status ? [id, status] : [id];
      const [previous] = await this.query<{ id: number }>(`SELECT id FROM images WHERE id < $1 ${and} ORDER BY id DESC LIMIT 1`, params);
      const [next] = await this.query<{ id: number }>(`SELECT id FROM images WHERE id > $1 ${and} ORDER BY id LIMIT 1`, params);
      return { previous: previous?.id ?? null, next: next?.id ?? null };
    },
    counts: async () => {
      const byStatus: Record<ImageStatus, number> = { new: 0, embedded: 0, annotated: 0, reviewed: 0, failed: 0 };
      for (const row of await this.query<{ status: ImageStatus; n: number }>('SELECT status, count(*)::int AS n FROM images GROUP BY status')) {
        byStatus[row.status] = row.n;
      }
      const [{ n }] = await this.query<{ n: number }>('SELECT count(*)::int AS n FROM annotations');
      return { byStatus, annotations: n };
    },
    findByHashes: async (hashes) => Object.fromEntries((await this.query<{ id: number; hash: string }>(
      'SELECT id, hash FROM images WHERE hash = ANY($1::text[])', [hashes])).map((row) => [row.hash, row.id])),
    bytes: async (id) => (await this.query<{ data: Buffer }>('SELECT data FROM images WHERE id = $1', [id]))[0]?.data,
    thumbnail: async (id) => (await this.query<{ thumbnail: Buffer }>('SELECT thumbnail FROM images WHERE id = $1', [id]))[0]?.thumbnail,
    setReviewed: (id, reviewed) => this.transaction(async (client) => {
      await this.query('UPDATE images SET reviewed = $1 WHERE id = $2', [reviewed, id], client);
      await this.query(refreshStatus('i.id = $1'), [id], client);
    }),
  };

  readonly classes: Store['classes'] = {
    list: async () => this.query<ClassRecord>('SELECT id, name, color FROM classes ORDER BY id'),
    create: async (name, color) => {
      const [{ n }] = await this.query<{ n: number }>('SELECT count(*)::int AS n FROM classes');
      const [row] = await this.query<ClassRecord>('INSERT INTO classes (name, color) VALUES ($1, $2) RETURNING id, name, color',
        [name, color ?? palette[n % palette.length]]).catch((error: unknown) => {
        throw error instanceof ApiError && error.code === 'exists' ? new ApiError('invalid-class', `a class named "${name}" already exists`) : error;
      });
      return row;
    },
    update: async (id, changes) => {
      const [row] = await this.query<ClassRecord>(`UPDATE classes SET name = coalesce($2, name), color = coalesce($3, color) WHERE id = $1
        RETURNING id, name, color`, [id, changes.name ?? null, changes.color ?? null]).catch((error: unknown) => {
        throw error instanceof ApiError && error.code === 'exists' ? new ApiError('invalid-class', `a class named "${changes.name}" already exists`) : error;
      });
      if (!row) throw new ApiError('invalid-class', `no class with id ${id}`);
      return row;
    },
    remove: async (id) => {
      const rows = await this.query('DELETE FROM classes WHERE id = $1 RETURNING id', [id]);
      if (!rows.length) throw new ApiError('invalid-class', `no class with id ${id}`);
    },
  };

  readonly annotations: Store['annotations'] = {
    get: async (imageId) => {
      if (!(await this.query('SELECT 1 FROM images WHERE id = $1', [imageId])).length) throw new ApiError('not-found', `no image ${imageId}`);
      return this.current(imageId);
    },
    save: (request: SaveRequest) => {
      assertSaveId(request.saveId);
      return this.transaction(async (client) => {
        // The image's row lock orders concurrent saves of one image; other images' saves do not wait.
        const [size] = await this.query<{ width: number; height: number }>('SELECT width, height FROM images WHERE id = $1 FOR UPDATE',
          [request.imageId], client);
        if (!size) throw new ApiError('not-found', `no image ${request.imageId}`);
        if (request.saveId) {
          const [replayed] = await this.query<{ version: number }>('SELECT version FROM annotation_saves WHERE save_id = $1', [request.saveId], client);
          if (replayed) {
            const current = await this.current(request.imageId, client);
            if (current.version !== replayed.version) throw new StaleVersionError(current, request.baseVersion);
            return current;
          }
        }
        const before = await this.current(request.imageId, client);
        if (before.version !== request.baseVersion) throw new StaleVersionError(before, request.baseVersion);
        assertKnownClasses(await this.query<ClassRecord>('SELECT id, name, color FROM classes', [], client), request.annotations);
        const rows = request.annotations.map((draft, index) => annotationRow(request.imageId, size, draft, index));
        const existing = new Set(before.annotations.map((a) => a.id));
        const keep: number[] = [];
        for (const row of rows) {
          const values = [request.imageId, row.classId, row.counts, row.height, row.width, row.x, row.y, row.w, row.h, row.area, row.score,
            row.order, row.visible === 1, row.source];
          if (row.id !== null) {
            if (!existing.has(row.id)) throw new ApiError('invalid-annotation', `annotation ${row.id} does not belong to image ${request.imageId}`);
            await this.query(`UPDATE annotations SET class_id = $2, rle_counts = $3, rle_height = $4, rle_width = $5, bbox_x = $6, bbox_y = $7,
              bbox_w = $8, bbox_h = $9, area = $10, score = $11, z_order = $12, visible = $13, source = $14, updated_at = now()
              WHERE id = $15 AND image_id = $1`, [...values, row.id], client);
            keep.push(row.id);
          } else {
            const [inserted] = await this.query<{ id: number }>(`INSERT INTO annotations (image_id, class_id, rle_counts, rle_height, rle_width,
              bbox_x, bbox_y, bbox_w, bbox_h, area, score, z_order, visible, source)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`, values, client);
            keep.push(inserted.id);
          }
        }
        await this.query('DELETE FROM annotations WHERE image_id = $1 AND NOT (id = ANY($2::int[]))', [request.imageId, keep], client);
        const version = before.version + 1;
        await this.query('INSERT INTO annotation_saves (image_id, version, user_id, save_id, annotations) VALUES ($1, $2, $3, $4, $5)',
          [request.imageId, version, request.userId, request.saveId ?? null, JSON.stringify(request.annotations)], client);
        await this.query(refreshStatus('i.id = $1'), [request.imageId], client);
        await this.query("INSERT INTO activity (image_id, user_id, action, detail) VALUES ($1, $2, 'save', $3)",
          [request.imageId, request.userId, JSON.stringify({ version, objects: rows.length })], client);
        return this.current(request.imageId, client);
      });
    },
    history: async (imageId) => this.query<{ version: number; userId: number | null; saveId: string | null; count: number }>(
      `SELECT version, user_id AS "userId", save_id AS "saveId", jsonb_array_length(annotations) AS count
       FROM annotation_saves WHERE image_id = $1 ORDER BY version`, [imageId]),
  };

  readonly embeddings: Store['embeddings'] = {
    registerModel: (manifest) => this.transaction(async (client) => {
      const [previous] = await this.query<{ sha256: string }>('SELECT sha256 FROM models WHERE id = $1 FOR UPDATE', [manifest.id], client);
      // Embeddings made by a different file of the same id no longer match it.
      if (previous && previous.sha256 !== manifest.sha256) {
        await this.query('DELETE FROM embeddings WHERE model_id = $1', [manifest.id], client);
        await this.query(refreshStatus("i.status = 'embedded'"), [], client);
      }
      await this.query(`INSERT INTO models (id, manifest, sha256) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET manifest = excluded.manifest, sha256 = excluded.sha256`, [manifest.id, JSON.stringify(manifest), manifest.sha256], client);
    }),
    get: async (imageId, modelId) => {
      const [row] = await this.query<{ grid_width: number; grid_height: number; dim: number; image_width: number; image_height: number;
        dtype: StoredEmbedding['dtype']; scale: number; data: Buffer; }>(
        'SELECT grid_width, grid_height, dim, image_width, image_height, dtype, scale, data FROM embeddings WHERE image_id = $1 AND model_id = $2',
        [imageId, modelId]);
      return row && {
        width: row.grid_width, height: row.grid_height, dim: row.dim, imageWidth: row.image_width, imageHeight: row.image_height,
        dtype: row.dtype, scale: row.scale, bytes: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
      };
    },
    count: async (modelId) => (await this.query<{ n: number }>('SELECT count(*)::int AS n FROM embeddings WHERE model_id = $1', [modelId]))[0].n,
    stored: async (modelId, imageIds) => (await this.query<{ image_id: number }>(
      'SELECT image_id FROM embeddings WHERE model_id = $1 AND image_id = ANY($2::int[]) ORDER BY image_id', [modelId, imageIds])).map((row) => row.image_id),
    put: (imageId, modelId, stored) => {
      // Computed before the transaction, as in tasks.complete: no row lock is held while the regions are worked out.
      const regions = regionSetOf(stored);
      return this.transaction(async (client) => {
        if (!(await this.query('SELECT 1 FROM images WHERE id = $1 FOR UPDATE', [imageId], client)).length) throw new ApiError('not-found', `no image ${imageId}`);
        await this.writeMap(client, imageId, modelId, stored, regions);
        await this.query(`UPDATE embed_tasks SET status = 'done', lease_expires_at = NULL WHERE image_id = $1 AND model_id = $2
          AND status IN ('queued', 'failed')`, [imageId, modelId], client);
      });
    },
  };

  readonly tasks: Store['tasks'] = {
    enqueueEmbed: async (modelId, imageIds) => {
      const rows = await this.query(`INSERT INTO embed_tasks (image_id, model_id)
        SELECT i.id, $1 FROM images i WHERE ($2::int[] IS NULL OR i.id = ANY($2::int[]))
          AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_id = $1)
        ORDER BY i.id
        ON CONFLICT (image_id, model_id) DO UPDATE SET status = 'queued', attempts = 0, error = NULL WHERE embed_tasks.status = 'failed'
        RETURNING id`, [modelId, imageIds]);
      return rows.length;
    },
    claim: async (worker, leaseSeconds) => {
      await this.query(`UPDATE embed_tasks SET status = 'failed', error = $1
        WHERE status = 'running' AND lease_expires_at < now() AND attempts >= $2`, [gaveUp, maxTaskAttempts]);
      const [row] = await this.query<{ id: number; image_id: number; model_id: string; attempts: number; lease_token: string }>(`UPDATE embed_tasks
        SET status = 'running', worker = $1, lease_token = $2, lease_expires_at = now() + make_interval(secs => $3), attempts = attempts + 1
        WHERE id = (SELECT id FROM embed_tasks WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < now())
                    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING id, image_id, model_id, attempts, lease_token`, [worker, randomUUID(), leaseSeconds]);
      return row ? { id: row.id, imageId: row.image_id, modelId: row.model_id, leaseToken: row.lease_token, attempts: row.attempts } satisfies EmbedTask : null;
    },
    renew: async (task, leaseSeconds) => (await this.query(`UPDATE embed_tasks SET lease_expires_at = now() + make_interval(secs => $3)
      WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING id`, [task.id, task.leaseToken, leaseSeconds])).length === 1,
    complete: (task, stored) => {
      // Computed before the transaction: no row lock is held while the regions are worked out.
      const regions = regionSetOf(stored);
      return this.transaction(async (client) => {
        const owned = await this.query(`UPDATE embed_tasks SET status = 'done', lease_expires_at = NULL
          WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING id`, [task.id, task.leaseToken], client);
        if (!owned.length) return false;
        await this.writeMap(client, task.imageId, task.modelId, stored, regions);
        return true;
      });
    },
    fail: async (task, error) => void await this.query("UPDATE embed_tasks SET status = 'failed', error = $3 WHERE id = $1 AND lease_token = $2",
      [task.id, task.leaseToken, error]),
    counts: async () => {
      const counts: TaskCounts = { queued: 0, running: 0, done: 0, failed: 0 };
      for (const row of await this.query<{ status: keyof TaskCounts; n: number }>('SELECT status, count(*)::int AS n FROM embed_tasks GROUP BY status')) {
        counts[row.status] = row.n;
      }
      return counts;
    },
  };

  readonly regions: Store['regions'] = {
    put: async (imageId, modelId, set) => void await this.query(putRegions, regionParams(imageId, modelId, set)),
    missing: async (modelId) => (await this.query<{ image_id: number }>(`SELECT e.image_id FROM embeddings e WHERE e.model_id = $1
      AND NOT EXISTS (SELECT 1 FROM region_sets r WHERE r.image_id = e.image_id AND r.model_id = e.model_id) ORDER BY e.image_id`, [modelId]))
      .map((row) => row.image_id),
    version: async (modelId) => (await this.query<RegionVersion>(
      'SELECT rows::int, last::float8, removed::float8 FROM region_versions WHERE model_id = $1', [modelId]))[0] ?? { rows: 0, last: 0, removed: 0 },
    changes: async (modelId, afterSeq, limit) => (await this.query<{ image_id: number; region_count: number; dim: number; vectors: Buffer; seq: number }>(
      `SELECT image_id, region_count, dim, vectors, seq::float8 AS seq FROM region_sets WHERE model_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [modelId, afterSeq, limit])).map((row): RegionChange => row),
  };

  readonly users: Store['users'] = {
    create: async (name: string, role: Role, passwordHash: string) => {
      const [row] = await this.query<UserRecord>('INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) RETURNING id, name, role',
        [name, role, passwordHash]).catch((error: unknown) => {
        throw error instanceof ApiError && error.code === 'exists' ? new ApiError('exists', `a user named "${name}" already exists`) : error;
      });
      return row;
    },
    find: async (name) => (await this.query<StoredUser>(`SELECT id, name, role, disabled, password_hash AS "passwordHash" FROM users
      WHERE lower(name) = lower($1)`, [name]))[0],
    list: async () => this.query<AccountRecord>('SELECT id, name, role, disabled FROM users ORDER BY id'),
    update: (id, changes, by) => this.transaction(async (client): Promise<AccountUpdate> => {
      // Admins are locked in id order by every update, so two changing admins at once cannot both pass the last-admin check.
      await this.query("SELECT id FROM users WHERE role = 'admin' OR id = $1 ORDER BY id FOR UPDATE", [id], client);
      const [before] = await this.query<AccountRecord>('SELECT id, name, role, disabled FROM users WHERE id = $1', [id], client);
      if (!before) throw new ApiError('not-found', `no user with id ${id}`);
      const role = changes.role ?? before.role;
      const disabled = changes.disabled ?? before.disabled;
      await this.query('UPDATE users SET role = $2, disabled = $3, password_hash = coalesce($4, password_hash) WHERE id = $1',
        [id, role, disabled, changes.passwordHash ?? null], client);
      if (before.role === 'admin' && !before.disabled && (role !== 'admin' || disabled)
        && !(await this.query("SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled", [], client)).length) throw lastAdminError(before.name);
      const ended: SessionEnd | null = changes.disabled && !before.disabled ? 'disabled' : changes.passwordHash ? 'password-reset' : null;
      const endedSessions = ended ? (await this.query('UPDATE sessions SET ended = $2 WHERE user_id = $1 AND ended IS NULL AND expires_at > now() RETURNING 1',
        [id, ended], client)).length : 0;
      let freedLeases: number[] = [];
      if (disabled || !leaseRoles.includes(role)) {
        const freed = await this.query<{ image_id: number; live: boolean }>('DELETE FROM image_leases WHERE user_id = $1 RETURNING image_id, expires_at > now() AS live',
          [id], client);
        freedLeases = freed.filter((row) => row.live).map((row) => row.image_id).sort((a, b) => a - b);
        const reason = disabled ? 'account disabled' : `now a ${role}`;
        for (const imageId of freedLeases) {
          await this.query("INSERT INTO activity (image_id, user_id, action, detail) VALUES ($1, $2, 'revoke', $3)",
            [imageId, by, JSON.stringify({ from: before.name, reason })], client);
        }
      }
      return { user: { id, name: before.name, role, disabled }, endedSessions, freedLeases };
    }),
  };

  readonly sessions: Store['sessions'] = {
    create: async (userId, tokenHash, expiresAt) => {
      await this.query('DELETE FROM sessions WHERE expires_at <= now()'); // expired ones are of no use to anyone
      await this.query('INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [tokenHash, userId, expiresAt]);
    },
    user: async (tokenHash) => (await this.query<UserRecord>(`SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = $1 AND s.expires_at > now() AND s.ended IS NULL AND NOT u.disabled`, [tokenHash]))[0],
    ended: async (tokenHash) => (await this.query<{ ended: SessionEnd | null }>('SELECT ended FROM sessions WHERE token_hash = $1 AND expires_at > now()',
      [tokenHash]))[0]?.ended ?? undefined,
    remove: async (tokenHash) => void await this.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]),
  };

  readonly signIns: Store['signIns'] = {
    failures: async (name, since) => (await this.query<{ at: Date }>('SELECT at FROM sign_in_failures WHERE name = $1 AND at >= $2 ORDER BY at',
      [name, since])).map((row) => row.at.getTime()),
    fail: async (name, at, forgetBefore) => {
      await this.query('DELETE FROM sign_in_failures WHERE at < $1', [forgetBefore]);
      await this.query('INSERT INTO sign_in_failures (name, at) VALUES ($1, $2)', [name, at]);
    },
  };

  readonly leases: Store['leases'] = {
    claim: (imageId, userId, seconds) => this.transaction(async (client) => {
      if (!(await this.query('SELECT 1 FROM images WHERE id = $1 FOR UPDATE', [imageId], client)).length) throw new ApiError('not-found', `no image ${imageId}`);
      const held = await this.lease(imageId, client);
      if (held && held.userId !== userId) throw new LeaseHeldError(held);
      await this.query(`INSERT INTO image_leases (image_id, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
        ON CONFLICT (image_id) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at`, [imageId, userId, seconds], client);
      if (!held) await this.query("INSERT INTO activity (image_id, user_id, action) VALUES ($1, $2, 'claim')", [imageId, userId], client);
      return (await this.lease(imageId, client))!;
    }),
    release: async (imageId, userId) => void await this.query('DELETE FROM image_leases WHERE image_id = $1 AND user_id = $2', [imageId, userId]),
    get: async (imageId) => this.lease(imageId),
  };

  readonly activity: Store['activity'] = {
    log: async (imageId, userId, action, detail) => void await this.query('INSERT INTO activity (image_id, user_id, action, detail) VALUES ($1, $2, $3, $4)',
      [imageId, userId, action, detail === undefined ? null : JSON.stringify(detail)]),
    list: async (imageId) => (await this.query<{ image_id: number; user_id: number | null; name: string | null; action: string; detail: unknown; at: Date }>(
      `SELECT a.image_id, a.user_id, u.name, a.action, a.detail, a.at FROM activity a LEFT JOIN users u ON u.id = a.user_id
       WHERE a.image_id = $1 ORDER BY a.id`, [imageId]))
      .map((row): ActivityEntry => ({ imageId: row.image_id, userId: row.user_id, userName: row.name, action: row.action, detail: row.detail, at: row.at.toISOString() })),
  };
}
