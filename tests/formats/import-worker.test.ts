/**
 * Dataset import reads in a worker thread: while the real web server (out/web.cjs, built by `npm run build`) reads
 * a COCO file that costs seconds of CPU, `projects.current` keeps answering in milliseconds. On the main thread a
 * 9 KB file held such a request for 23.6 s (audit F4).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerProcess, startServer } from '../e2e/harness';
import { blankPng, zigzag } from './bomb-files';
import { tempDir } from './fixture';

let server: ServerProcess | null = null;
let work: ReturnType<typeof tempDir> | null = null;
afterEach(() => {
  server?.process.kill('SIGKILL');
  server = null;
  work?.cleanup();
  work = null;
});

async function call<T>(origin: string, token: string, service: string, method: string, input: unknown = {}): Promise<T> {
  const response = await fetch(`${origin}/api/${service}/${method}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(input),
  });
  const body = (await response.json()) as { ok: boolean; result: T; error?: { message: string } };
  if (!body.ok) throw new Error(body.error?.message);
  return body.result;
}

type Job = { id: number; status: string; error: string | null };

describe('dataset import off the main thread', () => {
  it('projects.current answers within 500 ms while the server reads a costly COCO file', async () => {
    work = tempDir('pixelwise-import-worker-');
    mkdirSync(join(work.dir, 'images'));
    writeFileSync(join(work.dir, 'images', 'img000.png'), blankPng(10000, 10000));
    // 15 million column crossings to draw (seconds), then a second object over the 20 million budget: refused.
    const annotations = [zigzag(1500, 9999), zigzag(600, 9999)].map((ring, i) => ({ id: i + 1, image_id: 1, category_id: 1, segmentation: [ring], iscrowd: 0 }));
    writeFileSync(join(work.dir, 'annotations.json'), JSON.stringify({
      images: [{ id: 1, file_name: 'img000.png', width: 10000, height: 10000 }], categories: [{ id: 1, name: 'a' }], annotations,
    }));
    server = await startServer(join(work.dir, 'data'));
    const token = server.token;
    await call(server.origin, token, 'projects', 'create', { path: join(work.dir, 'p.pixelwise') });

    const started = performance.now();
    const job = await call<Job>(server.origin, token, 'datasets', 'import', { format: 'coco', path: join(work.dir, 'annotations.json') });
    const latencies: number[] = [];
    let finished: Job | undefined;
    while (!finished && performance.now() - started < 60_000) {
      const asked = performance.now();
      await call(server.origin, token, 'projects', 'current');
      latencies.push(performance.now() - asked);
      finished = (await call<Job[]>(server.origin, token, 'jobs', 'list', {})).find((j) => j.id === job.id && (j.status === 'done' || j.status === 'failed'));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const summary = `import ${((performance.now() - started) / 1000).toFixed(1)} s, ${latencies.length} requests, slowest ${Math.max(...latencies).toFixed(0)} ms`;
    if (process.env.BOMBS_VERBOSE) console.log(summary);
    expect(finished?.status, summary).toBe('failed');
    expect(finished?.error, summary).toMatch(/annotations\.json: object outlines are too long/);
    expect(latencies.length, summary).toBeGreaterThan(5); // the import took a while: the requests were answered during it
    expect(Math.max(...latencies), summary).toBeLessThan(500);
  });

  it('a cancelled import stops reading at once and writes nothing', async () => {
    work = tempDir('pixelwise-import-worker-');
    mkdirSync(join(work.dir, 'images'));
    writeFileSync(join(work.dir, 'images', 'img000.png'), blankPng(10000, 10000));
    // An honest object that costs seconds to draw: 15 million column crossings, under the budget.
    writeFileSync(join(work.dir, 'annotations.json'), JSON.stringify({
      images: [{ id: 1, file_name: 'img000.png', width: 10000, height: 10000 }], categories: [{ id: 1, name: 'a' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, segmentation: [zigzag(1500, 9999)], iscrowd: 0 }],
    }));
    server = await startServer(join(work.dir, 'data'));
    const token = server.token;
    await call(server.origin, token, 'projects', 'create', { path: join(work.dir, 'p.pixelwise') });
    const job = await call<Job>(server.origin, token, 'datasets', 'import', { format: 'coco', path: join(work.dir, 'annotations.json') });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cancelledAt = performance.now();
    await call(server.origin, token, 'jobs', 'cancel', { id: job.id });
    let finished: Job | undefined;
    while (!finished && performance.now() - cancelledAt < 60_000) {
      finished = (await call<Job[]>(server.origin, token, 'jobs', 'list', {})).find((j) => j.id === job.id && ['done', 'failed', 'cancelled'].includes(j.status));
      if (!finished) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - cancelledAt) / 1000;
    expect(finished?.status).toBe('cancelled');
    // Before, the import read on, wrote the image and the object, and was then reported as cancelled.
    const info = await call<{ annotationCount: number; imageCount: number }>(server.origin, token, 'projects', 'current');
    expect(info).toMatchObject({ annotationCount: 0, imageCount: 0 });
    expect(seconds).toBeLessThan(1);
  });
});
