/** A project = one SQLite file plus the folder it lives in (image paths are stored relative to it). */
import { basename, dirname, resolve } from 'node:path';
import { annotationRepository } from './annotations';
import { classRepository } from './classes';
import { type Db, type OpenOptions, openProjectDb, schemaVersion } from './connection';
import { embeddingRepository } from './embeddings';
import { imageRepository } from './images';
import { jobRepository } from './jobs';
import { settingsRepository } from './settings';
import type { ProjectInfo } from '../core/api/records';

export class Project {
  readonly path: string;
  readonly dir: string;
  readonly db: Db;
  readonly images;
  readonly classes;
  readonly annotations;
  readonly embeddings;
  readonly jobs;
  readonly settings;

  constructor(path: string, options: OpenOptions = {}) {
    this.path = resolve(path);
    this.dir = dirname(this.path);
    this.db = openProjectDb(this.path, options);
    this.images = imageRepository(this.db);
    this.classes = classRepository(this.db);
    this.annotations = annotationRepository(this.db);
    this.embeddings = embeddingRepository(this.db);
    this.jobs = jobRepository(this.db);
    this.settings = settingsRepository(this.db);
  }

  /** Runs `fn` in one transaction (synchronous by design: better-sqlite3 transactions cannot span awaits). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  info(): ProjectInfo {
    const count = (sql: string) => this.db.prepare(sql).pluck().get() as number;
    return {
      path: this.path,
      name: basename(this.path).replace(/\.[^.]+$/, ''),
      schemaVersion,
      imageCount: count('SELECT count(*) FROM images'),
      statusCounts: this.images.counts(),
      classCount: count('SELECT count(*) FROM classes'),
      annotationCount: count('SELECT count(*) FROM annotations'),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
