/**
 * The Store interface over a project's SQLite file: the existing synchronous repositories for images, classes,
 * annotations and embeddings, plus the team tables of migration 004. Every method runs synchronously inside
 * better-sqlite3 (one writer, so a transaction is already exclusive) and answers through a resolved promise.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, sep } from 'node:path';
import { ApiError } from '../core/api/contract';
import type { AnnotationDraft } from '../core/api/records';
import type { StoredEmbedding } from '../core/embedding';
import type { OpenOptions } from './connection';
import { resolveStoredPath } from './images';
import { Project } from './project';
import { regionRepository } from './regions';
import { readFile } from 'node:fs/promises';
import {
  type AccountRecord, type AccountUpdate, type ActivityEntry, assertKnownClasses, lastAdminError, leaseRoles, type SessionEnd, assertSaveId, type EmbedTask, type Lease, LeaseHeldError, type NewTeamImage, type RegionChange,
  type RegionVersion, type Role, gaveUp, maxTaskAttempts, regionSetOf, type SaveRequest, StaleVersionError, type Store, type StoredUser, type TaskCounts, type UserRecord, type VersionedAnnotations,
} from './store';

const nowIso = () => new Date().toISOString();
const later = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly project: Project;

  constructor(path: string, options: OpenOptions = {}) {
    this.project = new Project(path, options);
    this.location = this.project.path;
  }

  private regionCache?: ReturnType<typeof regionRepository>;

  private get regionRows() {
    return (this.regionCache ??= regionRepository(this.db));
  }

  private get db() {
    return this.project.db;
  }

  async close(): Promise<void> {
    this.project.close();
  }

  private version(imageId: number): number {
    return this.db.prepare('SELECT coalesce(max(version), 0) FROM annotation_saves WHERE image_id = ?').pluck().get(imageId) as number;
  }

  private current(imageId: number): VersionedAnnotations {
    return { imageId, version: this.version(imageId), annotations: this.project.annotations.list(imageId) };
  }

  private lease(imageId: number): Lease | undefined {
    const row = this.db.prepare(`SELECT l.image_id, l.user_id, u.name, l.expires_at FROM image_leases l JOIN users u ON u.id = l.user_id
      WHERE l.image_id = ? AND l.expires_at > ?`).get(imageId, nowIso()) as { image_id: number; user_id: number; name: string; expires_at: string } | undefined;
    return row && { imageId: row.image_id, userId: row.user_id, userName: row.name, expiresAt: row.expires_at };
  }

  /** An image's map, its regions and its status; inside the caller's transaction. */
  private writeMap(imageId: number, modelId: string, stored: StoredEmbedding, regions: ReturnType<typeof regionSetOf>): void {
    this.project.embeddings.put(imageId, modelId, stored);
    this.regionRows.put(imageId, modelId, regions);
    this.project.images.refreshStatus(imageId);
  }

  readonly images: Store['images'] = {
    add: async (image: NewTeamImage) => {
      const p = this.project;
      const same = p.images.findByHash(image.hash);
      if (same !== undefined) return same;
      // The project keeps images as files beside it: an uploaded one is written there first.
      const file = resolveStoredPath(p.dir, image.path);
      if (!file.startsWith(p.dir + sep)) throw new ApiError('invalid-input', `${image.path}: an upload's path must stay inside the project's folder`);
      if (!existsSync(file)) {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, image.bytes);
      }
      return p.transaction(() => p.images.add(image));
    },
    get: async (id) => this.project.images.get(id),
    findByHashes: async (hashes) => Object.fromEntries(hashes.flatMap((hash) => {
      const id = this.project.images.findByHash(hash);
      return id === undefined ? [] : [[hash, id]];
    })),
    list: async (query) => this.project.images.list(query),
    neighbors: async (id, status) => this.project.images.neighbors(id, status),
    counts: async () => ({ byStatus: this.project.images.counts(), annotations: this.project.info().annotationCount }),
    bytes: async (id) => {
      const image = this.project.images.get(id);
      if (!image?.hash) return undefined;
      return readFile(resolveStoredPath(this.project.dir, image.path));
    },
    thumbnail: async (id) => this.project.images.thumbnail(id) ?? undefined,
    setReviewed: async (id, reviewed) => this.project.transaction(() => this.project.images.setReviewed([id], reviewed)),
  };

  readonly classes: Store['classes'] = {
    list: async () => this.project.classes.list(),
    create: async (name, color) => this.project.classes.create(name, color),
    update: async (id, changes) => this.project.classes.update(id, changes),
    remove: async (id) => this.project.classes.remove(id),
  };

  readonly annotations: Store['annotations'] = {
    get: async (imageId) => {
      if (!this.project.images.get(imageId)) throw new ApiError('not-found', `no image ${imageId}`);
      return this.current(imageId);
    },
    save: async (request: SaveRequest) => {
      assertSaveId(request.saveId);
      const p = this.project;
      return p.transaction(() => {
        if (!p.images.get(request.imageId)) throw new ApiError('not-found', `no image ${request.imageId}`);
        if (request.saveId) {
          const replayed = this.db.prepare('SELECT version FROM annotation_saves WHERE save_id = ?').pluck().get(request.saveId) as number | undefined;
          if (replayed !== undefined) {
            const current = this.current(request.imageId);
            if (current.version !== replayed) throw new StaleVersionError(current, request.baseVersion);
            return current;
          }
        }
        const version = this.version(request.imageId);
        if (version !== request.baseVersion) throw new StaleVersionError(this.current(request.imageId), request.baseVersion);
        assertKnownClasses(p.classes.list(), request.annotations);
        p.annotations.replace(request.imageId, request.annotations);
        p.images.refreshStatus(request.imageId);
        this.db.prepare('INSERT INTO annotation_saves (image_id, version, user_id, save_id, annotations) VALUES (?, ?, ?, ?, ?)')
          .run(request.imageId, version + 1, request.userId, request.saveId ?? null, JSON.stringify(request.annotations));
        this.db.prepare('INSERT INTO activity (image_id, user_id, action, detail) VALUES (?, ?, ?, ?)')
          .run(request.imageId, request.userId, 'save', JSON.stringify({ version: version + 1, objects: request.annotations.length }));
        return this.current(request.imageId);
      });
    },
    history: async (imageId) => (this.db.prepare(`SELECT version, user_id AS userId, save_id AS saveId, annotations
      FROM annotation_saves WHERE image_id = ? ORDER BY version`).all(imageId) as Array<{ version: number; userId: number | null; saveId: string | null; annotations: string }>)
      .map(({ annotations, ...row }) => ({ ...row, count: (JSON.parse(annotations) as AnnotationDraft[]).length })),
  };

  readonly embeddings: Store['embeddings'] = {
    registerModel: async (manifest) => this.project.embeddings.registerModel(manifest),
    get: async (imageId, modelId) => this.project.embeddings.get(imageId, modelId),
    count: async (modelId) => this.project.embeddings.stats(modelId).count,
    stored: async (modelId, imageIds) => imageIds.filter((id) => this.project.embeddings.has(id, modelId)),
    put: async (imageId, modelId, stored) => {
      const regions = regionSetOf(stored);
      this.project.transaction(() => {
        if (!this.project.images.get(imageId)) throw new ApiError('not-found', `no image ${imageId}`);
        this.writeMap(imageId, modelId, stored, regions);
        this.db.prepare(`UPDATE embed_tasks SET status = 'done', lease_expires_at = NULL WHERE image_id = ? AND model_id = ? AND status IN ('queued', 'failed')`)
          .run(imageId, modelId);
      });
    },
  };

  readonly tasks: Store['tasks'] = {
    enqueueEmbed: async (modelId, imageIds) => {
      const ids = imageIds ?? this.project.embeddings.missing(modelId);
      const insert = this.db.prepare(`INSERT INTO embed_tasks (image_id, model_id) SELECT id, ? FROM images WHERE id = ? AND hash IS NOT NULL
        ON CONFLICT (image_id, model_id) DO UPDATE SET status = 'queued', attempts = 0, error = NULL WHERE embed_tasks.status = 'failed'`);
      return this.project.transaction(() => ids.reduce((added, id) => added + insert.run(modelId, id).changes, 0));
    },
    claim: async (worker, leaseSeconds) => this.project.transaction(() => {
      this.db.prepare(`UPDATE embed_tasks SET status = 'failed', error = ? WHERE status = 'running' AND lease_expires_at < ? AND attempts >= ?`)
        .run(gaveUp, nowIso(), maxTaskAttempts);
      const row = this.db.prepare(`SELECT id, image_id, model_id, attempts FROM embed_tasks
        WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < ?) ORDER BY id LIMIT 1`)
        .get(nowIso()) as { id: number; image_id: number; model_id: string; attempts: number } | undefined;
      if (!row) return null;
      const token = randomUUID();
      this.db.prepare(`UPDATE embed_tasks SET status = 'running', worker = ?, lease_token = ?, lease_expires_at = ?, attempts = attempts + 1
        WHERE id = ?`).run(worker, token, later(leaseSeconds), row.id);
      return { id: row.id, imageId: row.image_id, modelId: row.model_id, leaseToken: token, attempts: row.attempts + 1 } satisfies EmbedTask;
    }),
    renew: async (task, leaseSeconds) => this.db.prepare(`UPDATE embed_tasks SET lease_expires_at = ?
      WHERE id = ? AND lease_token = ? AND status = 'running'`).run(later(leaseSeconds), task.id, task.leaseToken).changes === 1,
    complete: async (task, stored: StoredEmbedding) => {
      const regions = regionSetOf(stored);
      return this.project.transaction(() => {
        const owned = this.db.prepare(`UPDATE embed_tasks SET status = 'done', lease_expires_at = NULL
          WHERE id = ? AND lease_token = ? AND status = 'running'`).run(task.id, task.leaseToken).changes === 1;
        if (!owned) return false;
        this.writeMap(task.imageId, task.modelId, stored, regions);
        return true;
      });
    },
    fail: async (task, error) => void this.db.prepare(`UPDATE embed_tasks SET status = 'failed', error = ?
      WHERE id = ? AND lease_token = ?`).run(error, task.id, task.leaseToken),
    counts: async () => {
      const counts: TaskCounts = { queued: 0, running: 0, done: 0, failed: 0 };
      for (const row of this.db.prepare('SELECT status, count(*) AS n FROM embed_tasks GROUP BY status').all() as Array<{ status: keyof TaskCounts; n: number }>) {
        counts[row.status] = row.n;
      }
      return counts;
    },
  };

  /** rowid is the change number: INSERT OR REPLACE gives a replaced row a new one. */
  readonly regions: Store['regions'] = {
    put: async (imageId, modelId, set) => this.regionRows.put(imageId, modelId, set),
    missing: async (modelId) => this.regionRows.missing(modelId),
    version: async (modelId) => this.db.prepare('SELECT count(*) AS rows, coalesce(max(rowid), 0) AS last, 0 AS removed FROM region_sets WHERE model_id = ?')
      .get(modelId) as RegionVersion,
    changes: async (modelId, afterSeq, limit) => this.db.prepare(`SELECT image_id, region_count, dim, vectors, rowid AS seq FROM region_sets
      WHERE model_id = ? AND rowid > ? ORDER BY rowid LIMIT ?`).all(modelId, afterSeq, limit) as RegionChange[],
  };

  readonly users: Store['users'] = {
    create: async (name: string, role: Role, passwordHash: string) => {
      if (this.db.prepare('SELECT 1 FROM users WHERE name = ?').get(name)) throw new ApiError('exists', `a user named "${name}" already exists`);
      const id = Number(this.db.prepare('INSERT INTO users (name, role, password_hash) VALUES (?, ?, ?)').run(name, role, passwordHash).lastInsertRowid);
      return { id, name, role };
    },
    find: async (name) => {
      const row = this.db.prepare('SELECT id, name, role, disabled, password_hash AS passwordHash FROM users WHERE name = ?').get(name) as
        (Omit<StoredUser, 'disabled'> & { disabled: number }) | undefined;
      return row && { ...row, disabled: row.disabled === 1 };
    },
    list: async () => (this.db.prepare('SELECT id, name, role, disabled FROM users ORDER BY id').all() as Array<UserRecord & { disabled: number }>)
      .map((row): AccountRecord => ({ ...row, disabled: row.disabled === 1 })),
    update: async (id, changes, by) => this.project.transaction((): AccountUpdate => {
      const before = this.db.prepare('SELECT id, name, role, disabled FROM users WHERE id = ?').get(id) as (UserRecord & { disabled: number }) | undefined;
      if (!before) throw new ApiError('not-found', `no user with id ${id}`);
      const role = changes.role ?? before.role;
      const disabled = changes.disabled ?? before.disabled === 1;
      this.db.prepare('UPDATE users SET role = ?, disabled = ?, password_hash = coalesce(?, password_hash) WHERE id = ?')
        .run(role, disabled ? 1 : 0, changes.passwordHash ?? null, id);
      if (before.role === 'admin' && !before.disabled && (role !== 'admin' || disabled)
        && !this.db.prepare("SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0").get()) throw lastAdminError(before.name);
      const ended: SessionEnd | null = changes.disabled && !before.disabled ? 'disabled' : changes.passwordHash ? 'password-reset' : null;
      const endedSessions = ended
        ? this.db.prepare('UPDATE sessions SET ended = ? WHERE user_id = ? AND ended IS NULL AND expires_at > ?').run(ended, id, nowIso()).changes : 0;
      let freedLeases: number[] = [];
      if (disabled || !leaseRoles.includes(role)) {
        freedLeases = this.db.prepare('DELETE FROM image_leases WHERE user_id = ? AND expires_at > ? RETURNING image_id').pluck().all(id, nowIso()) as number[];
        this.db.prepare('DELETE FROM image_leases WHERE user_id = ?').run(id); // expired ones too: nothing to log
        const log = this.db.prepare("INSERT INTO activity (image_id, user_id, action, detail) VALUES (?, ?, 'revoke', ?)");
        const reason = disabled ? 'account disabled' : `now a ${role}`;
        for (const imageId of freedLeases.sort((a, b) => a - b)) log.run(imageId, by, JSON.stringify({ from: before.name, reason }));
      }
      return { user: { id, name: before.name, role, disabled }, endedSessions, freedLeases };
    }),
  };

  readonly sessions: Store['sessions'] = {
    create: async (userId, tokenHash, expiresAt) => this.project.transaction(() => {
      this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(nowIso()); // expired ones are of no use to anyone
      this.db.prepare('INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)').run(tokenHash, userId, expiresAt.toISOString());
    }),
    user: async (tokenHash) => this.db.prepare(`SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = ? AND s.expires_at > ? AND s.ended IS NULL AND u.disabled = 0`).get(tokenHash, nowIso()) as UserRecord | undefined,
    ended: async (tokenHash) => (this.db.prepare('SELECT ended FROM sessions WHERE token_hash = ? AND expires_at > ?').pluck()
      .get(tokenHash, nowIso()) as SessionEnd | null | undefined) ?? undefined,
    remove: async (tokenHash) => void this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash),
  };

  readonly signIns: Store['signIns'] = {
    failures: async (name, since) => (this.db.prepare('SELECT at FROM sign_in_failures WHERE name = ? AND at >= ? ORDER BY at').pluck()
      .all(name, since.toISOString()) as string[]).map((at) => Date.parse(at)),
    fail: async (name, at, forgetBefore) => this.project.transaction(() => {
      this.db.prepare('DELETE FROM sign_in_failures WHERE at < ?').run(forgetBefore.toISOString());
      this.db.prepare('INSERT INTO sign_in_failures (name, at) VALUES (?, ?)').run(name, at.toISOString());
    }),
  };

  readonly leases: Store['leases'] = {
    claim: async (imageId, userId, seconds) => this.project.transaction(() => {
      if (!this.project.images.get(imageId)) throw new ApiError('not-found', `no image ${imageId}`);
      const held = this.lease(imageId);
      if (held && held.userId !== userId) throw new LeaseHeldError(held);
      this.db.prepare(`INSERT INTO image_leases (image_id, user_id, expires_at) VALUES (?, ?, ?)
        ON CONFLICT (image_id) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at`).run(imageId, userId, later(seconds));
      if (!held) this.db.prepare("INSERT INTO activity (image_id, user_id, action) VALUES (?, ?, 'claim')").run(imageId, userId);
      return this.lease(imageId)!;
    }),
    release: async (imageId, userId) => void this.db.prepare('DELETE FROM image_leases WHERE image_id = ? AND user_id = ?').run(imageId, userId),
    get: async (imageId) => this.lease(imageId),
  };

  readonly activity: Store['activity'] = {
    log: async (imageId, userId, action, detail) => void this.db.prepare('INSERT INTO activity (image_id, user_id, action, detail) VALUES (?, ?, ?, ?)')
      .run(imageId, userId, action, detail === undefined ? null : JSON.stringify(detail)),
    list: async (imageId) => (this.db.prepare(`SELECT a.image_id, a.user_id, u.name, a.action, a.detail, a.at FROM activity a
      LEFT JOIN users u ON u.id = a.user_id WHERE a.image_id = ? ORDER BY a.id`).all(imageId) as Array<{
      image_id: number; user_id: number | null; name: string | null; action: string; detail: string | null; at: string;
    }>).map((row): ActivityEntry => ({
      imageId: row.image_id, userId: row.user_id, userName: row.name, action: row.action,
      detail: row.detail === null ? null : JSON.parse(row.detail), at: row.at,
    })),
  };
}
