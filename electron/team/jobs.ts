/**
 * The jobs a team project runs in the studio (adding images: uploads.ts; exporting a dataset: export.ts), in the
 * studio's memory, listed by jobs.list beside the server's embedding queue. Each reports progress on its record and
 * looks at `cancelled` between steps; a studio closed mid-job stops it after its current step (nothing on the
 * server is left half-written: each step is one call).
 */
import { ApiError } from '../../core/api/contract';
import type { JobKind, JobRecord } from '../../core/api/records';

export type TeamJob = JobRecord & { cancelled: boolean };

/** What a job does; it fills in total, done, failed and result as it goes, and returns when done or cancelled. */
export type TeamJobWork = (job: TeamJob) => Promise<void>;

export class TeamJobs {
  private readonly jobs: TeamJob[] = [];
  /** Job ids from 2 up: 1 is the server's embedding queue (electron/team/studio-api.ts). */
  private nextId = 2;
  private readonly running = new Set<Promise<void>>();

  list(activeOnly: boolean): JobRecord[] {
    return this.jobs.filter((job) => !activeOnly || job.status === 'queued' || job.status === 'running')
      .map(({ cancelled: _cancelled, ...job }) => ({ ...job }));
  }

  cancel(id: number): void {
    const job = this.jobs.find((entry) => entry.id === id);
    if (!job) throw new ApiError('not-found', `no job ${id}`);
    job.cancelled = true;
  }

  start(kind: JobKind, work: TeamJobWork): JobRecord {
    const job: TeamJob = {
      id: this.nextId++, kind, status: 'queued', total: 0, done: 0, failed: 0, etaSeconds: null, error: null, result: null,
      createdAt: new Date().toISOString(), finishedAt: null, cancelled: false,
    };
    this.jobs.unshift(job);
    const { cancelled: _cancelled, ...record } = job;
    job.status = 'running';
    const run = work(job).then(() => {
      job.status = job.cancelled ? 'cancelled' : 'done';
    }, (error: unknown) => {
      job.status = job.cancelled ? 'cancelled' : 'failed';
      job.error = job.cancelled ? null : (error as Error).message;
    }).finally(() => {
      job.finishedAt = new Date().toISOString();
      this.running.delete(run);
    });
    this.running.add(run);
    return { ...record };
  }

  /** Stops the running jobs after their current step. */
  async close(): Promise<void> {
    for (const job of this.jobs) job.cancelled = true;
    await Promise.all([...this.running]);
  }
}
