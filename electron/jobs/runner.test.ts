/**
 * Audit F5: a database write that fails while a job runs (a full disk; a file that became read-only) must not
 * end the process with an unhandled rejection. The job stays resumable and its listing says why it stopped.
 * Real project files and a real embedding job; the failures are SQLite's own: `max_page_count` caps the file
 * (SQLITE_FULL, "database or disk is full", exactly what a full disk gives) and `query_only` refuses every write
 * (SQLITE_READONLY) — both on the studio's own connection.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../core/api/records';
import { tempDir, writeImages } from '../../tests/fixtures';
import { Studio } from '../services/studio';

let studio: Studio | null = null;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled);
  await studio?.close();
  studio = null;
});

/** A project with `count` imported images and an embed job queued (not started: CLI mode starts nothing itself). */
async function projectWithEmbedJob(count: number) {
  const dir = tempDir();
  studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  const file = join(dir, 'p.pixelwise');
  await writeImages(join(dir, 'images'), count, 320, 240);
  await studio.openProject(file, true);
  studio.runner.enqueue('import', { paths: [join(dir, 'images')] }, 0);
  await studio.runner.idle();
  const job = studio.enqueueEmbed(null);
  return { file, job, studio };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const embedded = (s: Studio) => s.project.info().statusCounts.embedded ?? 0;

describe('job runner when the database refuses writes', () => {
  it('a full disk stops the job with "the disk is full", keeps the process up, and the job resumes later', async () => {
    const { file, job, studio: s } = await projectWithEmbedJob(6);
    const pages = s.project.db.pragma('page_count', { simple: true }) as number;
    s.project.db.pragma(`max_page_count = ${pages + 8}`); // room for a few embeddings, not six
    s.runner.kick();
    await s.runner.idle();
    await settle();
    expect(unhandled).toEqual([]);
    const [listed] = s.runner.list(false).filter((j) => j.id === job.id);
    expect(listed.status).toBe('failed');
    expect(listed.error).toMatch(/the disk is full/);
    const stored = s.project.jobs.get(job.id)!;
    expect(['running', 'queued']).toContain(stored.status); // as stored: resumable
    const before = embedded(s);
    expect(before).toBeLessThan(6);

    // Space again: reopening resumes the job from what was committed.
    await s.closeProject();
    await s.openProject(file, false);
    s.runner.kick();
    await s.runner.idle();
    expect(s.runner.list(false).find((j) => j.id === job.id)).toMatchObject({ status: 'done', done: 6 });
    expect(embedded(s)).toBe(6);
  });

  it('a job whose failure cannot be recorded (read-only) leaves no unhandled rejection and resumes when writable', async () => {
    const { job, studio: s } = await projectWithEmbedJob(3);
    // The first progress write gets through; from then on every write is refused, the job's "failed" included.
    s.runner.onChange = (record: JobRecord) => {
      if (record.id === job.id) s.project.db.pragma('query_only = 1');
    };
    s.runner.kick();
    await s.runner.idle();
    await settle();
    expect(unhandled).toEqual([]);
    const listed = s.runner.list(false).find((j) => j.id === job.id)!;
    expect(listed).toMatchObject({ status: 'failed' });
    expect(listed.error).toMatch(/read-only/);

    s.runner.onChange = () => {};
    s.project.db.pragma('query_only = 0');
    s.runner.kick();
    await s.runner.idle();
    expect(s.runner.list(false).find((j) => j.id === job.id)).toMatchObject({ status: 'done', done: 3 });
  });

  it('cancelling an unknown job is a not-found error, not an internal one', async () => {
    const { studio: s } = await projectWithEmbedJob(1);
    expect(() => s.runner.cancel(9999)).toThrow(expect.objectContaining({ code: 'not-found' }));
  });
});
