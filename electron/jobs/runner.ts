/**
 * Runs a project's persistent jobs one at a time, oldest first. Image import, embedding and augment jobs left running
 * by a crash or a kill are picked up again on open; each handler resumes from what is committed in the database.
 * Dataset imports and exports are not: they were asked for by a dialog or a command that is gone, and an export's
 * half-written folder would make it fail anyway, so on open they end as failed, saying why.
 */
import { ApiError } from '../../core/api/contract';
import type { JobKind, JobRecord } from '../../core/api/records';
import type { Project } from '../../db/project';
import type { StoredJob } from '../../db/jobs';
import { isDiskFull, toApiError } from '../services/errors';

export interface JobContext {
  project: Project;
  job: StoredJob;
  cancelled(): boolean;
  /** Persist progress (call after each committed unit of work). */
  progress(total: number, done: number, failed: number): void;
}

export type JobHandler = (context: JobContext) => Promise<void>;

export class JobCancelled extends Error {
  override name = 'JobCancelled';
}

interface Rate {
  startedAt: number;
  doneAtStart: number;
}

const resumable: ReadonlySet<JobKind> = new Set(['import', 'embed', 'augment']);

/** After the project could not be written (disk full, read-only), how long until the queue is tried again. */
const retryAfterStallMs = 30_000;

export class JobRunner {
  private running: Promise<void> | null = null;
  private cancelRequested = new Set<number>();
  private rates = new Map<number, Rate>();
  private closed = false;
  /**
   * Set when the database refused a write the runner needs (a full disk, a file made read-only): the job stays
   * as stored (resumable), the queue stops, and lists show that job as failed with the reason until a retry
   * (after retryAfterStallMs, on the next enqueue, or on the next open) gets through.
   */
  private stalled: { id: number; error: string } | null = null;
  private retry: NodeJS.Timeout | null = null;
  /** Called after each progress update and when a job ends. */
  onChange: (job: JobRecord) => void = () => {};

  constructor(private readonly project: Project, private readonly handlers: Record<JobKind, JobHandler>) {
    for (const job of project.jobs.pending()) {
      if (!resumable.has(job.kind)) {
        project.jobs.finish(job.id, 'failed', `interrupted: the studio stopped before this ${job.kind} finished; start it again${job.kind === 'dataset-export' ? ' (its target may hold a partial export)' : ''}`);
      }
    }
  }

  enqueue(kind: JobKind, payload: unknown, total: number): JobRecord {
    const job = this.project.jobs.create(kind, payload, total);
    this.kick();
    return this.withEta(job);
  }

  list(activeOnly: boolean): JobRecord[] {
    return this.project.jobs.list(activeOnly).map((job) => this.withEta(job));
  }

  cancel(id: number): void {
    const job = this.project.jobs.get(id);
    if (!job) throw new ApiError('not-found', `no job ${id} in this project`);
    if (job.status === 'queued') this.project.jobs.finish(id, 'cancelled');
    else if (job.status === 'running') this.cancelRequested.add(id);
  }

  /** Starts working through pending jobs unless already doing so. */
  kick(): void {
    if (this.running || this.closed) return;
    // drain() never rejects: a rejection nobody handles would end the web server's process (audit F5).
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when the queue is empty (for the CLI and tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops after the current unit of work; the interrupted job stays 'running' and resumes on the next open. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    for (const job of this.project.jobs.list(true)) this.cancelRequested.add(job.id);
    await this.running;
  }

  private async drain(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    let current: StoredJob | undefined;
    try {
      for (current = this.project.jobs.pending()[0]; current && !this.closed; current = this.project.jobs.pending()[0]) {
        await this.runOne(current);
      }
      this.stalled = null;
    } catch (error) {
      // The database refused the runner's own bookkeeping: stop here, leave the job as stored, try again later.
      if (this.closed || !this.project.db.open) return;
      this.stalled = { id: current?.id ?? 0, error: toApiError(error).message };
      if (current) this.notify(current.id);
      this.retry = setTimeout(() => this.kick(), retryAfterStallMs);
      this.retry.unref();
    }
  }

  /** Runs one job; throws only when the database refuses a write (the job is then left as it is stored). */
  private async runOne(job: StoredJob): Promise<void> {
    this.project.jobs.start(job.id);
    this.rates.set(job.id, { startedAt: Date.now(), doneAtStart: -1 });
    const context: JobContext = {
      project: this.project,
      job,
      cancelled: () => this.cancelRequested.has(job.id),
      progress: (total, done, failed) => {
        const rate = this.rates.get(job.id);
        if (rate && rate.doneAtStart < 0) Object.assign(rate, { doneAtStart: done + failed, startedAt: Date.now() });
        this.project.jobs.progress(job.id, total, done, failed);
        this.notify(job.id);
      },
    };
    try {
      const handler = this.handlers[job.kind] as JobHandler | undefined;
      if (!handler) throw new Error(`this version of Pixelwise has no "${job.kind}" jobs`);
      await handler(context);
      if (this.closed) return; // interrupted by shutdown: resume later
      this.project.jobs.finish(job.id, context.cancelled() ? 'cancelled' : 'done');
    } catch (error) {
      if (this.closed) return;
      // Out of space: the work done so far is committed; the job resumes from it once there is room.
      if (isDiskFull(error)) throw error;
      const cancelled = error instanceof JobCancelled || context.cancelled();
      this.project.jobs.finish(job.id, cancelled ? 'cancelled' : 'failed', cancelled ? null : toApiError(error).message);
    } finally {
      this.cancelRequested.delete(job.id);
      this.rates.delete(job.id);
      if (this.project.db.open) this.notify(job.id);
    }
  }

  private notify(id: number): void {
    const job = this.project.jobs.get(id);
    if (job) this.onChange(this.withEta(job));
  }

  private withEta(job: StoredJob): JobRecord {
    const { payload: _payload, startedAt: _startedAt, ...record } = job;
    if (this.stalled?.id === job.id && (job.status === 'running' || job.status === 'queued')) {
      return { ...record, status: 'failed', error: this.stalled.error, etaSeconds: null };
    }
    const rate = this.rates.get(job.id);
    const processed = job.done + job.failed;
    if (!rate || rate.doneAtStart < 0 || processed <= rate.doneAtStart) return { ...record, etaSeconds: null };
    const perUnit = (Date.now() - rate.startedAt) / 1000 / (processed - rate.doneAtStart);
    return { ...record, etaSeconds: Math.round(perUnit * Math.max(0, job.total - processed)) };
  }
}
