/**
 * Switching a project's model: a real project file, real images, the built-in colour+position model and a second
 * real model (the same ONNX installed under another id, as a user would add it), real onnxruntime sessions in the
 * embedding worker, the real job runner across a close and a reopen, and the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../core/api/contract';
import type { ProjectModelState, ProjectModelUsage } from '../core/api/models-contract';
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
    const { studio, call } = await setUp(4);
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
