/**
 * Dataset import and export against a project, for the CLI (`pixelwise export|import`), the web API and the UI.
 * Every failure caused by the input is a FormatError {file, detail}; an import applies fully or not at all.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FormatError } from '../../core/formats/errors';
import type { CocoExportOptions } from '../../core/formats/coco';
import type { LabelmeExportOptions } from '../../core/formats/labelme';
import type { FormatId } from '../../core/formats/types';
import type { VocExportOptions } from '../../core/formats/voc';
import { resolveStoredPath } from '../../db/images';
import type { Project } from '../../db/project';
import { type ImportOptions, type ImportResult, type ProgressHandler, commitImport, knownImages } from './apply';
import { type BundleExportOptions, exportBundle } from './bundle';
import { exportCoco } from './coco';
import { describeFileError } from './files';
import { type ExportOptions, type ExportResult, collectDataset, writeSyntheticManifest } from './collect';
import { exportLabelme } from './labelme';
import { prepareDataset } from './prepare';
import { exportVoc } from './voc';
import { type YoloExportOptions, exportYolo } from './yolo';

export type DatasetExportOptions = ExportOptions & CocoExportOptions & VocExportOptions & LabelmeExportOptions & YoloExportOptions & BundleExportOptions;

async function exportAny(project: Project, format: FormatId, target: string, options: DatasetExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  switch (format) {
    case 'coco': return exportCoco(project, target, options, onProgress);
    case 'voc': return withSyntheticManifest(project, target, options, exportVoc(project, target, options, onProgress));
    case 'yolo': return withSyntheticManifest(project, target, options, exportYolo(project, target, options, onProgress));
    case 'labelme': return withSyntheticManifest(project, target, options, exportLabelme(project, target, options, onProgress));
    case 'bundle': return exportBundle(project, target, options, onProgress);
    default: throw new FormatError(String(format), 'is not a dataset format (coco, voc, yolo, labelme, bundle)');
  }
}

/** VOC, YOLO and labelme have no field for Augment's synthetic flag: synthetic.json beside the data holds it. */
async function withSyntheticManifest(project: Project, target: string, options: DatasetExportOptions, exported: Promise<ExportResult>): Promise<ExportResult> {
  const result = await exported;
  await writeSyntheticManifest(target, collectDataset(project, options.imageIds).dataset);
  return result;
}

async function importAny(project: Project, format: FormatId, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<ImportResult> {
  const { parsed, images } = await prepareDataset(knownImages(project), format, path, options, onProgress);
  return commitImport(project, parsed, images, options, onProgress);
}

/**
 * Writes the project (or `options.imageIds`) as a dataset. `target` is a folder (must be empty unless
 * `options.overwrite`) for coco/voc/yolo/labelme, and the .zip file for 'bundle'.
 */
export async function exportDataset(project: Project, format: FormatId, target: string, options: DatasetExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  return fileErrors(target, async () => {
    const bundle = format === 'bundle';
    if (bundle ? options.images !== false : options.copyImages !== false) await checkImageFiles(project, options.imageIds, bundle);
    return exportAny(project, format, target, options, onProgress);
  });
}

/**
 * Before an export writes anything: every image to copy must be a regular file holding the content that was
 * imported there (its sha256, recorded at import). A dataset that lacks some of its images is not a success, a
 * device or a pipe "image" (/dev/zero) would never finish copying, and a project file from elsewhere could
 * otherwise point an image at any local file (~/.ssh/id_rsa) and have the export copy it: whoever crafted it
 * cannot know that file's hash. A bundle keeps a missing image's row and labels, and says so (openBundle reports
 * it missing), so for bundles (`missingAllowed`) only a file with other content stops the export.
 */
async function checkImageFiles(project: Project, imageIds: number[] | undefined, missingAllowed = false): Promise<void> {
  const rows = project.db.prepare('SELECT id, path, hash FROM images WHERE hash IS NOT NULL ORDER BY id').all() as Array<{ id: number; path: string; hash: string }>;
  const wanted = imageIds && new Set(imageIds);
  const selected = wanted ? rows.filter((r) => wanted.has(r.id)) : rows;
  const problems: Array<{ path: string; reason: string }> = [];
  for (const row of selected) {
    const file = resolveStoredPath(project.dir, row.path);
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error || !info.isFile()) {
      const reason = info instanceof Error ? describeFileError(info) : info.isDirectory() ? 'is a folder, not an image file' : 'is not a regular file';
      if (!missingAllowed) problems.push({ path: row.path, reason });
    } else if (await fileSha256(file) !== row.hash) {
      problems.push({ path: row.path, reason: 'does not hold the image that was imported there (the file was changed or replaced since)' });
    }
  }
  if (!problems.length) return;
  const count = problems.length === 1 ? 'this image cannot be copied' : `${problems.length} of the ${selected.length} images cannot be copied`;
  throw new FormatError(problems[0].path, `${problems[0].reason}; ${count}: put the files back, remove those images from the project, or export without copying images`);
}

/** sha256 of a file's bytes, hex, read as a stream (images may be large). */
async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads a dataset into the project. `path`: COCO JSON file (or its folder), VOC root folder, YOLO data.yaml (or
 * its folder), labelme folder (or one .json). Bundles are opened with `openBundle`, not merged.
 */
export async function importDataset(project: Project, format: FormatId, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<ImportResult> {
  return fileErrors(path, () => importAny(project, format, path, options, onProgress));
}

/** File-system failures (permission denied, disk full, ...) become FormatErrors naming the file; other errors are bugs and pass through. */
async function fileErrors<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof FormatError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) throw error;
    throw new FormatError((error as NodeJS.ErrnoException).path ?? path, `${describeFileError(error)} (${(error as Error).message})`);
  }
}

export { type BundleExportOptions, type BundleOpenOptions, type OpenedBundle, exportBundle, openBundle } from './bundle';
export type { ExportOptions, ExportResult } from './collect';
export type { ImportOptions, ImportResult, ProgressHandler } from './apply';
export { FormatError } from '../../core/formats/errors';
export { LOSSES } from '../../core/formats/losses';
