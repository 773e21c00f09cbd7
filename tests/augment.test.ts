/**
 * Augment end to end without a browser: a generated project (real SQLite file, real embeddings from the built-in
 * ONNX model), the augment job with the shipped ONNX decoder, cancel, undo and the COCO export's synthetic flag.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../core/api/contract';
import type { ImageRecord, JobRecord } from '../core/api/records';
import { createMask } from '../core/mask';
import { encodeRle } from '../core/rle';
import { resolveStoredPath } from '../db/images';
import { decodeImageFile } from '../electron/embedding/image-io';
import { readImageFile } from '../electron/jobs/import-job';
import { createApiImplementation } from '../electron/services/api';
import { Studio } from '../electron/services/studio';
import { tempDir, writeImages } from './fixtures';

let studio: Studio | null = null;
afterEach(async () => {
  await studio?.close();
  studio = null;
});

function box(width: number, height: number, x0: number, y0: number, x1: number, y1: number) {
  const mask = createMask(width, height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask.data[y * width + x] = 1;
  return mask;
}

/** A project of three embedded 320x240 scenes: two objects on the first, one on the second, none on the third. */
async function annotatedProject() {
  const dir = tempDir();
  studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  const api = createApiImplementation(studio, null);
  const call = <T = any>(service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<T>;
  await writeImages(join(dir, 'images'), 3);
  await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
  await call('images', 'import', { paths: [join(dir, 'images')] });
  await call('embeddings', 'start', {});
  studio.runner.kick();
  await studio.runner.idle();
  const images = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items;
  const cls = await call<{ id: number }>('classes', 'create', { name: 'thing' });
  await call('annotations', 'add', {
    items: [
      { imageId: images[0].id, classId: cls.id, rle: encodeRle(box(320, 240, 20, 30, 140, 200)) },
      { imageId: images[0].id, classId: cls.id, rle: encodeRle(box(320, 240, 180, 40, 300, 180)) },
      { imageId: images[1].id, classId: null, rle: encodeRle(box(320, 240, 60, 60, 260, 200)) },
    ],
  });
  return { dir, studio: studio!, call, images };
}

async function run(s: Studio, job: JobRecord): Promise<JobRecord> {
  s.runner.kick();
  await s.runner.idle();
  return s.runner.list(false).find((j) => j.id === job.id)!;
}

describe('augment job', () => {
  it('writes synthetic variants that carry their source objects, change pixels only inside them, and can be undone', async () => {
    const { dir, studio: s, call, images } = await annotatedProject();
    const job = await call<JobRecord>('augment', 'start', { imageIds: [images[0].id, images[1].id, images[2].id], variants: 2, edit: 'swap', strength: 1, seed: 7 });
    const finished = await run(s, job);
    expect(finished).toMatchObject({ status: 'done', total: 6, done: 4, failed: 2 });
    const result = finished.result as { created: number; imageIds: number[]; skipped: Array<{ imageId: number; reason: string }> };
    expect(result.created).toBe(4);
    expect(result.skipped).toEqual([{ imageId: images[2].id, reason: 'the image has no objects to edit' }]);

    const all = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items;
    const variants = all.filter((image) => image.synthetic);
    expect(variants.map((v) => v.id)).toEqual(result.imageIds);
    expect(variants.map((v) => v.sourceImageId)).toEqual([images[0].id, images[0].id, images[1].id, images[1].id]);
    expect(all.filter((image) => !image.synthetic).every((image) => image.sourceImageId === null)).toBe(true);
    // The follow-up embedding job ran: variants are searchable and clickable like any image.
    expect(variants.every((v) => v.status === 'annotated' && s.project.embeddings.has(v.id, s.modelId()))).toBe(true);

    for (const variant of variants) {
      const source = images.find((image) => image.id === variant.sourceImageId)!;
      const objects = await call<Array<{ rle: unknown; classId: number | null }>>('annotations', 'list', { imageId: variant.id });
      const original = await call<Array<{ rle: unknown; classId: number | null }>>('annotations', 'list', { imageId: source.id });
      expect(objects.map((o) => [o.rle, o.classId])).toEqual(original.map((o) => [o.rle, o.classId]));
      const [before, after] = await Promise.all([source, variant].map((image) => decodeImageFile(resolveStoredPath(dir, image.path))));
      expect(after.width).toBe(320);
      let changedInside = 0, changedOutside = 0;
      const inside = source.id === images[0].id
        ? (x: number, y: number) => (x >= 20 && x < 140 && y >= 30 && y < 200) || (x >= 180 && x < 300 && y >= 40 && y < 180)
        : (x: number, y: number) => x >= 60 && x < 260 && y >= 60 && y < 200;
      for (let y = 0; y < 240; y++) {
        for (let x = 0; x < 320; x++) {
          const i = (y * 320 + x) * 3;
          const differs = Math.abs(before.data[i] - after.data[i]) + Math.abs(before.data[i + 1] - after.data[i + 1]) + Math.abs(before.data[i + 2] - after.data[i + 2]) > 0;
          if (inside(x, y)) changedInside += differs ? 1 : 0;
          else changedOutside += differs ? 1 : 0;
        }
      }
      expect(changedOutside).toBe(0);
      expect(changedInside).toBeGreaterThan(1000);
    }
    // Different seeds of variants differ from each other.
    expect(new Set(variants.map((v) => v.hash)).size).toBe(4);

    // COCO export keeps the flag and the link.
    const exported = await call<JobRecord>('datasets', 'export', { format: 'coco', target: join(dir, 'coco') });
    expect((await run(s, exported)).status).toBe('done');
    const coco = JSON.parse(readFileSync(join(dir, 'coco', 'annotations.json'), 'utf8'));
    const synthetic = coco.images.filter((image: any) => image.synthetic === true);
    expect(synthetic).toHaveLength(4);
    expect(synthetic.every((image: any) => coco.images.some((other: any) => other.id === image.source_image_id))).toBe(true);

    // Formats without a field for it get synthetic.json beside the data.
    const yolo = await call<JobRecord>('datasets', 'export', { format: 'yolo', target: join(dir, 'yolo') });
    expect((await run(s, yolo)).status).toBe('done');
    const manifest = JSON.parse(readFileSync(join(dir, 'yolo', 'synthetic.json'), 'utf8')) as { synthetic: Array<{ image: string; source: string | null }> };
    expect(manifest.synthetic).toHaveLength(4);
    expect(manifest.synthetic.every((entry) => /-swap-job\d+-\d\.png$/.test(entry.image) && /^scene-000[01]\.(jpg|png)$/.test(entry.source ?? ''))).toBe(true);

    const undo = await call<{ removed: number }>('augment', 'undo', { jobId: job.id });
    expect(undo.removed).toBe(4);
    expect((await call<{ total: number }>('images', 'list', {})).total).toBe(3);
    expect(readdirSync(join(dir, 'augmented'))).toEqual([]);
    await expect(call('augment', 'undo', { jobId: 999 })).rejects.toThrow(/no augment job 999/);
  });

  it('sources with one file name (from two folders) get variants of their own, not each other\'s file', async () => {
    const dir = tempDir();
    studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
    const api = createApiImplementation(studio, null);
    const call = <T = any>(service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<T>;
    await writeImages(join(dir, 'day'), 1, 320, 240, 1000);
    await writeImages(join(dir, 'night'), 1, 320, 240, 2000);
    await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    await call('images', 'import', { paths: [join(dir, 'day'), join(dir, 'night')] });
    await call('embeddings', 'start', {});
    studio.runner.kick();
    await studio.runner.idle();
    const images = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items;
    expect(images.map((image) => image.fileName)).toEqual(['scene-0000.jpg', 'scene-0000.jpg']);
    await call('annotations', 'add', { items: images.map((image) => ({ imageId: image.id, classId: null, rle: encodeRle(box(320, 240, 40, 40, 200, 180)) })) });
    const job = await call<JobRecord>('augment', 'start', { imageIds: images.map((image) => image.id), variants: 1, edit: 'jitter', strength: 1, seed: 5 });
    expect(await run(studio, job)).toMatchObject({ status: 'done', done: 2, failed: 0 });
    const variants = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items.filter((image) => image.synthetic);
    expect(new Set(variants.map((variant) => variant.path)).size).toBe(2);
    // Each row's file holds its own pixels: the hash stored with the row is the file's.
    for (const variant of variants) {
      const stored = await readImageFile(resolveStoredPath(dir, variant.path));
      expect(stored.hash).toBe(variant.hash);
    }
  });

  it('cancel leaves only whole variants: every row has its file and its objects, no file without a row', async () => {
    const { dir, studio: s, call, images } = await annotatedProject();
    const job = await call<JobRecord>('augment', 'start', { imageIds: [images[0].id], variants: 8, edit: 'jitter', strength: 1, seed: 3 });
    s.runner.onChange = (record) => {
      if (record.id === job.id && record.done >= 2) s.runner.cancel(job.id);
    };
    const finished = await run(s, job);
    expect(finished.status).toBe('cancelled');
    const variants = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items.filter((image) => image.synthetic);
    expect(variants.length).toBeGreaterThanOrEqual(2);
    expect(variants.length).toBeLessThan(8);
    expect(variants.length).toBe(finished.done);
    for (const variant of variants) {
      expect(existsSync(resolveStoredPath(dir, variant.path))).toBe(true);
      expect(variant.annotationCount).toBe(2);
    }
    expect(readdirSync(join(dir, 'augmented')).sort()).toEqual(variants.map((v) => v.fileName).sort());
    expect(s.project.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('a job killed with its process resumes on the next open: every variant once and whole, no stray file, the same pixels', async () => {
    const { dir, studio: s, images } = await annotatedProject();
    const dataDir = join(dir, 'data'), projectFile = join(dir, 'p.pixelwise');
    await s.close();
    studio = null;
    const request = { imageIds: [images[0].id, images[1].id], variants: 10, edit: 'jitter', strength: 1, seed: 11 } as const;
    const child = spawn(process.execPath, [resolve(__dirname, '..', 'bin', 'pixelwise.cjs'), 'augment', projectFile, '--images', request.imageIds.join(','),
      '--variants', String(request.variants), '--edit', request.edit, '--strength', String(request.strength), '--seed', String(request.seed), '--data-dir', dataDir],
    { env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu' }, stdio: 'ignore' });
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    const folder = join(dir, 'augmented');
    const made = () => (existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith('.png')).length : 0);
    const deadline = Date.now() + 120_000;
    while (made() < 3 && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 20));
    child.kill('SIGKILL');
    await exited;
    // What the kill left, read from the file before any studio opens it (opening resumes the job).
    const file = new Database(projectFile, { readonly: true });
    const killed = file.prepare('SELECT id, hash FROM images WHERE augment_job_id IS NOT NULL ORDER BY id').all() as Array<{ id: number; hash: string }>;
    const job = file.prepare(`SELECT id, status FROM jobs WHERE kind = 'augment'`).get() as { id: number; status: string };
    file.close();
    expect(job.status).toBe('running');
    expect(killed.length).toBeGreaterThanOrEqual(2);
    expect(killed.length).toBeLessThan(20); // the kill landed mid-job, not after it
    // What a kill in the middle of writing a variant leaves: a half-written file of this job without its row.
    writeFileSync(join(folder, `scene-0000-jitter-job${job.id}-10.png.partial`), 'half a png');

    studio = new Studio({ dataDir, mode: 'cli' });
    const api = createApiImplementation(studio, null);
    const call = <T = any>(service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<T>;
    await call('projects', 'open', { path: projectFile });
    const resumed = await run(studio, (await call<JobRecord[]>('jobs', 'list', {})).find((record) => record.id === job.id)!);
    expect(resumed).toMatchObject({ status: 'done', total: 20, done: 20, failed: 0 });
    const result = resumed.result as { created: number; imageIds: number[]; skipped: unknown[] };
    expect(result).toMatchObject({ created: 20, skipped: [] });
    const variants = (await call<{ items: ImageRecord[] }>('images', 'list', {})).items.filter((image) => image.synthetic);
    expect(variants.map((v) => v.id).sort((a, b) => a - b)).toEqual([...result.imageIds].sort((a, b) => a - b));
    // The rows made before the kill are kept as they were, not made again.
    expect(variants.slice(0, killed.length).map((v) => ({ id: v.id, hash: v.hash }))).toEqual(killed);
    for (const [source, objects] of [[images[0], 2], [images[1], 1]] as const) {
      const own = variants.filter((v) => v.sourceImageId === source.id);
      expect(own.map((v) => Number(/-(\d+)\.png$/.exec(v.fileName)![1])).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
      expect(own.every((v) => v.annotationCount === objects)).toBe(true);
    }
    expect(readdirSync(folder).sort()).toEqual(variants.map((v) => v.fileName).sort());
    expect(studio.project.db.pragma('integrity_check', { simple: true })).toBe('ok');

    // The same request run without a kill, in a second project from the same scenes, gives the same pixels.
    const hashes = variants.map((v) => v.hash).sort();
    await studio.close();
    studio = null;
    const fresh = await annotatedProject();
    const whole = await run(fresh.studio, await fresh.call<JobRecord>('augment', 'start', request));
    expect(whole.status).toBe('done');
    const expected = (await fresh.call<{ items: ImageRecord[] }>('images', 'list', {})).items.filter((image) => image.synthetic).map((v) => v.hash).sort();
    expect(hashes).toEqual(expected);
    expect(new Set(hashes).size).toBe(20);
  });

  it('runs from the command line: pixelwise augment <project> --images --variants --edit --strength', async () => {
    const { dir, studio: s, images } = await annotatedProject();
    await s.close();
    studio = null;
    const cli = (...args: string[]) => spawnSync(process.execPath, [resolve(__dirname, '..', 'bin', 'pixelwise.cjs'), ...args, '--data-dir', join(dir, 'data')], {
      encoding: 'utf8', env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu' }, timeout: 120_000,
    });
    const project = join(dir, 'p.pixelwise');
    const made = cli('augment', project, '--images', `${images[0].id},${images[1].id}`, '--variants', '2', '--edit', 'interpolate', '--strength', '0.8', '--seed', '5');
    expect(made.status).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ status: 'done', created: 4, skipped: [] });
    const bad = cli('augment', project, '--images', '1', '--edit', 'melt');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--edit takes jitter, swap, interpolate, not "melt"/);
    const strength = cli('augment', project, '--images', '1', '--strength', 'x');
    expect(strength.status).toBe(2);
    expect(strength.stderr).toMatch(/--strength takes a number from 0 to 2/);
  });

  it('refuses bad requests in words before queuing anything', async () => {
    const { call, images } = await annotatedProject();
    await expect(call('augment', 'start', { imageIds: [images[0].id], variants: 0 })).rejects.toThrow(/variants/);
    await expect(call('augment', 'start', { imageIds: [images[0].id], edit: 'melt' })).rejects.toThrow(/edit/);
    await expect(call('augment', 'start', { imageIds: [images[0].id], strength: 5 })).rejects.toThrow(/strength/);
  });
});
