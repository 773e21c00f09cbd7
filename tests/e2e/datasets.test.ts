/**
 * Dataset import and export through the UI, end to end: real web server, real dataset jobs, real Chromium.
 * A project with generated images and objects whose masks have holes is exported as COCO from the export dialog
 * (losses shown first, then the result); a second project imports that COCO from the import dialog and must hold
 * the very same masks; a malformed annotations.json fails with an error naming the file and changes nothing; and
 * a bundle exported from the dialog opens from the Projects view as a project of its own.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { AnnotationRecord, ClassRecord, ImagePage, JobRecord, ProjectInfo } from '../../core/api/records';
import { encodeRle } from '../../core/rle';
import { writeImages } from '../fixtures';
import { type Studio, startStudio, waitUntil } from './harness';

const width = 96, height = 72, imageCount = 4;

let studio: Studio;
let page: Page;
/** Project A's objects as "file name|class|rle counts", sorted: what any lossless round trip must give back. */
let original: string[];
let cocoDir: string;

/** A filled square (x0..x1, y0..y1, exclusive ends) with an optional square hole. */
function squareMask(x0: number, y0: number, x1: number, y1: number, hole?: [number, number, number, number]) {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 1;
  if (hole) for (let y = hole[1]; y < hole[3]; y++) for (let x = hole[0]; x < hole[2]; x++) data[y * width + x] = 0;
  return encodeRle({ width, height, data });
}

/** Polls until no job runs (expect.poll is for tests only, and this runs in beforeAll). */
async function waitForJobs(): Promise<void> {
  await waitUntil(() => studio.call<JobRecord[]>('jobs', 'list', { activeOnly: true }), (jobs) => jobs.length === 0, 'the jobs', 60_000, 200);
}

/** Every object of the open project as "file name|class name|rle counts", sorted. */
async function objectKeys(): Promise<string[]> {
  const classes = new Map((await studio.call<ClassRecord[]>('classes', 'list')).map((item) => [item.id, item.name]));
  const images = await studio.call<ImagePage>('images', 'list', { limit: 1000 });
  const keys: string[] = [];
  for (const image of images.items) {
    for (const object of await studio.call<AnnotationRecord[]>('annotations', 'list', { imageId: image.id })) {
      keys.push(`${image.fileName}|${object.classId === null ? '' : classes.get(object.classId)}|${object.rle.size.join('x')}|${object.rle.counts}`);
    }
  }
  return keys.sort();
}

async function createProject(name: string): Promise<void> {
  await page.getByTestId('view-projects').click();
  await page.getByTestId('project-path-input').fill(join(studio.dataDir, `${name}.pixelwise`));
  await page.getByTestId('project-create').click();
  await expect.poll(() => page.getByTestId('project-name').textContent()).toBe(name);
  await page.getByTestId('images-view').waitFor();
}

const current = () => studio.call<ProjectInfo>('projects', 'current');

describe('dataset import and export dialogs', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    const photos = join(studio.dataDir, 'photos');
    await writeImages(photos, imageCount, width, height);

    await page.getByTestId('project-path-input').fill(join(studio.dataDir, 'source.pixelwise'));
    await page.getByTestId('project-create').click();
    await page.getByTestId('images-view').waitFor();
    await studio.call('images', 'import', { paths: [photos] });
    await waitForJobs();
    const cat = await studio.call<ClassRecord>('classes', 'create', { name: 'cat' });
    const dog = await studio.call<ClassRecord>('classes', 'create', { name: 'dog' });
    const images = (await studio.call<ImagePage>('images', 'list', {})).items;
    await studio.call('annotations', 'save', {
      imageId: images[0].id,
      annotations: [
        { classId: cat.id, rle: squareMask(10, 10, 50, 50, [20, 20, 32, 30]) },
        { classId: dog.id, rle: squareMask(40, 30, 90, 70) },
      ],
    });
    await studio.call('annotations', 'save', {
      imageId: images[1].id,
      annotations: [{ classId: dog.id, rle: squareMask(0, 0, 30, 20, [5, 5, 10, 10]) }],
    });
    original = await objectKeys();
    expect(original).toHaveLength(3);
    // The page learns about changes made behind its back on reload.
    await page.reload();
    await page.getByTestId('image-tile').first().waitFor();
  });

  afterAll(async () => {
    await studio?.close();
  });

  it('opens the export dialog with X, keeps Tab inside it and closes on Escape', async () => {
    await page.getByTestId('image-grid').focus();
    await page.keyboard.press('x');
    const dialog = page.getByTestId('export-dialog');
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('export-format');
    const visited = new Set<string>();
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press(i % 5 === 4 ? 'Shift+Tab' : 'Tab');
      const inside = await page.evaluate(() => {
        const active = document.activeElement;
        return active?.closest('[data-testid="export-dialog"]') ? active.getAttribute('data-testid') ?? active.tagName : null;
      });
      expect(inside).not.toBeNull();
      visited.add(inside!);
    }
    // Tab wrapped around: it reached the last control and came back to the first.
    expect(visited).toContain('export-start');
    expect(visited).toContain('export-format');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // The toolbar's Dataset menu works from the keyboard too.
    await page.getByTestId('dataset-menu').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('dataset-import-open');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('exports COCO from the toolbar, showing the losses before and the result after', async () => {
    cocoDir = join(studio.dataDir, 'export-coco');
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    const dialog = page.getByTestId('export-dialog');
    await dialog.waitFor();
    // Losses are on screen before anything is written, and follow the format.
    await expect.poll(() => page.getByTestId('export-losses').textContent()).toContain('without a class');
    await page.getByTestId('export-format').selectOption('yolo');
    await expect.poll(() => page.getByTestId('export-losses').textContent()).toContain('Holes are filled');
    await page.getByTestId('export-format').selectOption('coco');
    await page.getByTestId('export-masks-rle').check();
    await page.getByTestId('export-target').fill(cocoDir);
    // Enter in the path field submits.
    await page.getByTestId('export-target').press('Enter');
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.getAttribute('data-images')).toBe(String(imageCount));
    expect(await result.getAttribute('data-annotations')).toBe('3');
    expect(await page.getByTestId('export-result-path').textContent()).toBe(cocoDir);
    // Escape closes the dialog.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('imports that COCO into a new project with the very same masks, and refreshes grid, classes and counts', async () => {
    await createProject('target');
    await page.getByTestId('images-empty').waitFor();
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('dataset-import-open').click();
    await page.getByTestId('dataset-import-dialog').waitFor();
    await page.getByTestId('dataset-import-format').selectOption('coco');
    await page.getByTestId('dataset-import-path').fill(join(cocoDir, 'annotations.json'));
    await page.getByTestId('dataset-import-start').click();
    const result = page.getByTestId('dataset-import-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.getAttribute('data-annotations')).toBe('3');
    expect(await result.getAttribute('data-added-images')).toBe(String(imageCount));
    expect(await result.getAttribute('data-classes')).toBe('2');
    // Imports append, so the same dataset cannot be started twice by accident.
    expect(await page.getByTestId('dataset-import-start').isDisabled()).toBe(true);

    expect(await objectKeys()).toEqual(original);
    // The view behind the dialog caught up without a reload.
    await expect.poll(() => page.getByTestId('image-tile').count()).toBe(imageCount);
    await expect.poll(() => page.getByTestId('class-name').allTextContents()).toEqual(['cat', 'dog']);
    expect(await page.getByTestId('status-count-all').textContent()).toBe(String(imageCount));
    await page.getByTestId('dataset-import-close').click();
  });

  it('refuses a malformed annotations.json with an error naming the file, changing nothing', async () => {
    const broken = join(studio.dataDir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'annotations.json'), '{"images": [{"id": 1, "file_name": "scene-0000.jpg", "width": 96');
    const before = await current();

    // Shift+I opens the dataset import from the grid.
    await page.getByTestId('image-grid').focus();
    await page.keyboard.press('Shift+I');
    await page.getByTestId('dataset-import-dialog').waitFor();
    await page.getByTestId('dataset-import-path').fill(broken);
    await page.getByTestId('dataset-import-start').click();
    const error = page.getByTestId('dataset-import-error');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toContain('annotations.json');
    expect(await page.getByTestId('dataset-import-result').count()).toBe(0);

    const after = await current();
    expect([after.imageCount, after.annotationCount, after.classCount]).toEqual([before.imageCount, before.annotationCount, before.classCount]);
    expect(await objectKeys()).toEqual(original);
    await page.keyboard.press('Escape');
    await page.getByTestId('dataset-import-dialog').waitFor({ state: 'detached' });
  });

  it('exports only the selection as labelme with exact mask shapes', async () => {
    const out = join(studio.dataDir, 'export-labelme');
    await page.locator('[data-testid="image-tile"][data-status="annotated"]').first().click();
    await expect.poll(() => page.getByTestId('selection-count').getAttribute('data-count')).toBe('1');
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    // The whole project unless the selection is chosen (an image can be selected without meaning it).
    expect(await page.getByTestId('export-scope-all').isChecked()).toBe(true);
    await page.getByTestId('export-scope-selection').check();
    await page.getByTestId('export-format').selectOption('labelme');
    await page.getByTestId('export-masks-rle').check();
    await page.getByTestId('export-target').fill(out);
    await page.getByTestId('export-start').click();
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.getAttribute('data-images')).toBe('1');
    const files = readdirSync(out).filter((name) => name.endsWith('.json'));
    expect(files).toHaveLength(1);
    const shapes = (JSON.parse(readFileSync(join(out, files[0]), 'utf8')) as { shapes: Array<{ shape_type: string }> }).shapes;
    expect(shapes.length).toBeGreaterThan(0);
    expect(shapes.every((shape) => shape.shape_type === 'mask')).toBe(true);
    await page.getByTestId('export-close').click();
    await page.keyboard.press('Escape');
  });

  it('exports a bundle and opens it from the Projects view', async () => {
    const zip = join(studio.dataDir, 'target-bundle.zip');
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    await page.getByTestId('export-format').selectOption('bundle');
    await expect.poll(() => page.getByTestId('export-losses').textContent()).toContain('Nothing is lost');
    await page.getByTestId('export-target').fill(zip);
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-result').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('export-result-path').textContent()).toBe(zip);
    await page.getByTestId('export-close').click();

    await page.getByTestId('view-projects').click();
    await page.getByTestId('bundle-open').click();
    await page.getByTestId('bundle-dialog').waitFor();
    await page.getByTestId('bundle-file').fill(zip);
    await page.getByTestId('bundle-target').fill(join(studio.dataDir, 'unpacked'));
    await page.getByTestId('bundle-target').press('Enter');
    await page.getByTestId('images-view').waitFor();
    await page.getByTestId('bundle-dialog').waitFor({ state: 'detached' });
    const opened = await current();
    expect(opened.path.startsWith(join(studio.dataDir, 'unpacked'))).toBe(true);
    expect(opened.annotationCount).toBe(3);
    expect(await objectKeys()).toEqual(original);
    await expect.poll(() => page.getByTestId('image-tile').count()).toBe(imageCount);
  });
});
