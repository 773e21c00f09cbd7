/**
 * Dataset import and export as jobs, so the UI shows their progress and the CLI waits for them like any other.
 * An import commits in one transaction at its end: a job killed half-way changed nothing and simply runs again.
 */
import { resolve } from 'node:path';
import type { ApiImplementation } from '../../core/api/contract';
import type { FormatId } from '../../core/formats/types';
import { type DatasetExportOptions, exportDataset, type ImportOptions } from '../formats';
import { importDatasetInWorker } from '../formats/import-worker-client';
import type { JobContext } from './runner';

export interface DatasetExportPayload {
  format: FormatId;
  target: string;
  options: DatasetExportOptions;
}

/** datasets.export's input as the export job's payload (a project file's job, or a team project's: team/export.ts). */
export function exportPayload({ format, target, ...options }: Parameters<ApiImplementation['datasets']['export']>[0]): DatasetExportPayload {
  return {
    format, target: resolve(target),
    // labelme has no RLE: its exact form is the 'mask' shape, so the one 'segmentation' choice maps onto 'shapes'.
    options: format === 'labelme' && options.segmentation ? { ...options, shapes: options.segmentation === 'rle' ? 'mask' : 'polygon' } : options,
  };
}

export interface DatasetImportPayload {
  format: Exclude<FormatId, 'bundle'>;
  path: string;
  options: Omit<ImportOptions, 'addImage'>;
}

/**
 * Stage progress as the formats report it (done counts the step about to run), plus a final "all done" so a
 * finished job reads "3 of 3" rather than the last step's "2 of 3".
 */
function stageProgress(progress: JobContext['progress']) {
  let last = 0;
  return {
    report: ({ done, total }: { done: number; total: number }) => {
      last = total;
      progress(total, done, 0);
    },
    complete: () => progress(last, last, 0),
  };
}

export async function runDatasetExport({ project, job, progress }: JobContext): Promise<void> {
  const { format, target, options } = job.payload as DatasetExportPayload;
  const stages = stageProgress(progress);
  const result = await exportDataset(project, format, target, options, stages.report);
  stages.complete();
  project.jobs.setResult(job.id, result);
}

export async function runDatasetImport({ project, job, progress, cancelled }: JobContext): Promise<void> {
  const { format, path, options } = job.payload as DatasetImportPayload;
  const stages = stageProgress(progress);
  const result = await importDatasetInWorker(project, format, path, options, stages.report, cancelled);
  stages.complete();
  for (const id of project.images.ids()) project.images.refreshStatus(id);
  project.jobs.setResult(job.id, result);
}
