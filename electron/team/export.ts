/**
 * "Export a dataset" on a team project: the export a project file runs (electron/formats, every format), on a
 * snapshot of the server's project. The snapshot is what `pixelwise pull` makes (transfer.ts): images, classes,
 * objects and embedding maps in a project file in a temporary folder; the export runs on it, and the folder is removed after, whether
 * the job finished, failed or was cancelled. One mechanism, so a team export is byte for byte the export of a pulled
 * copy, at the cost of downloading the images once per export (the server has no export of its own to keep in step
 * with the formats).
 *
 * Progress: one step per image pulled, then the export's own steps. Cancel stops it between steps (the target may
 * then hold a partial export, as a project file's cancelled export may).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../db/project';
import { exportDataset } from '../formats';
import { prepareOutDir } from '../formats/collect';
import type { DatasetExportPayload } from '../jobs/dataset-jobs';
import type { TeamClient } from './client';
import type { TeamJob } from './jobs';
import { pull } from './transfer';

class ExportCancelled extends Error {}

export async function exportTeamDataset(client: TeamClient, job: TeamJob, payload: DatasetExportPayload, hashOf: (imageId: number) => Promise<string>): Promise<void> {
  const { format, target, options } = payload;
  const stop = () => {
    if (job.cancelled) throw new ExportCancelled('cancelled');
  };
  // A folder that is not empty is refused before the pull rather than after it.
  if (format !== 'bundle') await prepareOutDir(target, options.overwrite);
  // The images to export, by content hash (the snapshot's ids are its own).
  const hashes = options.imageIds && await Promise.all(options.imageIds.map(hashOf));
  const work = mkdtempSync(join(tmpdir(), 'pixelwise-team-export-'));
  try {
    // Named for the server: a bundle keeps the project file's name.
    const file = join(work, `${new URL(client.origin).host.replace(/[^\w.-]/g, '_')}.pixelwise`);
    let pulled = 0;
    // Only what the export writes: the chosen images, and maps only when it carries them (a bundle with embeddings).
    await pull(client, file, (done, total) => {
      stop();
      pulled = total;
      job.total = total + 1;
      job.done = done;
    }, { maps: options.embeddings === true, only: options.imageIds && new Set(options.imageIds) });
    stop();
    const project = new Project(file);
    try {
      const imageIds = hashes?.map((hash) => project.images.findByHash(hash)).filter((id): id is number => id !== undefined);
      const result = await exportDataset(project, format, target, { ...options, imageIds }, ({ done, total }) => {
        stop();
        job.total = pulled + total;
        job.done = pulled + done;
      });
      job.done = job.total;
      job.result = result;
    } finally {
      project.close();
    }
  } catch (error) {
    if (!(error instanceof ExportCancelled)) throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
