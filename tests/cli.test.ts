/** The `pixelwise` command as users and scripts run it: the built bin, a real project file, real stdin/stdout. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, linkSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRle } from '../core/rle';
import { maskArea } from '../core/mask';
import { tempDir, writeBadImages, writeImages } from './fixtures';
import { Studio } from '../electron/services/studio';

const bin = resolve(__dirname, '..', 'bin', 'pixelwise.cjs');

function pixelwise(dataDir: string, args: string[], input?: string, cwd?: string) {
  const result = spawnSync(process.execPath, [bin, ...args, '--data-dir', dataDir], {
    input, cwd, encoding: 'utf8', env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu' }, timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('pixelwise CLI', () => {
  it('imports, embeds, segments over JSON lines, exports and re-imports COCO', async () => {
    const dir = tempDir();
    const data = join(dir, 'data'), project = join(dir, 'p.pixelwise');
    await writeImages(join(dir, 'images'), 3, 400, 300);
    await writeBadImages(join(dir, 'images'));

    const imported = pixelwise(data, ['import', project, join(dir, 'images')]);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ imported: 3, failed: 2 });
    expect(imported.stderr).toMatch(/failed: images\/notes\.jpg: not an image/);
    const again = pixelwise(data, ['import', project, join(dir, 'images')]);
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, skipped: 3, failed: 2 });

    const embedded = pixelwise(data, ['embed', project]);
    expect(embedded.code).toBe(0);
    expect(JSON.parse(embedded.stdout)).toMatchObject({ embedded: 3, failed: 0, provider: 'cpu' });
    expect(embedded.stderr).toMatch(/embed: 3\/3/);

    const requests = [
      { image: 2, clicks: [[200, 150, 1]] }, // ids follow file order: 1 is notes.jpg, which failed
      'this is not json',
      { image: 'images/scene-0001.png', clicks: [[200, 150, 1], [10, 10, 0]], box: [50, 40, 350, 260] },
      { image: 999, clicks: [[1, 1, 1]] },
      { image: 2, clicks: [[5000, -30, 1]] },
      { image: 'images/scene-0001.png', clicks: [], box: [350, 260, 50, 40] }, // corners in the other order
      { image: 2, clicks: [], box: [500, 10, 600, 20] },
    ].map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n');
    const segmented = pixelwise(data, ['segment', project, '--stdin'], `${requests}\n`);
    expect(segmented.code).toBe(0);
    const lines = segmented.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(7);
    expect(lines[0].rle.size).toEqual([300, 400]);
    expect(maskArea(decodeRle(lines[0].rle))).toBeGreaterThan(0);
    expect(typeof lines[0].score).toBe('number');
    expect(typeof lines[0].ms).toBe('number');
    expect(lines[1].error).toMatch(/invalid JSON/);
    expect(lines[2].rle.size).toEqual([300, 400]);
    expect(lines[3].error).toMatch(/image 999/);
    expect(lines[4].error).toBe('click (5000, -30) is outside the 400x300 image');
    expect(maskArea(decodeRle(lines[5].rle))).toBeGreaterThan(0);
    expect(lines[6].error).toMatch(/does not overlap the 400x300 image/);

    const out = join(dir, 'coco');
    const exported = pixelwise(data, ['export', project, '--format', 'coco', '--out', out]);
    expect(exported.code).toBe(0);
    expect(existsSync(join(out, 'annotations.json'))).toBe(true);
    const reimported = pixelwise(data, ['import', join(dir, 'q.pixelwise'), '--format', 'coco', out]);
    expect(reimported.code).toBe(0);
    expect(JSON.parse(reimported.stdout)).toMatchObject({ images: 3 });

    const info = JSON.parse(execFileSync(process.execPath, [bin, 'info', project, '--data-dir', data], { encoding: 'utf8' }));
    expect(info.statusCounts).toMatchObject({ embedded: 3, failed: 2 });
  });

  it('explains bad usage and refuses a file that is not a project', () => {
    const dir = tempDir();
    const usage = pixelwise(join(dir, 'data'), ['segment', join(dir, 'p.pixelwise')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--stdin/);
    const badId = pixelwise(join(dir, 'data'), ['search', join(dir, 'p.pixelwise'), '--image', 'abc', '--mask', 'm.json']);
    expect([badId.code, badId.stderr.split('\n')[0]]).toEqual([2, '--image takes a positive whole number, not "abc"']);
    const noMask = pixelwise(join(dir, 'data'), ['search', join(dir, 'p.pixelwise'), '--image', '3', '--mask', join(dir, 'missing.json')]);
    expect([noMask.code, noMask.stderr.split('\n')[0]]).toEqual([2, `--mask ${join(dir, 'missing.json')}: no such file`]);
    const notProject = pixelwise(join(dir, 'data'), ['info', bin]);
    expect(notProject.code).toBe(1);
    expect(notProject.stderr).toMatch(/not a Pixelwise project/);
  });

  it('finds an image by the path it was imported with, absolute or relative to the working folder', async () => {
    const dir = tempDir();
    const data = join(dir, 'data'), project = join(dir, 'p.pixelwise');
    const [image] = await writeImages(join(dir, 'images'), 1, 64, 48);
    expect(pixelwise(data, ['import', project, image]).code).toBe(0);
    const requests = [image, 'images/scene-0000.jpg', './images/scene-0000.jpg', join(dir, 'other.jpg')]
      .map((path) => JSON.stringify({ image: path, clicks: [[10, 10, 1]] })).join('\n');
    const replies = pixelwise(data, ['segment', project, '--stdin'], `${requests}\n`, dir).stdout.trim().split('\n').map((line) => JSON.parse(line));
    // Found (no embedding yet, which is the next thing it would need), three spellings of one image; then a stranger.
    expect(replies.slice(0, 3).map((reply) => reply.error)).toEqual(Array(3).fill('image 1 has no embedding for model pixelwise-unet-s; run "pixelwise embed" first'));
    expect(replies[3].error).toBe(`no image "${join(dir, 'other.jpg')}" in the project`);
  });

  it('refuses a project held by another process whatever name leads to it: symlink or hard link', async () => {
    const dir = tempDir();
    const project = join(dir, 'p.pixelwise');
    const holder = new Studio({ dataDir: join(dir, 'holder'), mode: 'cli' });
    try {
      await holder.openProject(project, true);
      symlinkSync(project, join(dir, 'alias.pixelwise'));
      linkSync(project, join(dir, 'hard.pixelwise'));
      for (const name of ['alias.pixelwise', 'hard.pixelwise']) {
        const refused = pixelwise(join(dir, 'data'), ['info', join(dir, name)]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(new RegExp(`is open in another Pixelwise process \\(pid ${process.pid}`));
      }
    } finally {
      await holder.close();
    }
    expect(pixelwise(join(dir, 'data'), ['info', join(dir, 'hard.pixelwise')]).code).toBe(0); // free once closed
  });
});
