/** File helpers for dataset import/export: size-limited reads, paths that cannot escape a folder, export names. */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FormatError, describeBytes } from '../../core/formats/errors';
import { openImage } from '../embedding/image-io';

/** How a file is named in messages: relative to the dataset root when inside it. */
export function displayName(root: string, file: string): string {
  const rel = relative(root, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : file;
}

export function isInside(root: string, file: string): boolean {
  const rel = relative(resolve(root), resolve(file));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** `root` joined with a '/'-separated relative name; refuses names that climb out of `root`. */
export function joinInside(root: string, name: string, file: string): string {
  const target = resolve(root, ...name.split('/'));
  if (!isInside(root, target)) throw new FormatError(file, `"${name}" points outside the dataset folder`);
  return target;
}

export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** Reads a whole file, refusing it before reading when it is larger than `maxBytes`. */
export async function readLimited(path: string, maxBytes: number, name = path): Promise<Buffer> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new FormatError(name, error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`);
  });
  if (!info.isFile()) throw new FormatError(name, 'is not a file');
  if (info.size > maxBytes) throw new FormatError(name, `is ${describeBytes(info.size)}, over the ${describeBytes(maxBytes)} limit for this kind of file`);
  return readFile(path);
}

export async function readText(path: string, maxBytes: number, name = path): Promise<string> {
  const bytes = await readLimited(path, maxBytes, name);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Files under `dir` (recursive, sorted) whose extension is in `extensions` (lower case, with dot). */
export async function listFiles(dir: string, extensions: string[], limit = 1_000_000): Promise<string[]> {
  const files: string[] = [];
  async function walk(folder: string): Promise<void> {
    const entries = await readdir(folder, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = join(folder, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith('.')) await walk(full);
      else if (entry.isFile() && extensions.includes(extname(entry.name).toLowerCase())) {
        files.push(full);
        if (files.length > limit) throw new FormatError(dir, `holds more than ${limit} files`);
      }
    }
  }
  await walk(dir);
  return files;
}

export interface ImageFacts {
  hash: string;
  width: number;
  height: number;
}

/** Content hash and displayed size (EXIF orientation applied, as the project's import does). */
export async function imageFacts(path: string, name: string, maxBytes: number): Promise<ImageFacts> {
  const bytes = await readLimited(path, maxBytes, name);
  try {
    const metadata = await openImage(bytes).metadata();
    const rotated = (metadata.orientation ?? 1) >= 5;
    const width = metadata.width ?? 0, height = metadata.height ?? 0;
    if (!width || !height) throw new Error('has no size');
    return { hash: createHash('sha256').update(bytes).digest('hex'), width: rotated ? height : width, height: rotated ? width : height };
  } catch (error) {
    throw new FormatError(name, `is not a readable image (${(error as Error).message.split('\n')[0]})`);
  }
}

/**
 * Flat, unique file names for exported images: the original file name, prefixed with the image id when two
 * images would share a stem (stems matter: VOC, YOLO and labelme name their label files after them).
 */
export function exportNames(images: Array<{ id: number; path: string }>): Map<number, string> {
  const stemCount = new Map<string, number>();
  const stem = (name: string) => name.slice(0, name.length - extname(name).length).toLowerCase();
  const base = (path: string) => basename(path.split('/').join(sep)).replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_');
  for (const image of images) stemCount.set(stem(base(image.path)), (stemCount.get(stem(base(image.path))) ?? 0) + 1);
  const names = new Map<number, string>();
  const taken = new Set<string>();
  for (const image of images) {
    let name = base(image.path);
    if ((stemCount.get(stem(name)) ?? 0) > 1) name = `${image.id}_${name}`;
    // A file literally named like a prefixed one ("7_a.png") is rare; prefix again until the stem is free.
    while (taken.has(stem(name))) name = `${image.id}_${name}`;
    taken.add(stem(name));
    names.set(image.id, name);
  }
  return names;
}

export function stemOf(name: string): string {
  return name.slice(0, name.length - extname(name).length);
}

/**
 * Writes `path` whole or not at all: a temporary file beside it, then a rename. A COCO export that ran out of space
 * left a 0-byte annotations.json where a reader expects a dataset.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A file-system error code in words a user can act on (disk full, permissions), else the code itself. */
export function describeFileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOSPC': return 'the disk is full';
    case 'EDQUOT': return 'the disk quota is used up';
    case 'EFBIG': return 'the file is larger than this system allows';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the disk is read-only';
    case 'ENOENT': return 'the file is missing';
    case 'EISDIR': return 'a folder is in the way';
    default: return code ?? (error as Error).message;
  }
}
