/**
 * Import job: files and folders (recursive) become image rows with a content hash, size and thumbnail.
 * Unreadable files are recorded as failed with the reason and the import goes on. Re-running the same job
 * skips what is already there, which is how it resumes after a crash; the job's result counts what was skipped
 * and why, so a labeler is told "2 already in the project" rather than seeing nothing happen.
 */
import { createHash } from 'node:crypto';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Project } from '../../db/project';
import { type NewImage, storedPath } from '../../db/images';
import { failureReason, imageExtensions, ImageDecodeError, openImage, readImageBytes } from '../embedding/image-io';
import type { JobContext } from './runner';

export interface ImportPayload {
  paths: string[];
}

/** A file found for import, or one that cannot be: its name is not valid UTF-8 (see expandPaths). */
export interface FoundFile {
  path: string;
  problem?: string;
}

/** What an import job leaves in its result: added, and the skipped files by reason (skipped is their sum). */
export interface ImportResult {
  added: number;
  skipped: number;
  /** Files already in the project under the same path. */
  alreadyInProject: number;
  /** Files with the same content as an image already in the project or earlier in this import. */
  sameContent: number;
}

/**
 * Expands folders recursively (image extensions only, sorted); explicitly named files are always tried.
 * Symbolic links are followed, to files and to folders, a folder reached twice (a link loop) being read once.
 * Directory entries are read as bytes: a name that is not valid UTF-8 cannot be kept in the project (paths are
 * stored as text and every later read goes by that text), so it comes back with a problem naming it, instead of
 * as a lossily decoded path that "does not exist".
 */
export async function expandPaths(paths: string[]): Promise<FoundFile[]> {
  const files: FoundFile[] = [];
  const seenFolders = new Set<string>();
  async function walk(dir: string): Promise<void> {
    const real = await realpath(dir);
    if (seenFolders.has(real)) return;
    seenFolders.add(real);
    const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    const named = entries.map((entry) => ({ entry, name: entry.name.toString('utf8') }));
    named.sort((a, b) => a.name.localeCompare(b.name));
    for (const { entry, name } of named) {
      const full = join(dir, name);
      const kind = entry.isSymbolicLink() ? await stat(Buffer.concat([Buffer.from(`${dir}${sep}`), entry.name])).catch(() => null) : entry;
      if (!kind) {
        // A link to nothing: said for image names, so the labeler learns why a file they see is not imported.
        if (isImageName(name)) files.push({ path: full, problem: 'the symbolic link points to a file that does not exist' });
        continue;
      }
      if (!imageOrFolder(kind, name)) continue;
      if (!Buffer.from(name, 'utf8').equals(entry.name)) {
        files.push({ path: full, problem: `the name "${escapeName(entry.name)}" is not valid UTF-8, which Pixelwise cannot keep; rename it to import the file` });
      } else if (kind.isDirectory()) {
        await walk(full);
      } else {
        files.push({ path: full });
      }
    }
  }
  for (const path of paths.map((p) => resolve(p))) {
    const info = await stat(path).catch(() => null);
    if (info?.isDirectory()) await walk(path);
    else files.push({ path });
  }
  const unique = new Map(files.map((file) => [file.path, file])); // a file named twice is imported once
  return [...unique.values()];
}

function isImageName(name: string): boolean {
  return imageExtensions.includes(extname(name).toLowerCase());
}

function imageOrFolder(kind: { isDirectory(): boolean; isFile(): boolean }, name: string): boolean {
  return kind.isDirectory() || (kind.isFile() && isImageName(name));
}

/** Bytes of a file name with those outside printable ASCII as \xNN, as a shell shows them. */
function escapeName(name: Buffer): string {
  return [...name].map((byte) => (byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`)).join('');
}

/** What the images table needs of a file, less its stored path. */
export type ImportedFile = Omit<NewImage, 'path'>;

/** Reads, hashes, validates and thumbnails one file; throws ImageDecodeError with a reason. */
export async function readImageFile(path: string): Promise<ImportedFile> {
  return describeImage(await readImageBytes(path));
}

/** Hashes, validates and thumbnails an encoded image (a file's bytes, or an upload to the team server). */
export async function describeImage(bytes: Buffer): Promise<ImportedFile> {
  try {
    const pipeline = openImage(bytes);
    const metadata = await pipeline.metadata();
    const thumbnail = await pipeline.clone().resize(256, 256, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#000' })
      .jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true });
    const rotated = (metadata.orientation ?? 1) >= 5;
    const width = metadata.width ?? thumbnail.info.width, height = metadata.height ?? thumbnail.info.height;
    return {
      hash: createHash('sha256').update(bytes).digest('hex'),
      width: rotated ? height : width,
      height: rotated ? width : height,
      byteSize: bytes.length,
      format: bytes[0] === 0x42 && bytes[1] === 0x4d ? 'bmp' : metadata.format ?? 'unknown',
      thumbnail: thumbnail.data,
    };
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw new ImageDecodeError(failureReason(error, bytes));
  }
}

/** Files are decoded a few at a time (sharp works off the event loop) and committed in batches. */
const batchSize = 16;

export async function runImport({ project, job, cancelled, progress }: JobContext): Promise<void> {
  const files = await expandPaths((job.payload as ImportPayload).paths);
  // done counts files handled; the result says what became of them.
  let done = 0, failed = 0;
  const result: ImportResult = { added: 0, skipped: 0, alreadyInProject: 0, sameContent: 0 };
  progress(files.length, done, failed);
  for (let start = 0; start < files.length && !cancelled(); start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const results = await Promise.allSettled(batch.map((file) => importOne(project, file)));
    project.transaction(() => {
      results.forEach((outcome, i) => {
        const path = storedPath(project.dir, batch[i].path);
        if (outcome.status === 'rejected') {
          project.images.addFailed(path, (outcome.reason as Error).message);
          failed++;
          return;
        }
        done++;
        if (outcome.value === null) {
          result.alreadyInProject++;
        } else if (project.images.findByHash(outcome.value.hash) !== undefined) {
          result.sameContent++; // also within one batch
        } else {
          project.images.add({ path, ...outcome.value });
          result.added++;
        }
      });
      progress(files.length, done, failed);
    });
  }
  result.skipped = result.alreadyInProject + result.sameContent;
  project.jobs.setResult(job.id, result);
}

/** null when the file is already in the project under this path. */
async function importOne(project: Project, file: FoundFile): Promise<ImportedFile | null> {
  if (file.problem) throw new ImageDecodeError(file.problem);
  if (project.images.findByPath(storedPath(project.dir, file.path))?.hash) return null;
  return readImageFile(file.path);
}
