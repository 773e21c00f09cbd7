import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../tests/fixtures';
import { openProjectDb, ProjectFileError, schemaVersion } from './connection';
import { Project } from './project';

describe('project files', () => {
  it('creates a project with WAL, foreign keys, application id and the current schema', () => {
    const db = openProjectDb(join(tempDir(), 'p.pixelwise'), { create: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(schemaVersion);
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['images', 'classes', 'annotations', 'models', 'embeddings', 'jobs']));
    db.close();
  });

  it('refuses a file that is not a database, leaving it untouched', () => {
    const file = join(tempDir(), 'notes.pixelwise');
    writeFileSync(file, 'just some text that is long enough');
    expect(() => openProjectDb(file)).toThrow(/not a Pixelwise project/);
    expect(readFileSync(file, 'utf8')).toBe('just some text that is long enough');
  });

  it('refuses another application\'s SQLite database without changing it', () => {
    const file = join(tempDir(), 'other.db');
    const other = new Database(file);
    other.exec('CREATE TABLE t (x)');
    other.close();
    const before = readFileSync(file);
    expect(() => openProjectDb(file)).toThrowError(ProjectFileError);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a project written by a newer version with a clear message', () => {
    const file = join(tempDir(), 'future.pixelwise');
    openProjectDb(file, { create: true }).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${schemaVersion + 1}`);
    raw.close();
    expect(() => openProjectDb(file)).toThrow(/newer Pixelwise Studio/);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(schemaVersion + 1);
    check.close();
  });

  it('rolls back a failed annotation save and keeps what was stored', () => {
    const project = new Project(join(tempDir(), 'p.pixelwise'), { create: true });
    const imageId = project.images.add({ path: 'a.png', hash: 'h1', width: 4, height: 2, byteSize: 1, format: 'png', thumbnail: new Uint8Array(1) });
    const good = { classId: null, rle: { size: [2, 4] as [number, number], counts: '0:0' } };
    project.transaction(() => project.annotations.replace(imageId, [{ ...good, rle: { size: [2, 4], counts: '26' } }]));
    expect(project.annotations.list(imageId)).toHaveLength(1);
    const wrongSize = { classId: null, rle: { size: [3, 3] as [number, number], counts: '9' } };
    expect(() => project.transaction(() => project.annotations.replace(imageId, [wrongSize]))).toThrow(/mask is 3x3/);
    const kept = project.annotations.list(imageId);
    expect(kept).toHaveLength(1);
    expect(kept[0].area).toBe(6);
    project.close();
  });
});
