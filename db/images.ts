/** Image rows: paths relative to the project folder where possible, status derived from the other tables. */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ImagePage, ImageRecord, ImageStatus } from '../core/api/records';
import type { Db } from './connection';

interface ImageRow {
  id: number;
  path: string;
  hash: string | null;
  width: number;
  height: number;
  byte_size: number;
  status: ImageStatus;
  error: string | null;
  added_at: string;
  annotation_count: number;
  synthetic: number;
  source_image_id: number | null;
}

const columns = `id, path, hash, width, height, byte_size, status, error, added_at, synthetic, source_image_id,
  (SELECT count(*) FROM annotations a WHERE a.image_id = images.id) AS annotation_count`;

function toRecord(row: ImageRow): ImageRecord {
  return {
    id: row.id,
    path: row.path,
    fileName: row.path.split('/').pop() ?? row.path,
    width: row.width,
    height: row.height,
    byteSize: row.byte_size,
    hash: row.hash,
    status: row.status,
    error: row.error,
    annotationCount: row.annotation_count,
    addedAt: row.added_at,
    synthetic: row.synthetic === 1,
    sourceImageId: row.source_image_id,
  };
}

/** How a file path is stored: relative ('/'-separated) when inside the project folder, else absolute. */
export function storedPath(projectDir: string, file: string): string {
  const rel = relative(projectDir, file);
  if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  return resolve(file);
}

export function resolveStoredPath(projectDir: string, stored: string): string {
  return isAbsolute(stored) ? stored : resolve(projectDir, ...stored.split('/'));
}

export interface NewImage {
  path: string;
  hash: string;
  width: number;
  height: number;
  byteSize: number;
  format: string;
  thumbnail: Uint8Array;
  /** Augment's variants: the image they were made from and the job that made them. */
  synthetic?: { sourceImageId: number; jobId: number };
}

export function imageRepository(db: Db) {
  const byId = db.prepare(`SELECT ${columns} FROM images WHERE id = ?`);
  const byHash = db.prepare('SELECT id FROM images WHERE hash = ?');
  const byPath = db.prepare('SELECT id, hash FROM images WHERE path = ?');
  const insert = db.prepare(`INSERT INTO images (path, hash, width, height, byte_size, format, thumbnail, synthetic, source_image_id, augment_job_id)
    VALUES (@path, @hash, @width, @height, @byteSize, @format, @thumbnail, @synthetic, @sourceImageId, @jobId)`);
  const byAugmentJob = db.prepare('SELECT id, path FROM images WHERE augment_job_id = ? ORDER BY id');
  const upsertFailed = db.prepare(`INSERT INTO images (path, status, error) VALUES (?, 'failed', ?)
    ON CONFLICT (path) DO UPDATE SET error = excluded.error, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE images.hash IS NULL`);
  const replaceFailed = db.prepare(`UPDATE images SET hash = @hash, width = @width, height = @height, byte_size = @byteSize,
    format = @format, thumbnail = @thumbnail, error = NULL, status = 'new' WHERE path = @path AND hash IS NULL`);
  const thumbnail = db.prepare('SELECT thumbnail FROM images WHERE id = ?').pluck();
  const refresh = db.prepare(`UPDATE images SET status = CASE
      WHEN hash IS NULL THEN 'failed'
      WHEN reviewed THEN 'reviewed'
      WHEN EXISTS (SELECT 1 FROM annotations a WHERE a.image_id = images.id) THEN 'annotated'
      WHEN EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = images.id) THEN 'embedded'
      ELSE 'new' END,
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = ?`);

  function filter(status?: ImageStatus, search?: string): { where: string; params: unknown[] } {
    const clauses: string[] = [], params: unknown[] = [];
    if (status) {
      clauses.push('status = ?');
      params.push(status);
    }
    if (search) {
      clauses.push("path LIKE ? ESCAPE '\\'");
      params.push(`%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  return {
    get(id: number): ImageRecord | undefined {
      const row = byId.get(id) as ImageRow | undefined;
      return row && toRecord(row);
    },
    findByHash: (hash: string) => (byHash.get(hash) as { id: number } | undefined)?.id,
    findByPath: (path: string) => byPath.get(path) as { id: number; hash: string | null } | undefined,
    /** Adds a decoded image; a row for the same path that had failed before is replaced. */
    add(image: NewImage): number {
      const { synthetic, ...facts } = image;
      const row = { ...facts, thumbnail: Buffer.from(image.thumbnail), synthetic: synthetic ? 1 : 0,
        sourceImageId: synthetic?.sourceImageId ?? null, jobId: synthetic?.jobId ?? null };
      const existing = byPath.get(image.path) as { id: number } | undefined;
      if (existing) {
        replaceFailed.run(row);
        return existing.id;
      }
      return Number(insert.run(row).lastInsertRowid);
    },
    /** The images an augment job made (to undo it). */
    madeByAugment: (jobId: number) => byAugmentJob.all(jobId) as Array<{ id: number; path: string }>,
    addFailed(path: string, error: string): void {
      upsertFailed.run(path, error);
    },
    list(options: { status?: ImageStatus; search?: string; offset: number; limit: number }): ImagePage {
      const { where, params } = filter(options.status, options.search);
      const total = db.prepare(`SELECT count(*) FROM images ${where}`).pluck().get(...params) as number;
      const rows = db.prepare(`SELECT ${columns} FROM images ${where} ORDER BY id LIMIT ? OFFSET ?`)
        .all(...params, options.limit, options.offset) as ImageRow[];
      return { items: rows.map(toRecord), total };
    },
    neighbors(id: number, status?: ImageStatus): { previous: number | null; next: number | null } {
      const { where, params } = filter(status);
      const and = where ? `${where} AND` : 'WHERE';
      const previous = db.prepare(`SELECT id FROM images ${and} id < ? ORDER BY id DESC LIMIT 1`).pluck().get(...params, id) as number | undefined;
      const next = db.prepare(`SELECT id FROM images ${and} id > ? ORDER BY id LIMIT 1`).pluck().get(...params, id) as number | undefined;
      return { previous: previous ?? null, next: next ?? null };
    },
    ids(status?: ImageStatus): number[] {
      const { where, params } = filter(status);
      return db.prepare(`SELECT id FROM images ${where} ORDER BY id`).pluck().all(...params) as number[];
    },
    thumbnail: (id: number) => thumbnail.get(id) as Buffer | null | undefined,
    setReviewed(ids: number[], reviewed: boolean): void {
      const update = db.prepare('UPDATE images SET reviewed = ? WHERE id = ?');
      for (const id of ids) {
        update.run(reviewed ? 1 : 0, id);
        refresh.run(id);
      }
    },
    remove(ids: number[]): void {
      const remove = db.prepare('DELETE FROM images WHERE id = ?');
      for (const id of ids) remove.run(id);
    },
    setError(id: number, error: string | null): void {
      db.prepare('UPDATE images SET error = ? WHERE id = ?').run(error, id);
    },
    /** Recompute status from the facts (failed, reviewed, annotations, embeddings). */
    refreshStatus(id: number): void {
      refresh.run(id);
    },
    counts(): Record<ImageStatus, number> {
      const counts: Record<ImageStatus, number> = { new: 0, embedded: 0, annotated: 0, reviewed: 0, failed: 0 };
      for (const row of db.prepare('SELECT status, count(*) AS n FROM images GROUP BY status').all() as Array<{ status: ImageStatus; n: number }>) {
        counts[row.status] = row.n;
      }
      return counts;
    },
  };
}

export type ImageRepository = ReturnType<typeof imageRepository>;
