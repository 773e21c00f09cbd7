/**
 * Three labeler-facing defects from the walkthrough of 2026-12-05, end to end: real web server, real embedding job
 * (CPU), real Chromium at 1400x900 on generated scenes. Opening an image that has no embedding yet logs no failed
 * request and no console error (problem 14: it logged "404 GET /blob/embedding/<id>" every time). The annotate
 * toolbar stays on one line with every tool, in English and Russian (the brush size slider wrapped it in Russian).
 * The search query's example thumbnail frames the example's object, outlined like the hits (problem 15: it showed
 * the whole image, the object a few pixels wide).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type Studio, startStudio, waitUntil } from './harness';
import type { ImageRecord } from '../../core/api/records';


let studio: Studio;
let page: Page;
let images: ImageRecord[];
/** Console errors and failed responses since the page opened. */
const problems: string[] = [];

const canvas = () => page.getByTestId('annotate-canvas');
const engineState = () => canvas().getAttribute('data-engine');
const shots = process.env.PIXELWISE_SHOTS;

async function openImage(image: ImageRecord): Promise<void> {
  await page.getByTestId('view-images').click();
  await page.locator(`[data-testid="image-tile"][data-id="${image.id}"]`).dblclick();
  await canvas().waitFor();
}

/** Where each scene's disc is (image pixels): small and off centre, so a thumbnail of the whole image shows it tiny. */
const disc = { x: 70, y: 60, radius: 18 };
/** Long enough to fill the editor's file name slot. */
const fileName = (i: number) => `scene-${i}-taken-from-the-balcony-at-dusk.png`;

/** A 320x240 scene: the disc on a background that varies with i. */
async function writeScene(file: string, i: number): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">
    <rect width="320" height="240" fill="hsl(${(i * 71) % 360},35%,25%)"/>
    <circle cx="${disc.x}" cy="${disc.y}" r="${disc.radius}" fill="hsl(${(i * 71 + 180) % 360},80%,65%)"/>
  </svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}

/** Screen point of image pixel (x, y) in the editor right after it fitted the image (annotate/viewport.ts fitView). */
async function screenPoint(image: ImageRecord, x: number, y: number): Promise<[number, number]> {
  const box = (await canvas().boundingBox())!;
  const scale = Math.min(box.width / image.width, box.height / image.height) * 0.96;
  return [box.x + (box.width - image.width * scale) / 2 + x * scale, box.y + (box.height - image.height * scale) / 2 + y * scale];
}

describe('walkthrough polish: embedding request, toolbar width, query example', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`);
    });
    const photos = join(studio.dataDir, 'photos');
    mkdirSync(photos);
    for (let i = 0; i < 3; i++) await writeScene(join(photos, fileName(i)), i);
    await studio.call('projects', 'create', { path: join(studio.dataDir, 'discs.pixelwise') });
    await studio.call('images', 'import', { paths: [photos] });
    images = await waitUntil(async () => (await studio.call<{ items: ImageRecord[] }>('images', 'list', {})).items,
      (items) => items.length === 3 && items.every((image) => image.status === 'new'), 'the import', 60_000, 500);
    await page.reload();
    await page.getByTestId('image-tile').first().waitFor();
  }, 120_000);

  afterAll(async () => {
    await studio?.close();
  });

  it('opens an image without an embedding without a failed request or a console error', async () => {
    await openImage(images[0]);
    await expect.poll(engineState, { timeout: 30_000 }).toBe('missing');
    await page.getByTestId('image-next').click();
    await expect.poll(() => page.getByTestId('image-name').textContent()).toBe(images[1].fileName);
    await expect.poll(engineState, { timeout: 30_000 }).toBe('missing');
    expect(problems).toEqual([]);
    // "No embedding yet" is not cached: once embedded, the same image's request gets it.
    await page.getByTestId('embed-image').click();
    await expect.poll(engineState, { timeout: 120_000 }).toBe('ready');
    expect(problems).toEqual([]);
  });

  it('frames the query example around its object and outlines it like the hits', async () => {
    const [example] = images;
    await page.getByTestId('view-images').click();
    await page.getByTestId('embed-all').click();
    await expect.poll(() => page.getByTestId('status-count-embedded').textContent().then(Number), { timeout: 120_000 }).toBe(3);
    await openImage(example);
    await expect.poll(engineState, { timeout: 120_000 }).toBe('ready');
    const [x, y] = await screenPoint(example, disc.x, disc.y);
    await page.mouse.click(x, y);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await expect.poll(() => page.getByTestId('segmenting').count(), { timeout: 30_000 }).toBe(0);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(1);
    await page.getByTestId('object-name').first().click();
    await page.getByTestId('find-similar').click();
    await page.getByTestId('search-view').waitFor();
    const overlay = page.locator('[data-testid="search-example"] [data-testid="region-overlay"]');
    await overlay.waitFor();
    await page.locator('[data-testid="search-example"] img').evaluate((image: HTMLImageElement) => image.decode());
    if (shots) await page.getByTestId('search-examples').screenshot({ path: `${shots}/search-example.png` });
    // The outline (white inside the edge, black outside) and where it lies on the thumbnail.
    const outline = await overlay.evaluate((element: HTMLCanvasElement) => {
      const { width, height } = element;
      const pixels = element.getContext('2d')!.getImageData(0, 0, width, height).data;
      let white = 0, black = 0, left = width, right = -1, top = height, bottom = -1;
      for (let i = 0; i < width * height; i++) {
        const [r, g, b, a] = pixels.subarray(i * 4, i * 4 + 4);
        if (a < 200) continue;
        if (r === 255 && g === 255 && b === 255) white++;
        else if (r === 0 && g === 0 && b === 0) black++;
        else continue;
        const px = i % width, py = Math.floor(i / width);
        [left, right, top, bottom] = [Math.min(left, px), Math.max(right, px), Math.min(top, py), Math.max(bottom, py)];
      }
      return { white, black, spanX: (right - left + 1) / width, spanY: (bottom - top + 1) / height };
    });
    expect(outline.white).toBeGreaterThan(20);
    expect(outline.black).toBeGreaterThan(20);
    // Framed: the object takes up a good part of the thumbnail, not a few pixels of the whole image.
    expect(Math.max(outline.spanX, outline.spanY)).toBeGreaterThan(0.45);
    expect(problems).toEqual([]);
  }, 180_000);

  it('keeps the annotate toolbar on one line at 1400 px with every tool, in English and Russian', async () => {
    // The widest state: a long file name, a draft (Finish and Cancel enabled) and the last click's time shown.
    await openImage(images[0]);
    await expect.poll(engineState, { timeout: 60_000 }).toBe('ready');
    const [x, y] = await screenPoint(images[0], disc.x, disc.y);
    await page.mouse.click(x, y);
    await page.getByTestId('engine-ms').waitFor({ timeout: 30_000 });
    const lines: Record<string, number> = {};
    for (const language of ['en', 'ru']) {
      await page.getByTestId(`language-${language}`).click();
      for (const tool of ['clicks', 'box', 'brush', 'eraser', 'polygon']) {
        await page.getByTestId(`tool-${tool}`).click();
        const layout = await page.evaluate(() => {
          const bar = document.querySelector<HTMLElement>('.annotation-toolbar')!;
          const items = (Array.from(bar.children) as HTMLElement[]).filter((item) => item.offsetWidth > 0);
          // Items of one line share their vertical middle (the bar centres them).
          const rows = new Set(items.map((item) => {
            const rect = item.getBoundingClientRect();
            return Math.round(rect.top + rect.height / 2);
          }));
          // Only the file name may give way (its path is its title); it keeps room for a name.
          const name = bar.querySelector<HTMLElement>('[data-testid="image-name"]')!;
          const clipped = items.filter((item) => item !== name && item.scrollWidth > item.clientWidth + 1).map((item) => item.textContent?.trim());
          return { rows: rows.size, overflow: bar.scrollWidth - bar.clientWidth, height: bar.offsetHeight, clipped, name: name.clientWidth };
        });
        lines[`${language} ${tool}`] = layout.rows;
        if (shots && tool === 'brush') await page.locator('.annotation-toolbar').screenshot({ path: `${shots}/toolbar-${language}-${tool}.png` });
        expect(layout.overflow, `${language} ${tool}`).toBeLessThanOrEqual(0);
        expect(layout.height, `${language} ${tool}`).toBeLessThan(50);
        expect(layout.clipped, `${language} ${tool}`).toEqual([]);
        expect(layout.name, `${language} ${tool}`).toBeGreaterThan(120);
      }
    }
    expect(Object.entries(lines).filter(([, rows]) => rows !== 1)).toEqual([]);
    await page.getByTestId('language-en').click();
    await page.getByTestId('tool-clicks').click();
    await page.keyboard.press('Escape');
  });
});
