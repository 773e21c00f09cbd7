/**
 * Augment in the studio, end to end: real web server, real embeddings and ONNX decoder, real Chromium. Two
 * annotated images are selected with the mouse, the dialog opens from the keyboard (G), makes variants with
 * progress, the grid shows them marked synthetic with their source's objects, Undo removes them again; Cancel
 * during a larger run leaves only whole variants. Screenshots (English and Russian) go to /tmp.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ClassRecord, ImagePage, ImageRecord, JobRecord } from '../../core/api/records';
import { encodeRle } from '../../core/rle';
import { writeImages } from '../fixtures';
import { type Studio, startStudio, waitUntil } from './harness';

const width = 256, height = 192;
let studio: Studio;
let page: Page;
let sources: ImageRecord[];

function rect(x0: number, y0: number, x1: number, y1: number) {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 1;
  return encodeRle({ width, height, data });
}

const list = async () => (await studio.call<ImagePage>('images', 'list', { limit: 1000 })).items;
const idle = () => waitUntil(() => studio.call<JobRecord[]>('jobs', 'list', { activeOnly: true }), (jobs) => jobs.length === 0, 'the jobs', 120_000, 200);

async function selectSources(): Promise<void> {
  await page.getByTestId('view-images').click();
  await page.keyboard.press('Escape');
  await page.locator(`[data-testid="image-tile"][data-id="${sources[0].id}"]`).click();
  await page.locator(`[data-testid="image-tile"][data-id="${sources[1].id}"]`).click({ modifiers: ['Control'] });
  await expect.poll(() => page.getByTestId('selection-count').getAttribute('data-count')).toBe('2');
}

describe('Augment in the Images view', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    await page.getByTestId('language-en').click();
    const photos = join(studio.dataDir, 'photos');
    await writeImages(photos, 3, width, height);
    await page.getByTestId('project-path-input').fill(join(studio.dataDir, 'augment.pixelwise'));
    await page.getByTestId('project-create').click();
    await page.getByTestId('images-view').waitFor();
    await studio.call('images', 'import', { paths: [photos] });
    await idle();
    await studio.call('embeddings', 'start', {});
    await idle();
    const cls = await studio.call<ClassRecord>('classes', 'create', { name: 'thing' });
    sources = await list();
    await studio.call('annotations', 'add', {
      items: [
        { imageId: sources[0].id, classId: cls.id, rle: rect(20, 20, 120, 160) },
        { imageId: sources[0].id, classId: cls.id, rle: rect(140, 30, 240, 170) },
        { imageId: sources[1].id, classId: cls.id, rle: rect(40, 40, 200, 150) },
      ],
    });
    await page.reload();
    await page.getByTestId('image-tile').first().waitFor();
  }, 180_000);

  afterAll(async () => {
    await studio?.close();
  });

  it('makes variants of the selection with progress, marks them synthetic, and undoes them', async () => {
    await selectSources();
    await page.keyboard.press('g');
    const dialog = page.getByTestId('augment-dialog');
    await dialog.waitFor();
    await page.getByTestId('augment-edit').selectOption('swap');
    expect(await page.getByTestId('augment-edit-hint').textContent()).toContain("another object's embeddings");
    await page.getByTestId('augment-variants').fill('2');
    await page.getByTestId('augment-strength').fill('1');
    expect(await page.getByTestId('augment-start').textContent()).toContain('Make 4 variants');
    await page.screenshot({ path: join(tmpdir(), 'pixelwise-augment-dialog-en.png') });
    await page.getByTestId('augment-start').click();
    const result = page.getByTestId('augment-result');
    await result.waitFor({ timeout: 120_000 });
    expect(await result.getAttribute('data-created')).toBe('4');
    expect(await result.textContent()).toContain('Added 4 synthetic images');

    await idle(); // the variants' own embeddings
    const variants = (await list()).filter((image) => image.synthetic);
    expect(variants).toHaveLength(4);
    expect(new Set(variants.map((v) => v.sourceImageId))).toEqual(new Set([sources[0].id, sources[1].id]));
    expect(variants.map((v) => v.annotationCount).sort()).toEqual([1, 1, 2, 2]);
    await page.getByTestId('augment-close').click();
    await expect.poll(() => page.getByTestId('image-synthetic').count()).toBe(4);
    await page.screenshot({ path: join(tmpdir(), 'pixelwise-augment-grid-en.png') });

    // Undo from the keyboard-reachable notice action removes every variant and its file.
    await page.keyboard.press('Escape');
    await selectSources();
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('augment-open').click();
    await page.getByTestId('augment-variants').fill('1');
    await page.getByTestId('augment-start').click();
    await page.getByTestId('augment-result').waitFor({ timeout: 120_000 });
    await expect.poll(async () => (await list()).filter((image) => image.synthetic).length).toBe(6);
    await page.getByTestId('augment-undo').click();
    await expect.poll(async () => (await list()).filter((image) => image.synthetic).length).toBe(4);
    await expect.poll(() => page.getByTestId('augment-result').textContent()).toContain('Removed the 2 synthetic images again');
    await page.getByTestId('augment-close').click();
  }, 240_000);

  it('cancels a run between variants, in Russian', async () => {
    await page.getByTestId('language-ru').click();
    await selectSources();
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('augment-open').click();
    await page.getByTestId('augment-edit').selectOption('jitter');
    await page.getByTestId('augment-variants').fill('20');
    expect(await page.getByTestId('augment-start').textContent()).toContain('Создать 40 вариантов');
    const before = (await list()).filter((image) => image.synthetic).length;
    await page.getByTestId('augment-start').click();
    await page.getByTestId('dataset-job-progress').waitFor();
    await expect.poll(async () => (await list()).filter((image) => image.synthetic).length, { timeout: 60_000 }).toBeGreaterThan(before);
    await page.screenshot({ path: join(tmpdir(), 'pixelwise-augment-progress-ru.png') });
    await page.getByTestId('dataset-job-cancel').click();
    await page.getByTestId('augment-error').waitFor({ timeout: 60_000 });
    await idle();
    const jobs = await studio.call<JobRecord[]>('jobs', 'list', {});
    const job = jobs.find((item) => item.kind === 'augment')!;
    expect(job.status).toBe('cancelled');
    const made = (await list()).filter((image) => image.synthetic).length - before;
    expect(made).toBe(job.done);
    expect(made).toBeLessThan(40);
    for (const image of (await list()).filter((item) => item.synthetic)) expect(image.annotationCount).toBeGreaterThan(0);
    await page.getByTestId('augment-close').click();
    await page.getByTestId('language-en').click();
  }, 240_000);
});
