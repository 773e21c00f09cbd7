/**
 * Dataset import and export as jobs, so the UI shows their progress and the CLI waits for them like any other.
 * An import commits in one transaction at its end: a job killed half-way changed nothing and simply runs again.
 */
import type { FormatId } from '../../core/formats/types';
import { type DatasetExportOptions, exportDataset, importDataset, type ImportOptions } from '../formats';
import type { JobContext } from './runner';

export interface DatasetExportPayload {
  format: FormatId;
  target: string;
  options: DatasetExportOptions;
}

export interface DatasetImportPayload {
  format: Exclude<FormatId, 'bundle'>;
  path: string;
  options: Omit<ImportOptions, 'addImage'>;
}

export async function runDatasetExport({ project, job, progress }: JobContext): Promise<void> {
  const { format, target, options } = job.payload as DatasetExportPayload;
  const result = await exportDataset(project, format, target, options, ({ done, total }) => progress(total, done, 0));
  project.jobs.setResult(job.id, result);
}

export async function runDatasetImport({ project, job, progress }: JobContext): Promise<void> {
  const { format, path, options } = job.payload as DatasetImportPayload;
  const result = await importDataset(project, format, path, options, ({ done, total }) => progress(total, done, 0));
  for (const id of project.images.ids()) project.images.refreshStatus(id);
  project.jobs.setResult(job.id, result);
}
