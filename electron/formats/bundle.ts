/**
 * Project bundle: one zip holding a snapshot of the project's SQLite file (image paths rewritten to images/...),
 * optionally the image files under images/ and optionally the stored embeddings. Opening a bundle unpacks it
 * into an empty folder chosen by the user; the project file then finds its images beside it.
 *
 * Unpacking (unzip.ts) refuses entries that would land outside the folder (zip slip: "..", absolute paths, drive
 * letters), entries or totals over the size limits (declared sizes, each entry held to its own while it inflates)
 * and entries whose CRC-32 does not match. The zip is written without zip64 (fflate), so a bundle is limited to
 * 4 GiB. What the unpacked project may do is limited too (distrust): a bundle comes from someone else.
 */
import { closeSync, createReadStream, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { FormatError, describeBytes } from '../../core/formats/errors';
import { imageRepository, resolveStoredPath, storedPath } from '../../db/images';
import { Project } from '../../db/project';
import type { ProgressHandler } from './apply';
import type { ExportResult } from './collect';
import { imageExtensions } from '../embedding/image-io';
import { describeFileError, exists, exportNames, isDirectory, isInside, listFiles } from './files';
import { breather, extractEntry, locateEntries, readZipDirectory, type ZipEntry } from './unzip';

export interface BundleExportOptions {
  /** Put the image files in the bundle under images/ (default true). */
  images?: boolean;
  /** Keep the stored embedding maps (default false: they are large and can be recomputed). */
  embeddings?: boolean;
  /** Replace an existing file at the target (default false). Never the project's own files. */
  overwrite?: boolean;
}

export interface BundleOpenOptions {
  /** Largest single entry, inflated (default 4 GiB, the most a bundle holds). */
  maxEntryBytes?: number;
  /** Largest image entry (default 1 GiB: a 150-megapixel 16-bit RGB image is 900 MB). */
  maxImageBytes?: number;
  /** Largest total, inflated (default 4 GiB: exportBundle writes no more, its images being stored, not deflated). */
  maxTotalBytes?: number;
  /** Most entries (default 500,000: the images plus two). */
  maxEntries?: number;
  /** For bundles without images: a folder searched (recursively, by file name) for images the project cannot find; their paths are rewritten. */
  imagesDir?: string;
}

export interface OpenedBundle {
  /** The unpacked project file. */
  projectPath: string;
  images: number;
  /** Stored image paths that do not resolve to a file after unpacking. */
  missingImages: string[];
  warnings: string[];
}

const bundleFormat = 'pixelwise-bundle';
const bundleVersion = 1;
const zipLimit = 0xffffffff - 64 * 1024 * 1024;
const chunkSize = 1024 * 1024;
const manifestLimit = 1024 * 1024;

async function pushFile(zip: Zip, entry: ZipPassThrough | ZipDeflate, file: string): Promise<void> {
  zip.add(entry);
  let pushed = false;
  for await (const chunk of createReadStream(file, { highWaterMark: chunkSize })) {
    entry.push(chunk as Buffer, false);
    pushed = true;
  }
  entry.push(new Uint8Array(0), true);
  if (!pushed && (await stat(file)).size > 0) throw new Error(`${file} could not be read`);
}

/** Refuses a target that exists (unless `overwrite`) or that is one of the project's own files under any name. */
async function checkTarget(project: Project, outFile: string, overwrite: boolean): Promise<void> {
  const real = async (path: string) => realpath(path).catch(() => resolve(path));
  const target = await real(outFile);
  const own = await Promise.all(['', '-wal', '-shm', '-journal', '.lock'].map((suffix) => real(`${project.path}${suffix}`)));
  const projectDir = await real(project.dir);
  // Also by name beside the project's real file, for the journal files SQLite has not created yet.
  const ownNames = own.concat(['', '-wal', '-shm', '-journal', '.lock'].map((suffix) => join(projectDir, `${basename(own[0])}${suffix}`)));
  if (ownNames.includes(target)) throw new FormatError(outFile, "is the open project's own file; choose another file name for the bundle");
  if (!overwrite && (await exists(outFile))) throw new FormatError(outFile, 'already exists; choose another file name or allow replacing it');
  if (await isDirectory(outFile)) throw new FormatError(outFile, 'is a folder; choose a file name ending in .zip');
}

export async function exportBundle(project: Project, outFile: string, options: BundleExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  await checkTarget(project, outFile, options.overwrite ?? false);
  const work = await mkdtemp(join(tmpdir(), 'pixelwise-bundle-'));
  const projectName = basename(project.path);
  const snapshot = join(work, projectName);
  const warnings: string[] = [];
  const partial = `${outFile}.partial`;
  try {
    project.db.prepare('VACUUM INTO ?').run(snapshot);
    const files: Array<{ name: string; file: string }> = [];
    const copy = new Database(snapshot);
    try {
      const rows = copy.prepare('SELECT id, path FROM images WHERE hash IS NOT NULL ORDER BY id').all() as Array<{ id: number; path: string }>;
      if (options.images !== false) {
        const names = exportNames(rows);
        const update = copy.prepare('UPDATE images SET path = ? WHERE id = ?');
        copy.transaction(() => {
          for (const row of rows) {
            const source = resolveStoredPath(project.dir, row.path);
            files.push({ name: `images/${names.get(row.id)}`, file: source });
            update.run(`images/${names.get(row.id)}`, row.id);
          }
        })();
      }
      if (!options.embeddings) {
        // Regions hang off embeddings (this plain connection does not cascade), and statuses say "embedded".
        copy.exec('DELETE FROM region_sets; DELETE FROM embeddings');
        const images = imageRepository(copy);
        for (const id of copy.prepare('SELECT id FROM images').pluck().all() as number[]) images.refreshStatus(id);
      }
      copy.exec('DELETE FROM jobs'); // jobs name files on this machine
      copy.pragma('journal_mode = DELETE');
      copy.exec('VACUUM');
    } finally {
      copy.close();
    }
    const present: typeof files = [];
    for (const f of files) {
      if (await exists(f.file)) present.push(f);
      else warnings.push(`${f.file}: image file is missing; not in the bundle`);
    }
    let total = (await stat(snapshot)).size;
    for (const f of present) total += (await stat(f.file)).size;
    if (total > zipLimit) throw new FormatError(outFile, `would hold ${describeBytes(total)}; bundles are limited to 4 GiB (leave out images or embeddings)`);

    await mkdir(dirname(outFile), { recursive: true });
    const fd = openSync(partial, 'w');
    let zipError: Error | null = null;
    try {
      const zip = new Zip((error, chunk) => {
        if (error) zipError = error;
        else writeSync(fd, chunk);
      });
      const manifest = { format: bundleFormat, version: bundleVersion, project: projectName, images: options.images !== false, embeddings: !!options.embeddings, createdAt: new Date().toISOString() };
      const manifestEntry = new ZipDeflate('manifest.json', { level: 6 });
      zip.add(manifestEntry);
      manifestEntry.push(new TextEncoder().encode(JSON.stringify(manifest, null, 2)), true);
      await pushFile(zip, new ZipDeflate(projectName, { level: 6 }), snapshot);
      for (const [index, f] of present.entries()) {
        onProgress?.({ stage: 'packing images', done: index, total: present.length });
        await pushFile(zip, new ZipPassThrough(f.name), f.file); // images are compressed already
      }
      zip.end();
    } finally {
      closeSync(fd);
    }
    if (zipError) throw zipError;
    await rename(partial, outFile);
    return { path: outFile, images: present.length, annotations: (project.info().annotationCount), warnings };
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof FormatError) throw error;
    throw new FormatError(outFile, `could not write the bundle (${(error as Error).message})`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A zip entry name as a safe relative path, or a FormatError (zip slip). */
export function safeEntryName(name: string, bundle: string): string {
  const parts = name.replace(/\\/g, '/').split('/');
  if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || parts.includes('..') || name.includes('\0')) {
    throw new FormatError(bundle, `entry "${name}" would be written outside the target folder`);
  }
  return parts.filter((p) => p && p !== '.').join('/');
}

/**
 * Unpacks the zip into `targetDir` (created, or empty): names checked before anything is written, sizes against
 * the limits on what each entry declares, and each entry held to its declared size and CRC-32 while it inflates.
 */
async function unpack(zipFile: string, targetDir: string, limits: Required<Omit<BundleOpenOptions, 'imagesDir'>>, warnings: string[]): Promise<Set<string>> {
  const bundle = basename(zipFile);
  const handle = await open(zipFile, 'r').catch((error: unknown) => {
    throw new FormatError(bundle, `cannot be read (${describeFileError(error)})`);
  });
  try {
    const wanted: ZipEntry[] = [];
    const names = new Set<string>();
    let declared = 0;
    for (const entry of await readZipDirectory(handle, bundle, limits.maxEntries)) {
      const name = safeEntryName(entry.name, bundle);
      if (!name || entry.name.endsWith('/')) continue;
      if (name.includes('/') && !name.startsWith('images/')) {
        warnings.push(`${bundle}: entry "${name}" is not part of a bundle; skipped`);
        continue;
      }
      if (names.has(name)) throw new FormatError(bundle, `entry "${name}" appears twice`);
      if (!isInside(targetDir, join(targetDir, ...name.split('/')))) throw new FormatError(bundle, `entry "${name}" would be written outside the target folder`);
      const limit = name === 'manifest.json' ? manifestLimit : name.startsWith('images/') ? Math.min(limits.maxImageBytes, limits.maxEntryBytes) : limits.maxEntryBytes;
      if (entry.size > limit) throw new FormatError(bundle, `entry "${name}" is larger than the ${describeBytes(limit)} limit`);
      declared += entry.size;
      if (declared > limits.maxTotalBytes) throw new FormatError(bundle, `unpacks to more than the ${describeBytes(limits.maxTotalBytes)} limit`);
      names.add(name);
      wanted.push({ ...entry, name });
    }
    const folders = new Set<string>();
    const pause = breather(); // small entries are written synchronously
    for (const entry of await locateEntries(handle, wanted, bundle)) {
      await pause();
      const target = join(targetDir, ...entry.name.split('/'));
      if (entry.name.startsWith('images/') && !folders.has(dirname(target))) {
        await mkdir(dirname(target), { recursive: true });
        folders.add(dirname(target));
      }
      // Each entry is held to its declared size while it inflates, and the declared sizes are within the limits.
      await extractEntry(handle, entry, target, bundle).catch((error: NodeJS.ErrnoException) => {
        if (error instanceof FormatError) throw error;
        const needs = error.code === 'ENOSPC' ? ` (the bundle needs ${describeBytes(declared)})` : '';
        throw new FormatError(targetDir, `cannot hold the unpacked bundle: ${describeFileError(error)}${needs}`);
      });
    }
    return names;
  } catch (error) {
    // Write errors were put in words above; anything else failed reading the zip itself.
    if (error instanceof FormatError) throw error;
    throw new FormatError(bundle, `cannot be read (${describeFileError(error)})`);
  } finally {
    await handle.close();
  }
}

/** Unpacks a bundle into `targetDir` (must be missing or empty) and checks the project opens. Nothing is left behind on failure. */
export async function openBundle(zipFile: string, targetDir: string, options: BundleOpenOptions = {}): Promise<OpenedBundle> {
  const bundle = basename(zipFile);
  if (!(await exists(zipFile))) throw new FormatError(bundle, 'does not exist');
  if (await isDirectory(zipFile)) throw new FormatError(bundle, 'is a folder; choose the bundle\'s .zip file');
  const existed = await exists(targetDir);
  if (existed && (await readdir(targetDir)).length) throw new FormatError(targetDir, 'is not empty; choose an empty folder to unpack the bundle into');
  await mkdir(targetDir, { recursive: true });
  const warnings: string[] = [];
  try {
    const limits = {
      maxEntryBytes: options.maxEntryBytes ?? 4 * 1024 ** 3, maxImageBytes: options.maxImageBytes ?? 1024 ** 3,
      maxTotalBytes: options.maxTotalBytes ?? 4 * 1024 ** 3, maxEntries: options.maxEntries ?? 500_000,
    };
    const entries = await unpack(zipFile, targetDir, limits, warnings);
    if (!entries.has('manifest.json')) throw new FormatError(bundle, 'is not a Pixelwise bundle (no manifest.json)');
    const manifest = readManifest(join(targetDir, 'manifest.json'), bundle);
    if (!entries.has(manifest.project)) throw new FormatError(bundle, `has no project file "${manifest.project}"`);
    const projectPath = join(targetDir, manifest.project);
    let project: Project;
    try {
      project = new Project(projectPath);
    } catch (error) {
      throw new FormatError(manifest.project, `is not a usable project (${(error as Error).message})`);
    }
    try {
      const check = project.db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new FormatError(manifest.project, `is damaged (${String(check).split('\n').slice(0, 2).join('; ')})`);
      distrust(project, bundle, warnings);
      const rows = project.db.prepare('SELECT id, path FROM images WHERE hash IS NOT NULL').all() as Array<{ id: number; path: string }>;
      const paths = rows.map((r) => r.path);
      let missing: typeof rows = [];
      for (const row of rows) if (!(await exists(resolveStoredPath(project.dir, row.path)))) missing.push(row);
      if (missing.length && options.imagesDir) missing = await relink(project, missing, options.imagesDir, warnings);
      const missingImages = missing.map((r) => r.path);
      if (missingImages.length) warnings.push(`${missingImages.length} image file(s) are not beside the project; copy them there (e.g. ${missingImages[0]})`);
      return { projectPath, images: paths.length, missingImages, warnings };
    } catch (error) {
      if (error instanceof FormatError) throw error;
      throw new FormatError(manifest.project, `is damaged (${(error as Error).message})`);
    } finally {
      project.close();
    }
  } catch (error) {
    if (existed) for (const entry of await readdir(targetDir)) await rm(join(targetDir, entry), { recursive: true, force: true });
    else await rm(targetDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A bundle comes from someone else's computer, so its project must not act on this one: its jobs (an import job
 * names folders to read) are dropped before any runner sees them, and an image path that is absolute or climbs out
 * of the unpacked folder is pointed at images/<its file name> inside it (so a later export cannot copy an outside
 * file such as ~/.ssh/id_rsa into a dataset). A bundle written by exportBundle has neither.
 */
function distrust(project: Project, bundle: string, warnings: string[]): void {
  const jobs = project.db.prepare('SELECT count(*) FROM jobs').pluck().get() as number;
  const rows = project.db.prepare('SELECT id, path FROM images ORDER BY id').all() as Array<{ id: number; path: string }>;
  const outside = rows.filter((row) => isAbsolute(row.path) || !isInside(project.dir, resolveStoredPath(project.dir, row.path)));
  const taken = new Set(rows.map((row) => row.path));
  const names = exportNames(outside);
  const update = project.db.prepare('UPDATE images SET path = ? WHERE id = ?');
  project.transaction(() => {
    project.db.exec('DELETE FROM jobs');
    for (const row of outside) {
      let path = `images/${names.get(row.id)}`;
      while (taken.has(path)) path = `images/${row.id}_${path.slice('images/'.length)}`;
      taken.add(path);
      update.run(path, row.id);
    }
  });
  if (jobs) warnings.push(`${bundle}: ${jobs} job(s) in the bundle were dropped; a bundle cannot start work on this computer`);
  if (outside.length) {
    warnings.push(`${bundle}: ${outside.length} image path(s) pointed outside the bundle (e.g. ${outside[0].path}); they now look for the file under images/ beside the project`);
  }
}

function readManifest(file: string, bundle: string): { project: string } {
  let manifest: { format?: unknown; version?: unknown; project?: unknown };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FormatError(`${bundle}/manifest.json`, `is not valid JSON (${(error as Error).message})`);
  }
  if (manifest?.format !== bundleFormat) throw new FormatError(`${bundle}/manifest.json`, 'is not a Pixelwise bundle manifest');
  if (typeof manifest.version !== 'number' || manifest.version > bundleVersion) {
    throw new FormatError(`${bundle}/manifest.json`, `has version ${String(manifest.version)}; this app reads up to ${bundleVersion}`);
  }
  if (typeof manifest.project !== 'string' || !manifest.project || manifest.project.includes('/') || manifest.project.includes('\\') || manifest.project === '..' || manifest.project === 'manifest.json') {
    throw new FormatError(`${bundle}/manifest.json`, '"project" must name the project file at the top of the bundle');
  }
  return { project: manifest.project };
}

/** Points images that are not beside the project at files of the same name under `dir`; returns those still missing. */
async function relink(project: Project, missing: Array<{ id: number; path: string }>, dir: string, warnings: string[]): Promise<Array<{ id: number; path: string }>> {
  const byName = new Map<string, string | null>();
  for (const file of await listFiles(dir, imageExtensions)) {
    const name = basename(file).toLowerCase();
    byName.set(name, byName.has(name) ? null : file);
  }
  const found: Array<{ id: number; file: string }> = [];
  const still = missing.filter((row) => {
    const file = byName.get(row.path.split('/').pop()!.toLowerCase());
    if (file) found.push({ id: row.id, file });
    return !file;
  });
  const update = project.db.prepare('UPDATE images SET path = ? WHERE id = ?');
  project.transaction(() => { for (const f of found) update.run(storedPath(project.dir, f.file), f.id); });
  if (found.length) warnings.push(`${found.length} image path(s) were pointed at files in ${dir}`);
  return still;
}
