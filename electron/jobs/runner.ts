/**
 * Runs a project's persistent jobs one at a time, oldest first. Image import and embedding jobs left running by a
 * crash or a kill are picked up again on open; each handler resumes from what is committed in the database.
 * Dataset imports and exports are not: they were asked for by a dialog or a command that is gone, and an export's
 * half-written folder would make it fail anyway, so on open they end as failed, saying why.
 */
import type { JobKind, JobRecord } from '../../core/api/records';
import type { Project } from '../../db/project';
import type { StoredJob } from '../../db/jobs';

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

const resumable: ReadonlySet<JobKind> = new Set(['import', 'embed']);

export class JobRunner {
  private running: Promise<void> | null = null;
  private cancelRequested = new Set<number>();
  private rates = new Map<number, Rate>();
  private closed = false;
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
    if (!job) throw new Error(`no job ${id}`);
    if (job.status === 'queued') this.project.jobs.finish(id, 'cancelled');
    else if (job.status === 'running') this.cancelRequested.add(id);
  }

  /** Starts working through pending jobs unless already doing so. */
  kick(): void {
    if (this.running || this.closed) return;
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
    for (const job of this.project.jobs.list(true)) this.cancelRequested.add(job.id);
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let job = this.project.jobs.pending()[0]; job && !this.closed; job = this.project.jobs.pending()[0]) {
      await this.runOne(job);
    }
  }

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
      await this.handlers[job.kind](context);
      if (this.closed) return; // interrupted by shutdown: resume later
      this.project.jobs.finish(job.id, context.cancelled() ? 'cancelled' : 'done');
    } catch (error) {
      if (this.closed) return;
      const cancelled = error instanceof JobCancelled || context.cancelled();
      this.project.jobs.finish(job.id, cancelled ? 'cancelled' : 'failed', cancelled ? null : (error as Error).message);
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
    const rate = this.rates.get(job.id);
    const processed = job.done + job.failed;
    if (!rate || rate.doneAtStart < 0 || processed <= rate.doneAtStart) return { ...record, etaSeconds: null };
    const perUnit = (Date.now() - rate.startedAt) / 1000 / (processed - rate.doneAtStart);
    return { ...record, etaSeconds: Math.round(perUnit * Math.max(0, job.total - processed)) };
  }
}
