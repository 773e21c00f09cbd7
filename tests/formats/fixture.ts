/**
 * A real project on disk for format tests: SQLite file in a temp folder, real image files written by sharp,
 * classes and objects from generated masks (holes, thin parts, several parts, border contact, overlaps).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Mask } from '../../core/mask';
import { encodeRle } from '../../core/rle';
import { storedPath } from '../../db/images';
import { Project } from '../../db/project';
import { readImageFile } from '../../electron/jobs/import-job';
import { borderFrame, donutWithIsland, prng, randomBlobs, thinParts } from './masks';

export function tempDir(prefix = 'pixelwise-formats-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function createProject(dir: string, name = 'project.pixelwise'): Project {
  mkdirSync(dir, { recursive: true });
  return new Project(join(dir, name), { create: true });
}

/** What the lead's import code will provide: read, hash, thumbnail, insert (an existing same-content image is reused). */
export function addImageTo(project: Project): (absPath: string) => Promise<number> {
  return async (absPath) => {
    const file = await readImageFile(absPath);
    return project.images.findByHash(file.hash) ?? project.images.add({ path: storedPath(project.dir, absPath), ...file });
  };
}

/** Noise image so every file has its own hash. */
export async function writeImage(path: string, width: number, height: number, seed: number, format: 'png' | 'jpeg' = 'png'): Promise<void> {
  const random = prng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
  const image = sharp(data, { raw: { width, height, channels: 3 } });
  await (format === 'png' ? image.png() : image.jpeg({ quality: 90 })).toFile(path);
}

export function rowCounts(project: Project): { images: number; classes: number; annotations: number } {
  const count = (table: string) => project.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  return { images: count('images'), classes: count('classes'), annotations: count('annotations') };
}

export interface SampleObject { className: string | null; mask: Mask }

/**
 * Three images with objects: a donut with an island and a separate square (one object, 3 parts, 1 hole), thin
 * parts touching the border, a frame touching all four borders, random blobs overlapping the others, and (with
 * `unclassified`) one object without a class.
 */
export async function populate(project: Project, imageDir: string, options: { unclassified?: boolean } = {}): Promise<Map<string, SampleObject[]>> {
  mkdirSync(imageDir, { recursive: true });
  const specs = [
    { name: 'street.png', width: 96, height: 64, format: 'png' as const },
    { name: 'field.jpg', width: 80, height: 60, format: 'jpeg' as const },
    { name: 'tall.png', width: 50, height: 90, format: 'png' as const },
  ];
  const cat = project.classes.create('cat'), dog = project.classes.create('dog'), person = project.classes.create('traffic light');
  const expected = new Map<string, SampleObject[]>();
  for (const [index, spec] of specs.entries()) {
    const file = join(imageDir, spec.name);
    await writeImage(file, spec.width, spec.height, index + 1, spec.format);
    const imageId = await addImageTo(project)(file);
    const { width, height } = spec;
    const objects: SampleObject[] = [
      { className: 'cat', mask: donutWithIsland(width, height) },
      { className: 'dog', mask: thinParts(width, height) },
      { className: 'traffic light', mask: borderFrame(width, height) },
      { className: index === 1 ? 'cat' : 'dog', mask: randomBlobs(width, height, 10 + index) },
    ];
    if (options.unclassified && index === 0) objects.push({ className: null, mask: randomBlobs(width, height, 99) });
    const ids = new Map([['cat', cat.id], ['dog', dog.id], ['traffic light', person.id]]);
    project.transaction(() => {
      for (const o of objects) project.annotations.add(imageId, { classId: o.className === null ? null : ids.get(o.className)!, rle: encodeRle(o.mask) });
      project.images.refreshStatus(imageId);
    });
    expected.set(spec.name, objects);
  }
  return expected;
}
