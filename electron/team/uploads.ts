/**
 * "Add images" on a team project: the files and folders are uploaded to the server (images.upload, admins), one
 * job per request with progress, in the studio's memory (jobs.ts) (a studio closed mid-upload leaves the rest; adding the
 * same folder again uploads only what the server lacks: images are matched by content hash first).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, relative, sep } from 'node:path';
import { ApiError } from '../../core/api/contract';
import { expandPaths } from '../jobs/import-job';
import type { TeamClient } from './client';
import type { TeamJob } from './jobs';

/** What a finished upload job says: how many were new, already there, or refused (with why). */
export interface UploadResult {
  uploaded: number;
  present: number;
  failed: Array<{ path: string; reason: string }>;
}

/** A name for people on the server: the file's path below the folder that was added (with that folder's name). */
function uploadName(file: string, roots: string[]): string {
  const root = roots.filter((path) => file === path || file.startsWith(path + sep)).sort((a, b) => b.length - a.length)[0] ?? file;
  const name = relative(dirname(root), file).split(sep).join('/');
  return name.split('/').every((part) => part && part !== '.' && part !== '..') ? name : basename(file);
}

/** Uploads the files and folders at `roots` (absolute) as the job's steps, one file each. */
export async function uploadFiles(client: TeamClient, job: TeamJob, roots: string[]): Promise<void> {
  const files = await expandPaths(roots);
  job.total = files.length;
  const result: UploadResult = { uploaded: 0, present: 0, failed: [] };
  job.result = result;
  const started = Date.now();
  for (const file of files) {
    if (job.cancelled) return;
    const name = uploadName(file.path, roots);
    try {
      if (file.problem) throw new ApiError('invalid-image', file.problem);
      const bytes = await readFile(file.path);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const known = await client.call<Record<string, number>>('images.find', { hashes: [hash] });
      if (known[hash] !== undefined) {
        result.present++;
      } else {
        await client.call('images.upload', { path: name, data: bytes.toString('base64') });
        result.uploaded++;
      }
    } catch (error) {
      // The server gone or refusing every upload (a role changed meanwhile) ends the job; a bad file does not.
      if (error instanceof ApiError && ['unavailable', 'forbidden', 'unauthorized'].includes(error.code)) throw error;
      job.failed++;
      result.failed.push({ path: name, reason: (error as Error).message });
    }
    job.done++;
    const rate = (Date.now() - started) / job.done;
    job.etaSeconds = job.done >= 3 ? Math.round(((job.total - job.done) * rate) / 1000) : null;
  }
  job.etaSeconds = 0;
}
