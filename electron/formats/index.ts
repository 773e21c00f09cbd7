/**
 * Dataset import and export against a project, for the CLI (`pixelwise export|import`), the web API and the UI.
 * Every failure caused by the input is a FormatError {file, detail}; an import applies fully or not at all.
 */
import { FormatError } from '../../core/formats/errors';
import type { CocoExportOptions } from '../../core/formats/coco';
import type { LabelmeExportOptions } from '../../core/formats/labelme';
import type { FormatId } from '../../core/formats/types';
import type { VocExportOptions } from '../../core/formats/voc';
import type { Project } from '../../db/project';
import { type ImportOptions, type ImportResult, type ProgressHandler, commitImport, knownImages } from './apply';
import { type BundleExportOptions, exportBundle } from './bundle';
import { exportCoco } from './coco';
import type { ExportOptions, ExportResult } from './collect';
import { exportLabelme } from './labelme';
import { prepareDataset } from './prepare';
import { exportVoc } from './voc';
import { type YoloExportOptions, exportYolo } from './yolo';

export type DatasetExportOptions = ExportOptions & CocoExportOptions & VocExportOptions & LabelmeExportOptions & YoloExportOptions & BundleExportOptions;

async function exportAny(project: Project, format: FormatId, target: string, options: DatasetExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  switch (format) {
    case 'coco': return exportCoco(project, target, options, onProgress);
    case 'voc': return exportVoc(project, target, options, onProgress);
    case 'yolo': return exportYolo(project, target, options, onProgress);
    case 'labelme': return exportLabelme(project, target, options, onProgress);
    case 'bundle': return exportBundle(project, target, options, onProgress);
    default: throw new FormatError(String(format), 'is not a dataset format (coco, voc, yolo, labelme, bundle)');
  }
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
  return fileErrors(target, () => exportAny(project, format, target, options, onProgress));
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
    throw new FormatError((error as NodeJS.ErrnoException).path ?? path, `file system error ${code} (${(error as Error).message})`);
  }
}

export { type BundleExportOptions, type BundleOpenOptions, type OpenedBundle, exportBundle, openBundle } from './bundle';
export type { ExportOptions, ExportResult } from './collect';
export type { ImportOptions, ImportResult, ProgressHandler } from './apply';
export { FormatError } from '../../core/formats/errors';
export { LOSSES } from '../../core/formats/losses';
