/**
 * A bundle is someone else's project: opening one must not start its jobs or let its image paths reach files
 * outside the unpacked folder, and exporting must not replace files it was not asked to. Real projects made by
 * the app's own code, real zips, a real Studio with its job runner, real re-exports.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../core/api/contract';
import type { Project } from '../../db/project';
import { exportBundle } from '../../electron/formats/index';
import { createApiImplementation } from '../../electron/services/api';
import { Studio } from '../../electron/services/studio';
import { createProject, populate, tempDir, writeImage } from './fixture';

let work: ReturnType<typeof tempDir>;
let source: Project;
let goodBundle: string;
const secret = 'FAKE-SECRET-KEY-7f3a9c';

beforeAll(async () => {
  work = tempDir('pixelwise-bundle-trust-');
  source = createProject(join(work.dir, 'source'), 'src.pixelwise');
  await populate(source, join(work.dir, 'source', 'images'));
  goodBundle = join(work.dir, 'good.zip');
  await exportBundle(source, goodBundle);
  mkdirSync(join(work.dir, 'secret'));
  writeFileSync(join(work.dir, 'secret', 'id_rsa'), `-----BEGIN KEY-----\n${secret}\n-----END KEY-----\n`);
  // A folder an attacker's queued import job names: two real images the victim never chose to import.
  await writeImage(join(work.dir, 'secret', 'private-1.png'), 40, 30, 501);
  await writeImage(join(work.dir, 'secret', 'private-2.png'), 40, 30, 502);
});

afterAll(() => {
  source?.close();
  work?.cleanup();
});

/** The good bundle with its project file changed by `tamper` (plain SQL on the unpacked file), zipped again. */
function tamperedBundle(name: string, tamper: (db: Database.Database) => void): string {
  const entries = unzipSync(readFileSync(goodBundle));
  const dbFile = join(work.dir, `${name}.pixelwise`);
  writeFileSync(dbFile, entries['src.pixelwise']);
  const db = new Database(dbFile);
  tamper(db);
  db.close();
  entries['src.pixelwise'] = readFileSync(dbFile);
  const zip = join(work.dir, `${name}.zip`);
  writeFileSync(zip, zipSync(entries));
  return zip;
}

/** Every file under `path` (or the file itself), read whole. */
function allBytes(path: string): Buffer[] {
  if (statSync(path).isFile()) return [readFileSync(path)];
  return readdirSync(path).flatMap((entry) => allBytes(join(path, entry)));
}

async function openStudio() {
  const studio = new Studio({ dataDir: join(work.dir, `data-${Math.random().toString(36).slice(2)}`), mode: 'cli' });
  const api = createApiImplementation(studio, null);
  const call = (service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<any>;
  return { studio, call };
}

describe('opening a crafted bundle', () => {
  it('drops its queued jobs, confines its image paths, says so, and later exports hold no outside file', async () => {
    const secretFile = join(work.dir, 'secret', 'id_rsa');
    const zip = tamperedBundle('evil', (db) => {
      db.prepare('UPDATE images SET path = ? WHERE id = 1').run(secretFile);
      db.prepare('UPDATE images SET path = ? WHERE id = 2').run(`../../../../../../../..${secretFile}`);
      db.prepare("INSERT INTO jobs (kind, status, payload) VALUES ('import', 'queued', ?)").run(JSON.stringify({ paths: [join(work.dir, 'secret')] }));
      db.prepare("INSERT INTO jobs (kind, status, payload) VALUES ('embed', 'running', '{not json')").run();
    });
    const { studio, call } = await openStudio();
    try {
      const opened = await call('datasets', 'openBundle', { file: zip, targetDir: join(work.dir, 'evil-open') });
      expect(opened.imageCount).toBe(3);
      expect(opened.warnings.join('\n')).toMatch(/2 job\(s\) in the bundle were dropped/);
      expect(opened.warnings.join('\n')).toMatch(/2 image path\(s\) pointed outside the bundle/);
      expect(opened.missingImages).toEqual(['images/1_id_rsa', 'images/2_id_rsa']);

      studio.runner.kick();
      await studio.runner.idle();
      expect(await call('jobs', 'list', { activeOnly: false })).toEqual([]);
      const images = (await call('images', 'list', {})).items;
      expect(images).toHaveLength(3); // the queued import of the secret folder never ran
      for (const image of images) expect(image.path).toMatch(/^images\//);

      const bundleOut = join(work.dir, 'reexport.zip');
      await call('datasets', 'export', { format: 'bundle', target: bundleOut });
      const cocoOut = join(work.dir, 'reexport-coco');
      await call('datasets', 'export', { format: 'coco', target: cocoOut });
      studio.runner.kick();
      await studio.runner.idle();
      const jobs = await call('jobs', 'list', { activeOnly: false });
      const bundleJob = jobs.find((job: any) => job.result?.path === bundleOut);
      expect(bundleJob.result.warnings.join('\n')).toMatch(/images\/1_id_rsa: image file is missing/);
      const cocoJob = jobs.find((job: any) => job.kind === 'dataset-export' && job.id !== bundleJob.id);
      expect(cocoJob.error).toMatch(/^images\/1_id_rsa: the file is missing; 2 of the 3 images cannot be copied/);
      expect(existsSync(bundleOut)).toBe(true);
      for (const bytes of [...allBytes(bundleOut), ...(existsSync(cocoOut) ? allBytes(cocoOut) : [])]) {
        expect(bytes.includes(secret)).toBe(false);
      }
      const unpacked = unzipSync(readFileSync(bundleOut));
      expect(Object.keys(unpacked).filter((name) => name.startsWith('images/')).sort()).toEqual(['images/tall.png']);
    } finally {
      await studio.close();
    }
  });

  it('keeps paths inside the folder as they are, and a clean bundle opens without warnings', async () => {
    const { studio, call } = await openStudio();
    try {
      const opened = await call('datasets', 'openBundle', { file: goodBundle, targetDir: join(work.dir, 'good-open') });
      expect(opened.warnings).toEqual([]);
      expect(opened.missingImages).toEqual([]);
      const paths = (await call('images', 'list', {})).items.map((image: any) => image.path).sort();
      expect(paths).toEqual(['images/field.jpg', 'images/street.png', 'images/tall.png']);
    } finally {
      await studio.close();
    }
  });
});

describe('bundle export does not replace files', () => {
  it('refuses an existing file unless overwrite is given', async () => {
    const notes = join(work.dir, 'notes.txt');
    writeFileSync(notes, 'my notes');
    await expect(exportBundle(source, notes)).rejects.toThrow(/notes\.txt: already exists; choose another file name or allow replacing it/);
    expect(readFileSync(notes, 'utf8')).toBe('my notes');
    const result = await exportBundle(source, notes, { overwrite: true });
    expect(result.images).toBe(3);
    expect(Object.keys(unzipSync(readFileSync(notes)))).toContain('manifest.json');
  });

  it('never writes over the open project or its journal and lock files, even with overwrite', async () => {
    const before = readFileSync(source.path);
    for (const suffix of ['', '-wal', '-shm', '.lock']) {
      const target = `${source.path}${suffix}`;
      await expect(exportBundle(source, target, { overwrite: true })).rejects.toThrow(/is the open project's own file/);
    }
    // The same file under another name (a symlink) is the same file.
    const alias = join(work.dir, 'alias.pixelwise');
    symlinkSync(source.path, alias);
    await expect(exportBundle(source, alias, { overwrite: true })).rejects.toThrow(/is the open project's own file/);
    expect(readFileSync(source.path).equals(before)).toBe(true);
    expect(source.info().imageCount).toBe(3);
  });
});
