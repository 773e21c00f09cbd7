/**
 * "Add images" on a team project: the files and folders are uploaded to the server (images.upload, admins), one
 * job per request with progress, in the studio's memory (a studio closed mid-upload leaves the rest; adding the
 * same folder again uploads only what the server lacks: images are matched by content hash first).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { ApiError } from '../../core/api/contract';
import type { JobRecord } from '../../core/api/records';
import { expandPaths } from '../jobs/import-job';
import type { TeamClient } from './client';

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

export class UploadJobs {
  private readonly jobs: Array<JobRecord & { cancelled: boolean }> = [];
  /** Job ids from 2 up: 1 is the server's embedding queue (electron/team/studio-api.ts). */
  private nextId = 2;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly client: TeamClient) {}

  list(activeOnly: boolean): JobRecord[] {
    return this.jobs.filter((job) => !activeOnly || job.status === 'queued' || job.status === 'running')
      .map(({ cancelled: _cancelled, ...job }) => ({ ...job }));
  }

  has(id: number): boolean {
    return this.jobs.some((job) => job.id === id);
  }

  cancel(id: number): void {
    const job = this.jobs.find((entry) => entry.id === id);
    if (!job) throw new ApiError('not-found', `no job ${id}`);
    job.cancelled = true;
  }

  start(paths: string[]): JobRecord {
    const job: JobRecord & { cancelled: boolean } = {
      id: this.nextId++, kind: 'import', status: 'queued', total: 0, done: 0, failed: 0, etaSeconds: null, error: null, result: null,
      createdAt: new Date().toISOString(), finishedAt: null, cancelled: false,
    };
    this.jobs.unshift(job);
    const run = this.run(job, paths.map((path) => resolve(path))).catch((error: unknown) => {
      job.status = 'failed';
      job.error = (error as Error).message;
    }).finally(() => {
      job.finishedAt = new Date().toISOString();
      this.running.delete(run);
    });
    this.running.add(run);
    const { cancelled: _cancelled, ...record } = job;
    return { ...record };
  }

  private async run(job: JobRecord & { cancelled: boolean }, roots: string[]): Promise<void> {
    job.status = 'running';
    const files = await expandPaths(roots);
    job.total = files.length;
    const result: UploadResult = { uploaded: 0, present: 0, failed: [] };
    job.result = result;
    const started = Date.now();
    for (const file of files) {
      if (job.cancelled) {
        job.status = 'cancelled';
        return;
      }
      const name = uploadName(file.path, roots);
      try {
        if (file.problem) throw new ApiError('invalid-image', file.problem);
        const bytes = await readFile(file.path);
        const hash = createHash('sha256').update(bytes).digest('hex');
        const known = await this.client.call<Record<string, number>>('images.find', { hashes: [hash] });
        if (known[hash] !== undefined) {
          result.present++;
        } else {
          await this.client.call('images.upload', { path: name, data: bytes.toString('base64') });
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
    job.status = 'done';
  }

  /** Stops the running uploads after their current file. */
  async close(): Promise<void> {
    for (const job of this.jobs) job.cancelled = true;
    await Promise.all([...this.running]);
  }
}
