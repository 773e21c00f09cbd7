/**
 * Audit F10: concurrent first requests for one image share one set-up (decode + createSegmenter) instead of each
 * building its own. Real project, real embedding; createSegmenter is wrapped by a pass-through spy that only
 * counts calls.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as engine from '../../core/engine';
import { dispatch } from '../../core/api/contract';
import { tempDir, writeImages } from '../../tests/fixtures';
import { createApiImplementation } from './api';
import { Studio } from './studio';

vi.mock('../../core/engine', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../core/engine')>();
  return { ...real, createSegmenter: vi.fn(real.createSegmenter) };
});

let studio: Studio | null = null;
afterEach(async () => {
  await studio?.close();
  studio = null;
});

describe('segment service', () => {
  it('builds one segmenter for concurrent cold requests on one image, and all get the same mask', async () => {
    const dir = tempDir();
    studio = new Studio({ dataDir: join(dir, 'data'), mode: 'cli' });
    await writeImages(join(dir, 'images'), 1, 320, 240);
    await studio.openProject(join(dir, 'p.pixelwise'), true);
    studio.runner.enqueue('import', { paths: [join(dir, 'images')] }, 0);
    await studio.runner.idle();
    studio.enqueueEmbed(null);
    studio.runner.kick();
    await studio.runner.idle();

    const api = createApiImplementation(studio, null);
    const build = vi.mocked(engine.createSegmenter);
    build.mockClear();
    const replies = await Promise.all(Array.from({ length: 8 }, () =>
      dispatch(api, 'segment', 'clicks', { image: 1, clicks: [[160, 120, 1]] }) as Promise<{ rle: { counts: string } }>));
    expect(build).toHaveBeenCalledTimes(1);
    expect(new Set(replies.map((reply) => reply.rle.counts)).size).toBe(1);

    // Warm: no set-up at all.
    await dispatch(api, 'segment', 'clicks', { image: 1, clicks: [[10, 10, 1]] });
    expect(build).toHaveBeenCalledTimes(1);
  });
});
