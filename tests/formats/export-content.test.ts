/**
 * An export copies only the images that were imported: a project file from elsewhere (opened directly, not as a
 * bundle) can point an image row at any local file, and the export must not carry that file away. Each image's
 * bytes are checked against the sha256 recorded at import before anything is written. Real projects made by the
 * app's own code, real files, real exports.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../db/project';
import { exportDataset } from '../../electron/formats/index';
import { createProject, populate, tempDir } from './fixture';

let work: ReturnType<typeof tempDir>;
const secret = 'FAKE-SECRET-KEY-41c9e2';
let secretFile: string;

beforeAll(() => {
  work = tempDir('pixelwise-export-content-');
  secretFile = join(work.dir, 'id_rsa');
  writeFileSync(secretFile, `-----BEGIN KEY-----\n${secret}\n-----END KEY-----\n`);
});

afterAll(() => work?.cleanup());

/** A populated project in its own folder; `name` keeps the projects of the tests apart. */
async function project(name: string): Promise<Project> {
  const created = createProject(join(work.dir, name));
  await populate(created, join(work.dir, name, 'images'));
  return created;
}

function holdsSecret(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isFile()) return readFileSync(path).includes(secret);
  return readdirSync(path).some((entry) => holdsSecret(join(path, entry)));
}

describe('exports copy only what was imported', () => {
  it('refuses an image row that points at another file, in every format, and writes none of it', async () => {
    const crafted = await project('crafted');
    try {
      crafted.db.prepare('UPDATE images SET path = ? WHERE id = 2').run(secretFile);
      for (const format of ['coco', 'voc', 'yolo', 'labelme', 'bundle'] as const) {
        const target = join(work.dir, 'out', format === 'bundle' ? 'crafted.zip' : format);
        await expect(exportDataset(crafted, format, target)).rejects.toThrow(/does not hold the image that was imported there/);
        expect(holdsSecret(join(work.dir, 'out'))).toBe(false);
      }
      // Without images nothing is read from the image paths, so nothing is refused.
      const labelsOnly = join(work.dir, 'out', 'labels-only');
      await exportDataset(crafted, 'coco', labelsOnly, { copyImages: false });
      expect(holdsSecret(labelsOnly)).toBe(false);
    } finally {
      crafted.close();
    }
  });

  it('names an image file changed since import, and exports the untouched project as before', async () => {
    const changed = await project('changed');
    try {
      await exportDataset(changed, 'coco', join(work.dir, 'changed-before'));
      expect(readdirSync(join(work.dir, 'changed-before', 'images'))).toHaveLength(3);
      writeFileSync(join(work.dir, 'changed', 'images', 'tall.png'), 'edited elsewhere');
      await expect(exportDataset(changed, 'yolo', join(work.dir, 'changed-after'))).rejects.toThrow(
        /tall\.png: does not hold the image that was imported there .*this image cannot be copied/);
      expect(existsSync(join(work.dir, 'changed-after'))).toBe(false);
    } finally {
      changed.close();
    }
  });
});
