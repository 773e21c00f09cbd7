/**
 * The one way to open a project file: WAL, foreign keys, our application id, and pending migrations applied in
 * one transaction. A file that is not a project, or one written by a newer version, is refused untouched.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { migrations } from './migrations/index';

export type Db = Database.Database;

/** 'PXWS' — written into the SQLite header so other SQLite files are recognised as not ours. */
export const applicationId = 0x50585753;
export const schemaVersion = migrations.length;

export class ProjectFileError extends Error {
  override name = 'ProjectFileError';
  constructor(readonly code: 'not-a-project' | 'newer-version' | 'missing' | 'exists' | 'is-a-folder' | 'read-only', message: string) {
    super(message);
  }
}

export interface OpenOptions {
  /** Create the file if it does not exist (default false: a missing file is an error). */
  create?: boolean;
  /** Path of a better-sqlite3 binary built for this runtime (Electron's ABI differs from Node's). */
  nativeBinding?: string;
  readonly?: boolean;
}

const sqliteMagic = 'SQLite format 3\0';

/** Check the first bytes before SQLite touches the file: opening a non-database could otherwise create a WAL beside it. */
function assertSqliteFile(path: string): void {
  const header = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  let read = 0;
  try {
    read = readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (read === 0) return; // an empty file is a new project
  if (read < 16 || header.toString('latin1') !== sqliteMagic) {
    throw new ProjectFileError('not-a-project', `${path} is not a Pixelwise project (not an SQLite database)`);
  }
}

/**
 * SQLite opens a file it may not write read-only without a word; the first write then fails with "attempt to
 * write a readonly database", after it has made -wal and -shm files as read-only as the project (audit F7).
 */
function assertWritable(path: string): void {
  // The journal files too: ones left read-only by an older version's failed open would refuse every write.
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      accessSync(file, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && file !== path) continue;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error;
      throw new ProjectFileError('read-only', file === path
        ? `${path} is read-only (${code}): Pixelwise writes to the project file as you work; check its permissions, or copy it to a folder you can write to`
        : `${file}, the project's journal file, is read-only (${code}): check its permissions`);
    }
  }
}

export function openProjectDb(path: string, options: OpenOptions = {}): Db {
  const exists = existsSync(path);
  if (!exists && !options.create) throw new ProjectFileError('missing', `${path} does not exist`);
  if (exists) {
    if (statSync(path).isDirectory()) throw new ProjectFileError('is-a-folder', `${path} is a folder, not a project file`);
    assertSqliteFile(path);
    if (!options.readonly) assertWritable(path);
  }
  const db = new Database(path, { nativeBinding: options.nativeBinding, readonly: options.readonly ?? false, fileMustExist: !options.create });
  try {
    prepare(db, path);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function prepare(db: Db, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const appId = db.pragma('application_id', { simple: true }) as number;
  const isEmpty = (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n === 0;
  if (!isEmpty && appId !== applicationId) {
    throw new ProjectFileError('not-a-project', `${path} is an SQLite database but not a Pixelwise project`);
  }
  if (version > schemaVersion) {
    throw new ProjectFileError('newer-version',
      `${path} was written by a newer Pixelwise Studio (schema ${version}; this version reads up to ${schemaVersion}). Update the app to open it.`);
  }
  if (db.readonly) return;
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (version < schemaVersion) {
    db.transaction(() => {
      for (let i = version; i < schemaVersion; i++) db.exec(migrations[i]);
      db.pragma(`application_id = ${applicationId}`);
      db.pragma(`user_version = ${schemaVersion}`);
    })();
  }
}
