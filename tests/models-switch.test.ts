/**
 * Switching a project's model: a real project file, real images, the built-in colour+position model and a second
 * real model (the same ONNX installed under another id, as a user would add it), real onnxruntime sessions in the
 * embedding worker, the real job runner across a close and a reopen, and the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../core/api/contract';
import type { ModelDetails, ModelInstall, ProjectModelState, ProjectModelUsage } from '../core/api/models-contract';
import type { JobRecord } from '../core/api/records';
import { builtinModelsDir } from '../electron/paths';
import { createApiImplementation } from '../electron/services/api';
import { Studio } from '../electron/services/studio';
import { tempDir, writeImages } from './fixtures';

const base = 'pixelwise-colorpos';
const other = 'colorpos-copy';
let studios: Studio[] = [];

afterEach(async () => {
  for (const studio of studios) await studio.close();
  studios = [];
});

/** A model folder with the built-in colour+position ONNX under another id. */
function copyModel(dir: string, id: string): string {
  const folder = join(dir, id);
  cpSync(join(builtinModelsDir(), base), folder, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  writeFileSync(join(folder, 'model.json'), JSON.stringify({ ...manifest, id, name: 'Colour + position (copy)' }));
  return folder;
}

function open(dataDir: string) {
  const studio = new Studio({ dataDir, mode: 'cli' });
  studios.push(studio);
  const api = createApiImplementation(studio, null);
  const call = <T = unknown>(service: string, method: string, input: unknown = {}) => dispatch(api, service, method, input) as Promise<T>;
  return { studio, call };
}

async function drain(studio: Studio): Promise<void> {
  studio.runner.kick();
  await studio.runner.idle();
}

/** A project with `count` images embedded with the built-in model, and the copy installed. */
async function setUp(count: number) {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const { studio, call } = open(dataDir);
  await studio.registry.add(copyModel(dir, other));
  const images = await writeImages(join(dir, 'images'), count, 160, 120);
  const projectFile = join(dir, 'p.pixelwise');
  await call('projects', 'create', { path: projectFile });
  await call('images', 'import', { paths: images });
  await drain(studio);
  await call('embeddings', 'start', { modelId: base });
  await drain(studio);
  return { dir, dataDir, projectFile, images, studio, call };
}

const regionCount = (studio: Studio, modelId: string) =>
  studio.project.db.prepare('SELECT count(*) FROM region_sets WHERE model_id = ?').pluck().get(modelId) as number;

describe('switching a project to another model', () => {
  it('re-embeds every image while the old model stays in use, then switches, indexes, and removes old maps only on request', async () => {
    const { dir, projectFile, studio, call } = await setUp(4);
    expect((await call<ProjectModelState>('models', 'active')).activeModelId).toBe(base);

    const seenDuringSwitch: string[] = [];
    studio.runner.onChange = () => seenDuringSwitch.push(studio.modelId());
    const job = await call<JobRecord>('models', 'use', { modelId: other });
    expect(job).toMatchObject({ kind: 'embed', status: 'queued' });
    expect((await call<ProjectModelState>('models', 'active')).switching).toMatchObject({ modelId: other, jobId: job.id });
    // Asking again for the same model is the same job, not a second one.
    expect((await call<JobRecord>('models', 'use', { modelId: other })).id).toBe(job.id);
    await drain(studio);

    expect(seenDuringSwitch.length).toBeGreaterThan(4);
    // Until the last image was embedded and indexed the project worked with the old model.
    expect(new Set(seenDuringSwitch.slice(0, -1))).toEqual(new Set([base]));
    const [finished] = await call<JobRecord[]>('jobs', 'list', {});
    expect(finished).toMatchObject({ id: job.id, status: 'done', done: 4, total: 4, failed: 0 });
    const state = await call<ProjectModelState>('models', 'active');
    expect(state.activeModelId).toBe(other);
    expect(state.switching).toBeNull();
    expect(Object.fromEntries(state.stored.map((s) => [s.modelId, s.count]))).toEqual({ [base]: 4, [other]: 4 });
    expect(state.stored.every((s) => s.bytesPerImage > 0)).toBe(true);
    expect(regionCount(studio, other)).toBe(4);
    expect((await call<{ defaultModelId: string }>('system', 'runtime')).defaultModelId).toBe(other);

    const usage = await call<ProjectModelUsage[]>('models', 'usage');
    expect(usage[0]).toMatchObject({ open: true, activeModelId: other, embeddings: { [base]: 4, [other]: 4 } });

    await expect(call('models', 'removeEmbeddings', { modelId: other })).rejects.toThrow(/works with colorpos-copy; switch it to another model/);
    await expect(call('models', 'remove', { id: other })).rejects.toThrow(/open project works with colorpos-copy/);
    expect(await call('models', 'removeEmbeddings', { modelId: base })).toEqual({ removed: 4 });
    expect(regionCount(studio, base)).toBe(0);
    expect(studio.project.embeddings.countsByModel()).toEqual([{ modelId: other, count: 4 }]);
    expect(studio.project.db.pragma('integrity_check', { simple: true })).toBe('ok');

    // Another project open: the first is listed from its file (read-only) with the model it now works with.
    await call('projects', 'create', { path: join(dir, 'second.pixelwise') });
    const listed = await call<ProjectModelUsage[]>('models', 'usage');
    expect(listed.map((row) => [row.name, row.open])).toEqual([['second', true], ['p', false]]);
    expect(listed[1]).toMatchObject({ path: projectFile, activeModelId: other, embeddings: { [other]: 4 }, error: null });
  });

  it('survives a restart: the interrupted switch resumes where it stopped and completes; the old model is used meanwhile', async () => {
    const { dataDir, projectFile, studio, call } = await setUp(6);
    let closing: Promise<void> | null = null;
    studio.runner.onChange = (job) => {
      if (job.done >= 2 && !closing) closing = studio.closeProject();
    };
    await call('models', 'use', { modelId: other });
    studio.runner.kick();
    await studio.runner.idle().catch(() => undefined);
    await closing;
    await studio.close();
    studios = studios.filter((s) => s !== studio);

    const reopened = open(dataDir);
    await reopened.call('projects', 'open', { path: projectFile });
    const stored = reopened.studio.project.embeddings.stats(other).count;
    expect(stored).toBeGreaterThanOrEqual(2);
    expect(stored).toBeLessThan(6);
    const state = await reopened.call<ProjectModelState>('models', 'active');
    expect(state.activeModelId).toBe(base);
    expect(state.switching).toMatchObject({ modelId: other });
    const firstMaps = reopened.studio.project.db.prepare('SELECT image_id, created_at FROM embeddings WHERE model_id = ? ORDER BY image_id').all(other);

    await drain(reopened.studio);
    const [job] = await reopened.call<JobRecord[]>('jobs', 'list', {});
    expect(job).toMatchObject({ status: 'done', done: 6, total: 6 });
    expect((await reopened.call<ProjectModelState>('models', 'active')).activeModelId).toBe(other);
    // The maps stored before the restart were kept, not computed again.
    const after = reopened.studio.project.db.prepare('SELECT image_id, created_at FROM embeddings WHERE model_id = ? ORDER BY image_id').all(other);
    expect(after.slice(0, firstMaps.length)).toEqual(firstMaps);
    expect(regionCount(reopened.studio, other)).toBe(6);
  });

  it('keeps the old model when an image cannot be embedded with the new one, saying which model and why', async () => {
    const { studio, call, images } = await setUp(3);
    rmSync(images[1]);
    await call('models', 'use', { modelId: other });
    await drain(studio);
    const [job] = await call<JobRecord[]>('jobs', 'list', {});
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/1 image embedded with pixelwise-colorpos could not be embedded with colorpos-copy .*keeps using pixelwise-colorpos/);
    expect((await call<ProjectModelState>('models', 'active')).activeModelId).toBe(base);
    await expect(call('models', 'use', { modelId: 'no-such-model' })).rejects.toThrow(/no model "no-such-model" is installed/);
  });
});

describe('pixelwise models use and catalogue (the built CLI)', () => {
  const bin = resolve(__dirname, '..', 'bin', 'pixelwise.cjs');
  const pixelwise = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

  it('re-embeds a project with a model, switches it, removes the old maps with --remove-old; lists the catalogue', async () => {
    const { dataDir, projectFile, studio } = await setUp(2);
    await studio.close();
    studios = [];
    const used = pixelwise(['models', 'use', projectFile, other, '--remove-old', '--data-dir', dataDir]);
    expect(used.stderr).toMatch(/embed: 2\/2/);
    expect(used.status).toBe(0);
    expect(JSON.parse(used.stdout)).toMatchObject({ activeModelId: other, previousModelId: base, embedded: 2, removedEmbeddings: 2, stored: [{ modelId: other, count: 2 }] });
    expect(pixelwise(['models', 'use', projectFile, '--data-dir', dataDir]).status).toBe(2);

    const listed = JSON.parse(pixelwise(['models', 'catalogue', '--data-dir', dataDir]).stdout) as Array<{ id: string; commands: string[] }>;
    expect(listed.map((entry) => entry.id)).toEqual(['dinov2-vits14', 'dinov2-vitb14', 'sam-vit-b']);
    expect(listed.every((entry) => entry.commands.length === 2 && entry.commands[1].includes('models.pwtrain.backbones'))).toBe(true);
  });
});

describe('adding a model through the API (the Models view)', () => {
  it('tracks a download with progress, cancels it keeping its bytes, resumes it, and reports a bad checksum', async () => {
    const onnx = readFileSync(join(builtinModelsDir(), base, 'model.onnx'));
    const manifest = JSON.parse(readFileSync(join(builtinModelsDir(), base, 'model.json'), 'utf8'));
    const files: Record<string, Buffer> = {
      '/m/model.json': Buffer.from(JSON.stringify({ ...manifest, id: 'slow-colorpos' })), '/m/model.onnx': onnx,
      '/bad/model.json': Buffer.from(JSON.stringify({ ...manifest, id: 'bad-colorpos', sha256: 'a'.repeat(64) })), '/bad/model.onnx': onnx,
    };
    // 1 kB every 50 ms, honouring a Range request's start; the ONNX requests' Range headers are logged.
    const ranges: Array<string | null> = [];
    const server = createServer((request, response) => {
      const body = files[request.url ?? ''];
      if (request.url === '/m/model.onnx') ranges.push(request.headers.range ?? null);
      if (!body) return void response.writeHead(404).end();
      const start = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1] ?? 0);
      response.writeHead(start ? 206 : 200, { 'content-length': body.length - start, ...(start ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      let sent = start;
      const timer = setInterval(() => {
        response.write(body.subarray(sent, sent + 1024));
        sent += 1024;
        if (sent < body.length) return;
        clearInterval(timer);
        response.end();
      }, 50);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { call } = open(join(tempDir(), 'data'));
      const first = await call<ModelInstall>('models', 'add', { source: `${origin}/m/model.json` });
      expect(first).toMatchObject({ status: 'running', done: 0 });
      let seen: ModelInstall | undefined;
      for (let i = 0; i < 200 && !(seen && seen.done >= 4096); i++) {
        await new Promise((done) => setTimeout(done, 25));
        seen = (await call<ModelInstall[]>('models', 'installs')).find((install) => install.id === first.id);
      }
      expect(seen).toMatchObject({ status: 'running', total: onnx.length });
      await call('models', 'cancelInstall', { id: first.id });
      const cancelled = await waitForEnd(call, first.id);
      expect(cancelled).toMatchObject({ status: 'cancelled', error: null });
      expect((await call<ModelDetails[]>('models', 'list')).map((model) => model.id)).not.toContain('slow-colorpos');

      const again = await call<ModelInstall>('models', 'add', { source: `${origin}/m/model.json` });
      const done = await waitForEnd(call, again.id);
      expect(done).toMatchObject({ status: 'done', modelId: 'slow-colorpos', done: onnx.length, total: onnx.length });
      expect(ranges[0]).toBeNull();
      expect(Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThanOrEqual(4096);
      expect((await call<ModelDetails[]>('models', 'list')).find((model) => model.id === 'slow-colorpos')).toMatchObject({ available: true, builtin: false, source: `${origin}/m/model.json` });
      const builtinCard = (await call<ModelDetails[]>('models', 'list')).find((model) => model.id === base)!.card;
      expect(builtinCard).toContain('# ');

      const bad = await call<ModelInstall>('models', 'add', { source: `${origin}/bad/model.json` });
      expect(await waitForEnd(call, bad.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/sha256 is [0-9a-f]{64} but model\.json says a{64}/) });
      await expect(call('models', 'remove', { id: base })).rejects.toThrow(/built into the studio and cannot be removed/);
      await call('models', 'remove', { id: 'slow-colorpos' });
      expect((await call<ModelDetails[]>('models', 'list')).map((model) => model.id)).not.toContain('slow-colorpos');
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });
});

async function waitForEnd(call: ReturnType<typeof open>['call'], id: number): Promise<ModelInstall> {
  for (let i = 0; i < 400; i++) {
    const install = (await call<ModelInstall[]>('models', 'installs')).find((item) => item.id === id)!;
    if (install.status !== 'running') return install;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`install ${id} did not end`);
}
