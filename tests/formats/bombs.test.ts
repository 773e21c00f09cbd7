/**
 * Resource bombs against every importer (the audit's F3 and F4 and their kin): small dataset files that ask for a
 * huge amount of work. Each is imported by the real CLI in its own process (`node bin/pixelwise.cjs import ...
 * --format X`, V8 heap capped at 512 MB) and must end cleanly (exit code 1, no signal) within a time and a peak
 * memory bound, with an error naming the file and the problem, and the project unchanged. Needs the built CLI
 * (`npm run build`), as tests/cli.test.ts does. BOMBS_VERBOSE=1 prints each run's time, peak memory and message.
 *
 * Measured on the old importers (2-core VM): the COCO zigzag crashed V8 ("invalid size", 3.6 GB), 100 boxes took
 * 24 s, 8 labelme shapes held 1.2 GB, a labelme zigzag took 66 s, two VOC label PNGs 6.6 s and 815 MB.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../db/project';
import { blankPng, zigzag } from './bomb-files';
import { rowCounts, tempDir, writeImage } from './fixture';

const bin = resolve(__dirname, '..', '..', 'bin', 'pixelwise.cjs');
const peakMemory = resolve(__dirname, 'peak-memory.cjs');
const limits = { seconds: 10, megabytes: 600, heapMegabytes: 512 };

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  work = tempDir('pixelwise-bombs-');
});
afterAll(() => work?.cleanup());

let cases = 0;
/** A fresh dataset folder and an empty project beside it. */
function dataset(): { dir: string; project: string } {
  const dir = join(work.dir, `case-${++cases}`);
  mkdirSync(dir, { recursive: true });
  const project = join(work.dir, `case-${cases}.pixelwise`);
  new Project(project, { create: true }).close();
  return { dir, project };
}

interface Run { status: number | null; signal: string | null; stderr: string; seconds: number; megabytes: number }

function importWithCli(project: string, format: string, path: string): Run {
  const started = performance.now();
  const result = spawnSync(process.execPath, [`--max-old-space-size=${limits.heapMegabytes}`, '-r', peakMemory, bin, 'import', project, '--format', format, path, '--data-dir', join(work.dir, 'data')], {
    encoding: 'utf8', env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu' }, timeout: 120_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = /peak-rss-kib (\d+)/.exec(result.stderr);
  if (process.env.BOMBS_VERBOSE) console.log(format, path, `exit ${result.status} ${result.signal ?? ''}`, `${seconds.toFixed(1)} s`, peak ? `${(Number(peak[1]) / 1024).toFixed(0)} MB` : 'no peak', result.stderr.trim().split('\n').filter((l) => !l.startsWith('peak-rss')).pop()?.slice(0, 200));
  return { status: result.status, signal: result.signal, stderr: result.stderr, seconds, megabytes: peak ? Number(peak[1]) / 1024 : Infinity };
}

/** The import ended by itself with a clear error, within the bounds, and wrote nothing. */
function expectRefused(run: Run, project: string, message: RegExp): void {
  const summary = `exit ${run.status}, signal ${run.signal}, ${run.seconds.toFixed(1)} s, ${run.megabytes.toFixed(0)} MB: ${run.stderr.slice(-400)}`;
  expect(run.signal, summary).toBeNull();
  expect(run.status, summary).toBe(1);
  expect(run.stderr, summary).toMatch(message);
  expect(run.seconds, summary).toBeLessThan(limits.seconds);
  expect(run.megabytes, summary).toBeLessThan(limits.megabytes);
  const opened = new Project(project, { create: false });
  try {
    expect(rowCounts(opened).annotations).toBe(0);
  } finally {
    opened.close();
  }
}

/** A large but honest dataset: imported, within the same bounds. */
function expectImported(run: Run, project: string, annotations: number): void {
  const summary = `exit ${run.status}, signal ${run.signal}, ${run.seconds.toFixed(1)} s, ${run.megabytes.toFixed(0)} MB: ${run.stderr.slice(-400)}`;
  expect(run.status, summary).toBe(0);
  expect(run.seconds, summary).toBeLessThan(limits.seconds);
  expect(run.megabytes, summary).toBeLessThan(limits.megabytes);
  const opened = new Project(project, { create: false });
  try {
    expect(rowCounts(opened).annotations).toBe(annotations);
  } finally {
    opened.close();
  }
}

function cocoFile(width: number, height: number, annotations: unknown[]): string {
  return JSON.stringify({ images: [{ id: 1, file_name: 'img000.png', width, height }], categories: [{ id: 1, name: 'a' }], annotations });
}

describe('COCO bombs', () => {
  it('a 27 KB zigzag polygon declared 10000x10000 for a 64x48 image fails on the size, before drawing', async () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images'));
    await writeImage(join(dir, 'images', 'img000.png'), 64, 48, 1);
    writeFileSync(join(dir, 'annotations.json'), cocoFile(10000, 10000, [{ id: 1, image_id: 1, category_id: 1, segmentation: [zigzag(3000, 9999)], iscrowd: 0 }]));
    expectRefused(importWithCli(project, 'coco', join(dir, 'annotations.json')), project, /annotations\.json: says image "img000\.png" is 10000x10000, but the image is 64x48/);
  });

  it('the same zigzag on a real 10000x10000 image runs out of outline budget', () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'img000.png'), blankPng(10000, 10000));
    writeFileSync(join(dir, 'annotations.json'), cocoFile(10000, 10000, [{ id: 1, image_id: 1, category_id: 1, segmentation: [zigzag(3000, 9999)], iscrowd: 0 }]));
    expectRefused(importWithCli(project, 'coco', join(dir, 'annotations.json')), project, /annotations\.json: object outlines are too long/);
  });

  it('100 box-only objects declared 12000x12000 for a 64x48 image fail on the size', async () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images'));
    await writeImage(join(dir, 'images', 'img000.png'), 64, 48, 2);
    const boxes = Array.from({ length: 100 }, (_, i) => ({ id: i + 1, image_id: 1, category_id: 1, bbox: [i, i, 11000, 11000], iscrowd: 0 }));
    writeFileSync(join(dir, 'annotations.json'), cocoFile(12000, 12000, boxes));
    expectRefused(importWithCli(project, 'coco', join(dir, 'annotations.json')), project, /says image "img000\.png" is 12000x12000, but the image is 64x48/);
  });

  it('30,000 large box-only objects on a real 12000x12000 image (2 MB) run out of outline budget', () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'img000.png'), blankPng(12000, 12000));
    const boxes = Array.from({ length: 30000 }, (_, i) => ({ id: i + 1, image_id: 1, category_id: 1, bbox: [i % 500, i % 700, 11000, 11000] }));
    writeFileSync(join(dir, 'annotations.json'), cocoFile(12000, 12000, boxes));
    expectRefused(importWithCli(project, 'coco', join(dir, 'annotations.json')), project, /annotations\.json: object outlines are too long/);
  });

  it('100 box-only objects on a real 12000x12000 image are drawn as runs and imported', () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'img000.png'), blankPng(12000, 12000));
    const boxes = Array.from({ length: 100 }, (_, i) => ({ id: i + 1, image_id: 1, category_id: 1, bbox: [i, i, 11000, 11000], iscrowd: 0 }));
    writeFileSync(join(dir, 'annotations.json'), cocoFile(12000, 12000, boxes));
    expectImported(importWithCli(project, 'coco', join(dir, 'annotations.json')), project, 100);
  });
});

function labelmeFile(width: number, height: number, shapes: Array<{ points: number[][]; label?: string }>): string {
  return JSON.stringify({
    version: '5.5.0', flags: {}, imagePath: 'a.png', imageData: null, imageWidth: width, imageHeight: height,
    shapes: shapes.map((s) => ({ label: 'a', group_id: null, shape_type: 'polygon', flags: {}, ...s })),
  });
}

describe('labelme bombs', () => {
  it('8 full-cover polygons declared 12000x12000 (1.2 KB) for a 64x48 image', async () => {
    const { dir, project } = dataset();
    await writeImage(join(dir, 'a.png'), 64, 48, 3);
    const full = { points: [[0, 0], [11999, 0], [11999, 11999], [0, 11999]] };
    writeFileSync(join(dir, 'a.json'), labelmeFile(12000, 12000, Array.from({ length: 8 }, () => full)));
    expectRefused(importWithCli(project, 'labelme', dir), project, /a\.json: says image "a\.png" is 12000x12000, but the image is 64x48/);
  });

  it('8 full-cover polygons on a real 12000x12000 image are drawn as runs and imported', () => {
    const { dir, project } = dataset();
    writeFileSync(join(dir, 'a.png'), blankPng(12000, 12000));
    const full = { points: [[0, 0], [11999, 0], [11999, 11999], [0, 11999]] };
    writeFileSync(join(dir, 'a.json'), labelmeFile(12000, 12000, Array.from({ length: 8 }, (_, i) => ({ ...full, label: `a${i}` }))));
    expectImported(importWithCli(project, 'labelme', dir), project, 8);
  });

  it('a 20000-vertex zigzag polygon at 10000x10000 runs out of outline budget', () => {
    const { dir, project } = dataset();
    writeFileSync(join(dir, 'a.png'), blankPng(10000, 10000));
    const ring = zigzag(20000, 9999);
    const points = Array.from({ length: ring.length / 2 }, (_, i) => [ring[2 * i], ring[2 * i + 1]]);
    writeFileSync(join(dir, 'a.json'), labelmeFile(10000, 10000, [{ points }]));
    expectRefused(importWithCli(project, 'labelme', dir), project, /a\.json: object outlines are too long/);
  });
  it('a comb of 6000 one-row teeth at 12000x12000: few row crossings, 144 million runs', () => {
    const { dir, project } = dataset();
    writeFileSync(join(dir, 'a.png'), blankPng(12000, 12000));
    const points = [[0, 0]];
    for (let t = 0; t < 6000; t++) points.push([12000, 2 * t], [12000, 2 * t + 1], [1, 2 * t + 1], [1, 2 * t + 2]);
    points.push([0, 12000]);
    writeFileSync(join(dir, 'a.json'), labelmeFile(12000, 12000, [{ points }]));
    expectRefused(importWithCli(project, 'labelme', dir), project, /a\.json: object outlines are too long/);
  });
});

describe('YOLO bombs', () => {
  it('a 20000-point zigzag line on a 2000x2000 image runs out of outline budget', () => {
    const { dir, project } = dataset();
    mkdirSync(join(dir, 'images', 'train'), { recursive: true });
    mkdirSync(join(dir, 'labels', 'train'), { recursive: true });
    writeFileSync(join(dir, 'images', 'train', 'a.png'), blankPng(2000, 2000));
    writeFileSync(join(dir, 'data.yaml'), 'path: .\ntrain: images/train\nnames: [a]\n');
    const line = Array.from({ length: 20000 }, (_, i) => (i % 2 ? `1 ${1 - (i % 7) / 2000}` : '0 0')).join(' ');
    writeFileSync(join(dir, 'labels', 'train', 'a.txt'), `0 ${line}\n`);
    expectRefused(importWithCli(project, 'yolo', join(dir, 'data.yaml')), project, /labels\/train\/a\.txt: object outlines are too long/);
  });
});

describe('VOC bombs', () => {
  it('two 12000x12000 label PNGs (a few KB each) for a 64x48 photo fail on the size, before decoding', async () => {
    const { dir, project } = dataset();
    for (const sub of ['JPEGImages', 'SegmentationObject', 'SegmentationClass']) mkdirSync(join(dir, sub));
    await writeImage(join(dir, 'JPEGImages', 'a.jpg'), 64, 48, 5, 'jpeg');
    writeFileSync(join(dir, 'SegmentationObject', 'a.png'), blankPng(12000, 12000, true));
    writeFileSync(join(dir, 'SegmentationClass', 'a.png'), blankPng(12000, 12000, true));
    expectRefused(importWithCli(project, 'voc', dir), project, /SegmentationObject\/a\.png: says image "JPEGImages\/a\.jpg" is 12000x12000, but the image is 64x48/);
  });
});
