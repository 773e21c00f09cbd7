/**
 * Persistent jobs. A job's payload holds what it needs to resume; progress counters are written as work is
 * committed, so after a crash a job restarts from what is actually stored.
 */
import type { JobKind, JobRecord, JobStatus } from '../core/api/records';
import type { Db } from './connection';

interface JobRow {
  id: number;
  kind: JobKind;
  status: JobStatus;
  payload: string;
  total: number;
  done: number;
  failed: number;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: string | null;
}

export interface StoredJob extends JobRecord {
  payload: unknown;
  startedAt: string | null;
}

/** A stored payload that is not JSON (the file was edited outside the app): that job cannot run. */
export const unreadablePayload = Symbol('unreadable payload');

function parseStored(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return unreadablePayload;
  }
}

function toJob(row: JobRow): StoredJob {
  const result = row.result === null ? null : parseStored(row.result);
  return {
    id: row.id, kind: row.kind, status: row.status, total: row.total, done: row.done, failed: row.failed, error: row.error,
    etaSeconds: null, createdAt: row.created_at, finishedAt: row.finished_at, startedAt: row.started_at,
    result: result === unreadablePayload ? null : result,
    payload: parseStored(row.payload),
  };
}

const now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

export function jobRepository(db: Db) {
  const insert = db.prepare('INSERT INTO jobs (kind, payload, total) VALUES (?, ?, ?)');
  const byId = db.prepare('SELECT * FROM jobs WHERE id = ?');
  const all = db.prepare('SELECT * FROM jobs ORDER BY id DESC LIMIT 50');
  const active = db.prepare("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY id");
  const start = db.prepare(`UPDATE jobs SET status = 'running', started_at = coalesce(started_at, ${now}) WHERE id = ?`);
  const progress = db.prepare('UPDATE jobs SET total = ?, done = ?, failed = ? WHERE id = ?');
  const finish = db.prepare(`UPDATE jobs SET status = ?, error = ?, finished_at = ${now} WHERE id = ? AND status IN ('queued', 'running')`);
  const setResult = db.prepare('UPDATE jobs SET result = ? WHERE id = ?');
  const requeueRunning = db.prepare("UPDATE jobs SET status = 'queued' WHERE status = 'running'");

  return {
    create(kind: JobKind, payload: unknown, total: number): StoredJob {
      return toJob(byId.get(Number(insert.run(kind, JSON.stringify(payload), total).lastInsertRowid)) as JobRow);
    },
    get(id: number): StoredJob | undefined {
      const row = byId.get(id) as JobRow | undefined;
      return row && toJob(row);
    },
    list: (activeOnly: boolean) => ((activeOnly ? active.all() : all.all()) as JobRow[]).map(toJob),
    /**
     * Jobs to run, oldest first; jobs left 'running' by a crash are queued again first. One whose payload is
     * unreadable ends as failed, saying so, rather than making the whole project unopenable.
     */
    pending(): StoredJob[] {
      requeueRunning.run();
      const jobs = (active.all() as JobRow[]).map(toJob);
      for (const job of jobs.filter((j) => j.payload === unreadablePayload)) {
        finish.run('failed', 'its stored settings are unreadable (the project file was changed outside Pixelwise); start it again', job.id);
      }
      return jobs.filter((job) => job.payload !== unreadablePayload);
    },
    start: (id: number) => void start.run(id),
    progress: (id: number, total: number, done: number, failed: number) => void progress.run(total, done, failed, id),
    setResult: (id: number, result: unknown) => void setResult.run(JSON.stringify(result), id),
    finish: (id: number, status: Exclude<JobStatus, 'queued' | 'running'>, error: string | null = null) => void finish.run(status, error, id),
  };
}

export type JobRepository = ReturnType<typeof jobRepository>;
