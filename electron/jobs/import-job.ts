/**
 * Import job: files and folders (recursive) become image rows with a content hash, size and thumbnail.
 * Unreadable files are recorded as failed with the reason and the import goes on. Re-running the same job
 * skips what is already there, which is how it resumes after a crash.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Project } from '../../db/project';
import { type NewImage, storedPath } from '../../db/images';
import { failureReason, imageExtensions, ImageDecodeError, openImage, readImageBytes } from '../embedding/image-io';
import type { JobContext } from './runner';

export interface ImportPayload {
  paths: string[];
}

/** Expands folders recursively (image extensions only, sorted); explicitly named files are always tried. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && imageExtensions.includes(extname(entry.name).toLowerCase())) files.push(full);
    }
  }
  for (const path of paths.map((p) => resolve(p))) {
    const info = await stat(path).catch(() => null);
    if (info?.isDirectory()) await walk(path);
    else files.push(path);
  }
  return [...new Set(files)];
}

/** What the images table needs of a file, less its stored path. */
export type ImportedFile = Omit<NewImage, 'path'>;

/** Reads, hashes, validates and thumbnails one file; throws ImageDecodeError with a reason. */
export async function readImageFile(path: string): Promise<ImportedFile> {
  const bytes = await readImageBytes(path);
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
  // done counts files handled; added / skipped (already in the project, or the same content as another file) say
  // what became of them, in the job's result.
  let done = 0, failed = 0, added = 0, skipped = 0;
  progress(files.length, done, failed);
  for (let start = 0; start < files.length && !cancelled(); start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const results = await Promise.allSettled(batch.map((file) => importOne(project, file)));
    project.transaction(() => {
      results.forEach((result, i) => {
        const path = storedPath(project.dir, batch[i]);
        if (result.status === 'fulfilled') {
          // Same content twice (also within one batch) is one image.
          if (result.value && project.images.findByHash(result.value.hash) === undefined) {
            project.images.add({ path, ...result.value });
            added++;
          } else {
            skipped++;
          }
          done++;
        } else {
          project.images.addFailed(path, (result.reason as Error).message);
          failed++;
        }
      });
      progress(files.length, done, failed);
    });
  }
  project.jobs.setResult(job.id, { added, skipped });
}

/** null when the file is already in the project under this path. */
async function importOne(project: Project, file: string): Promise<ImportedFile | null> {
  if (project.images.findByPath(storedPath(project.dir, file))?.hash) return null;
  return readImageFile(file);
}
