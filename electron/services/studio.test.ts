/** The main side end to end without a browser: real project file, real sharp decoding, real onnxruntime session. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../core/api/contract';
import { decodeRle, encodeRle } from '../../core/rle';
import { maskArea } from '../../core/mask';
import { tempDir, writeBadImages, writeImages } from '../../tests/fixtures';
import { blobPaths, parseBlobPath } from '../../core/api/blobs';
import { createApiImplementation } from './api';
import { readBlob } from './blobs';
import { Studio } from './studio';

let studio: Studio | null = null;
afterEach(async () => {
  await studio?.close();
  studio = null;
});

async function openStudio() {
  const dir = tempDir();
  studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
  const api = createApiImplementation(studio, null);
  const call = (service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<any>;
  return { dir, studio, call };
}

describe('studio services', () => {
  it('imports a folder recursively, lists bad files as failed with a reason, and embeds the rest', async () => {
    const { dir, studio, call } = await openStudio();
    const images = join(dir, 'images');
    await writeImages(join(images, 'nested'), 3);
    await writeImages(images, 2, 320, 240, 2000);
    await writeBadImages(images);
    await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    await call('images', 'import', { paths: [images] });
    studio.runner.kick();
    await studio.runner.idle();

    const all = await call('images', 'list', {});
    expect(all.total).toBe(7);
    const failed = await call('images', 'list', { status: 'failed' });
    expect(failed.items.map((i: any) => i.fileName).sort()).toEqual(['notes.jpg', 'truncated.jpg']);
    const reasons = Object.fromEntries(failed.items.map((i: any) => [i.fileName, i.error]));
    expect(reasons['notes.jpg']).toMatch(/not an image/);
    expect(reasons['truncated.jpg']).toMatch(/truncated/);
    const fresh = await call('images', 'list', { status: 'new' });
    expect(fresh.items[0]).toMatchObject({ width: 320, height: 240 });
    expect(fresh.items[0].path).toMatch(/^images\//); // relative to the project folder

    const job = await call('embeddings', 'start', {});
    studio.runner.kick();
    await studio.runner.idle();
    const [finished] = await call('jobs', 'list', {});
    expect(finished).toMatchObject({ id: job.id, status: 'done', done: 5, total: 5, failed: 0 });
    const info = await call('projects', 'current');
    expect(info.statusCounts).toMatchObject({ embedded: 5, failed: 2, new: 0 });
    expect((await call('system', 'runtime')).provider).toBe('cpu');
    expect(studio.project.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('names blobs by content, so a reused image id never serves the old image under its old link', async () => {
    const { dir, studio, call } = await openStudio();
    const [first, second] = await writeImages(join(dir, 'images'), 2, 320, 240);
    const [other] = await writeImages(join(dir, 'other'), 1, 200, 100, 3000);
    await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    const importFiles = async (paths: string[]) => {
      await call('images', 'import', { paths });
      studio.runner.kick();
      await studio.runner.idle();
    };
    const byId = async () => (await call('images', 'list', {})).items.sort((a: any, b: any) => a.id - b.id);
    await importFiles([first, second]);
    const [, newest] = await byId();
    const oldLink = parseBlobPath(blobPaths.thumbnail(newest.id, newest.hash))!;
    expect(oldLink).toEqual({ kind: 'thumbnail', id: newest.id, version: newest.hash, modelId: null });
    expect((await readBlob(studio, oldLink)).contentType).toBe('image/jpeg');

    // SQLite hands the removed newest image's id to the next import.
    await call('images', 'remove', { ids: [newest.id] });
    await importFiles([other]);
    const reused = (await byId()).at(-1);
    expect([reused.id, reused.width]).toEqual([newest.id, 200]);
    expect(reused.hash).not.toBe(newest.hash);
    for (const kind of ['image', 'thumbnail'] as const) {
      await expect(readBlob(studio, parseBlobPath(blobPaths[kind](reused.id, newest.hash))!)).rejects.toMatchObject({ code: 'not-found' });
      expect((await readBlob(studio, parseBlobPath(blobPaths[kind](reused.id, reused.hash))!)).body.length).toBeGreaterThan(0);
    }
    const embedding = parseBlobPath(blobPaths.embedding(reused.id, newest.hash, 'pixelwise-colorpos'))!;
    expect(embedding).toMatchObject({ kind: 'embedding', version: newest.hash, modelId: 'pixelwise-colorpos' });
    await expect(readBlob(studio, embedding)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('ends dataset jobs a stopped studio left behind as failed, and resumes image jobs', async () => {
    const { dir, studio, call } = await openStudio();
    const path = join(dir, 'p.pixelwise');
    await call('projects', 'create', { path });
    const left = studio.project.jobs.create('dataset-export', { format: 'coco', out: join(dir, 'half') }, 3);
    studio.project.jobs.start(left.id);
    const embed = studio.project.jobs.create('embed', { imageIds: [], modelId: 'pixelwise-colorpos' }, 0);
    await call('projects', 'open', { path });
    studio.runner.kick();
    await studio.runner.idle();
    const jobs = await call('jobs', 'list', {});
    expect(jobs.find((job: any) => job.id === left.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^interrupted: .*partial export/) });
    expect(jobs.find((job: any) => job.id === embed.id).status).toBe('done');
  });

  it('segments from clicks on the stored embedding and saves the object', async () => {
    const { dir, studio, call } = await openStudio();
    await writeImages(join(dir, 'images'), 1, 400, 300);
    await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    await call('images', 'import', { paths: [join(dir, 'images')] });
    await call('embeddings', 'start', {});
    studio.runner.kick();
    await studio.runner.idle();

    const result = await call('segment', 'clicks', { image: 1, clicks: [[200, 150, 1]] });
    expect(result.rle.size).toEqual([300, 400]);
    const area = maskArea(decodeRle(result.rle));
    expect(area).toBeGreaterThan(0);
    expect(area).toBeLessThan(400 * 300);
    await expect(call('segment', 'clicks', { image: 1, clicks: [[1, 2, 5]] })).rejects.toThrow(/clicks/);

    const { id: classId } = await call('classes', 'create', { name: 'thing' });
    const saved = await call('annotations', 'save', { imageId: 1, annotations: [{ classId, rle: result.rle, score: result.score }] });
    expect(saved[0]).toMatchObject({ classId, area });
    expect((await call('images', 'get', { id: 1 })).status).toBe('annotated');
    await call('annotations', 'save', { imageId: 1, annotations: [] });
    expect((await call('images', 'get', { id: 1 })).status).toBe('embedded');
    // A mask of the wrong size is bad input (HTTP 400 in web mode), not a fault, and changes nothing.
    const wrongSize = encodeRle({ width: 8, height: 6, data: new Uint8Array(48).fill(1) });
    await expect(call('annotations', 'save', { imageId: 1, annotations: [{ classId, rle: wrongSize }] }))
      .rejects.toMatchObject({ code: 'invalid-annotation', message: 'mask is 8x6 but image 1 is 400x300' });
    expect(await call('annotations', 'list', { imageId: 1 })).toEqual([]);
  });

  it('rejects invalid payloads before they reach the project', async () => {
    const { dir, call } = await openStudio();
    await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    await expect(call('classes', 'create', { name: '' })).rejects.toThrow(/name/);
    await expect(call('classes', 'create', { name: 'x', color: 'red' })).rejects.toThrow(/color/);
    await expect(call('images', 'list', { limit: 10_000 })).rejects.toThrow(/limit/);
    await expect(call('nothing', 'here')).rejects.toThrow(/no method/);
    expect(await call('classes', 'list')).toEqual([]);
  });

  it('opens a project even when the recent-projects list cannot be written', async () => {
    const { dir, studio, call } = await openStudio();
    mkdirSync(join(dir, 'data', 'recent.json')); // a folder where the list goes: every write of it fails (EISDIR)
    const info = await call('projects', 'create', { path: join(dir, 'p.pixelwise') });
    expect(info).toMatchObject({ name: 'p' });
    expect(studio.current?.path).toBe(join(dir, 'p.pixelwise'));
    expect(await call('projects', 'recent')).toEqual([]);
  });
});
