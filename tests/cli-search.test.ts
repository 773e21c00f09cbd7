/**
 * `pixelwise search` through the built bin: "find more of a class" learned from its annotations, and judgements on
 * the command line, which must act exactly as the studio's accept / reject (one search.feedback call).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../core/api/contract';
import type { SearchResult } from '../core/api/search-contract';
import { encodeRle } from '../core/rle';
import { createApiImplementation } from '../electron/services/api';
import { Studio } from '../electron/services/studio';
import { tempDir, writeImages } from './fixtures';

const bin = resolve(__dirname, '..', 'bin', 'pixelwise.cjs');

function pixelwise(dataDir: string, args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--data-dir', dataDir], {
    encoding: 'utf8', env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu' }, timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A box mask on a width x height image. */
function box(width: number, height: number, [x0, y0, x1, y1]: [number, number, number, number]) {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) data.fill(1, y * width + x0, y * width + x1);
  return encodeRle({ width, height, data });
}

const summary = (result: SearchResult) => result.hits.map((hit) => [hit.imageId, Number(hit.score.toFixed(5)), hit.judgement]);

describe('pixelwise search', () => {
  it('finds more of a class from its annotations, and judges hits as the studio does', async () => {
    const dir = tempDir();
    const data = join(dir, 'data'), project = join(dir, 'p.pixelwise');
    await writeImages(join(dir, 'images'), 8, 200, 150);
    expect(pixelwise(data, ['import', project, join(dir, 'images')]).code).toBe(0);
    expect(pixelwise(data, ['embed', project]).code).toBe(0);

    // Two annotated objects of class "thing" (images 1 and 2), written the way the studio writes them.
    const studio = new Studio({ dataDir: data, mode: 'cli' });
    await studio.openProject(project, false);
    const classId = studio.project.classes.create('thing').id;
    const mask = box(200, 150, [60, 40, 140, 110]);
    studio.project.transaction(() => {
      for (const imageId of [1, 2]) studio.project.annotations.add(imageId, { classId, rle: mask });
    });
    await studio.close();

    const found = pixelwise(data, ['search', project, '--class', 'thing', '--top', '5']);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
    const byClass = JSON.parse(found.stdout) as SearchResult;
    expect(byClass.hits).toHaveLength(5);
    for (const hit of byClass.hits) {
      expect(hit).toMatchObject({ imageId: expect.any(Number), score: expect.any(Number), bbox: expect.any(Array), judgement: null });
      expect(hit.grid.size).toHaveLength(2);
    }

    // Judgements on the command line = query + one feedback call, as the studio's accept / reject buttons make.
    writeFileSync(join(dir, 'mask.json'), JSON.stringify(mask));
    const [accept, reject] = [byClass.hits[0].imageId, byClass.hits[1].imageId];
    const judged = pixelwise(data, ['search', project, '--image', '3', '--mask', join(dir, 'mask.json'), '--accept', String(accept), '--reject', String(reject), '--top', '8']);
    expect(judged.code).toBe(0);
    const cli = JSON.parse(judged.stdout) as SearchResult;
    expect(cli.hits.find((hit) => hit.imageId === accept)?.judgement).toBe('accepted');
    expect(cli.hits.find((hit) => hit.imageId === reject)?.judgement).toBe('rejected');
    const inProcess = new Studio({ dataDir: data, mode: 'cli' });
    await inProcess.openProject(project, false);
    try {
      const api = createApiImplementation(inProcess, null);
      const first = (await dispatch(api, 'search', 'query', { examples: [{ imageId: 3, rle: mask }], limit: 8 })) as SearchResult;
      const studioResult = (await dispatch(api, 'search', 'feedback', { sessionId: first.sessionId, accepted: [accept], rejected: [reject], limit: 8 })) as SearchResult;
      expect(summary(cli)).toEqual(summary(studioResult));
      // The class query in the studio gives what the CLI printed.
      const studioClass = (await dispatch(api, 'search', 'query', { classId, limit: 5 })) as SearchResult;
      expect(summary(byClass)).toEqual(summary(studioClass));
    } finally {
      await inProcess.close();
    }
  });

  it('explains bad class searches in words', async () => {
    const dir = tempDir();
    const data = join(dir, 'data'), project = join(dir, 'p.pixelwise');
    await writeImages(join(dir, 'images'), 2, 64, 48);
    expect(pixelwise(data, ['import', project, join(dir, 'images')]).code).toBe(0);
    const unknown = pixelwise(data, ['search', project, '--class', 'dog']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'pixelwise: no class named "dog" in this project (classes: none)']);
    const both = pixelwise(data, ['search', project, '--class', 'dog', '--image', '1', '--mask', 'm.json']);
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([2, 'search takes either --class or --image with --mask, not both']);
    const badIds = pixelwise(data, ['search', project, '--class', 'dog', '--accept', '1,x']);
    expect([badIds.code, badIds.stderr.split('\n')[0]]).toEqual([2, '--accept takes a positive whole number, not "x"']);

    const studio = new Studio({ dataDir: data, mode: 'cli' });
    await studio.openProject(project, false);
    studio.project.classes.create('empty');
    await studio.close();
    const empty = pixelwise(data, ['search', project, '--class', 'empty']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/class "empty" has no annotated objects on embedded images yet: annotate one first/);
  });
});
