/** SIGKILL the web server in the middle of an embedding job: on restart the job resumes and nothing stored is lost. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, writeImages } from '../fixtures';
import { type ServerProcess, startServer } from './harness';

let server: ServerProcess | null = null;
afterEach(() => {
  server?.process.kill('SIGKILL');
  server = null;
});

async function call<T>(started: ServerProcess, service: string, method: string, input: unknown = {}): Promise<T> {
  const response = await fetch(`${started.origin}/api/${service}/${method}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${started.token}` }, body: JSON.stringify(input),
  });
  const body = (await response.json()) as { ok: boolean; result: T; error?: { message: string } };
  if (!body.ok) throw new Error(body.error?.message);
  return body.result;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('timed out');
}

type Job = { id: number; kind: string; status: string; done: number; total: number };

describe('crash safety', () => {
  it('resumes an embedding job after SIGKILL with the stored work intact', async () => {
    const dir = tempDir();
    const projectFile = join(dir, 'crash.pixelwise');
    await writeImages(join(dir, 'images'), 16, 1024, 768);

    server = await startServer(join(dir, 'data'));
    await call(server, 'projects', 'create', { path: projectFile });
    const importJob = await call<Job>(server, 'images', 'import', { paths: [join(dir, 'images')] });
    await waitFor(async () => {
      const jobs = await call<Job[]>(server!, 'jobs', 'list', {});
      return jobs.find((j) => j.id === importJob.id && j.status === 'done');
    });
    const embedJob = await call<Job>(server, 'embeddings', 'start', {});
    await waitFor(async () => {
      const jobs = await call<Job[]>(server!, 'jobs', 'list', {});
      return jobs.find((j) => j.id === embedJob.id && j.done >= 3);
    });
    server.process.kill('SIGKILL');
    await server.exited;

    const afterKill = new Database(projectFile);
    expect(afterKill.pragma('integrity_check', { simple: true })).toBe('ok');
    const storedBefore = afterKill.prepare('SELECT count(*) FROM embeddings').pluck().get() as number;
    const status = afterKill.prepare('SELECT status FROM jobs WHERE id = ?').pluck().get(embedJob.id);
    afterKill.close();
    expect(storedBefore).toBeGreaterThanOrEqual(3);
    expect(storedBefore).toBeLessThan(16);
    expect(status).toBe('running');

    server = await startServer(join(dir, 'data'), ['--project', projectFile]);
    const finished = await waitFor(async () => {
      const jobs = await call<Job[]>(server!, 'jobs', 'list', {});
      return jobs.find((j) => j.id === embedJob.id && j.status === 'done');
    }, 120_000);
    expect(finished).toMatchObject({ done: 16, total: 16 });
    const info = await call<{ statusCounts: Record<string, number> }>(server, 'projects', 'current');
    expect(info.statusCounts.embedded).toBe(16);

    server.process.kill('SIGTERM');
    await server.exited;
    server = null;
    const final = new Database(projectFile);
    expect(final.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(final.prepare('SELECT count(*) FROM embeddings').pluck().get()).toBe(16);
    final.close();
  });
});
