/**
 * Regenerates the README's screenshots (docs/screenshots/*.png) from the sample project, as a labeler sees it:
 * real web-mode server, real embedding job (CPU), Debian's Chromium at 1400x900.
 *
 *   npm run build && npx tsx tests/e2e/screenshots.ts [--out docs/screenshots]
 *
 * Not a test (no assertions): it drives the same test ids as the e2e tests and fails loudly if one is missing.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import type { ImageRecord } from '../../core/api/records';
import { sampleSvg } from '../../electron/sample';
import { startStudio, waitUntil } from './harness';


const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/screenshots' } } });
const out = resolve(values.out!);

/** The centre and scale of the last shape drawn in a sample scene (the mug, on top), in image pixels. */
function mugOf(fileName: string): { x: number; y: number; scale: number } {
  const seed = Number(/sample-(\d+)/.exec(fileName)![1]);
  const [, x, y, scale] = [...sampleSvg(seed).matchAll(/translate\(([\d.]+) ([\d.]+)\) scale\(([\d.]+)\)/g)].at(-1)!;
  return { x: Number(x), y: Number(y), scale: Number(scale) };
}

/** Screen point of image pixel (x, y) in the editor right after it fitted the image (annotate/viewport.ts). */
async function screenPoint(page: Page, image: ImageRecord, x: number, y: number): Promise<[number, number]> {
  const box = (await page.getByTestId('annotate-canvas').boundingBox())!;
  const scale = Math.min(box.width / image.width, box.height / image.height) * 0.96;
  return [box.x + (box.width - image.width * scale) / 2 + x * scale, box.y + (box.height - image.height * scale) / 2 + y * scale];
}

/** Waits until `check` holds (see waitUntil). */
const until = (check: () => Promise<boolean>, what: string, ms = 120_000) => waitUntil(check, Boolean, what, ms);

async function main(): Promise<void> {
  const studio = await startStudio();
  const { page } = studio;
  const shot = (name: string) => page.screenshot({ path: join(out, `${name}.png`) });
  try {
    await shot('projects');
    await page.getByTestId('project-open-sample').click();
    await page.getByTestId('image-tile').first().waitFor({ timeout: 60_000 });
    await until(async () => (await page.getByTestId('embed-progress').count()) > 0 || (await page.getByTestId('job-progress').count()) > 0, 'the embedding job', 10_000).catch(() => undefined);
    await shot('images');
    await studio.call('classes', 'create', { name: 'mug', color: '#e6194b' });
    await studio.call('classes', 'create', { name: 'disc', color: '#3cb44b' });
    const images = await waitUntil(async () => (await studio.call<{ items: ImageRecord[] }>('images', 'list', { limit: 100 })).items,
      (items) => items.length === 8 && items.every((item) => item.status === 'embedded'), 'embedding the sample', 300_000);
    await page.reload();
    await page.getByTestId('image-tile').first().waitFor();

    // The editor: the mug (its class chosen by its number key) by two clicks, then two objects without a class.
    const classes = await studio.call<Array<{ id: number; name: string }>>('classes', 'list');
    const example = images.find((image) => image.fileName === 'sample-01.jpg')!;
    await page.locator(`[data-testid="image-tile"][data-id="${example.id}"]`).dblclick();
    await until(async () => (await page.getByTestId('annotate-canvas').getAttribute('data-engine')) === 'ready', 'the click engine');
    const segmented = () => until(async () => (await page.getByTestId('segmenting').count()) === 0
      && Number(await page.getByTestId('annotate-canvas').getAttribute('data-active-area')) > 0, 'a mask');
    await page.keyboard.press(String(classes.findIndex((item) => item.name === 'mug') + 1));
    const mug = mugOf(example.fileName);
    for (const [dx, dy] of [[0, 28], [-20, -38]]) await page.mouse.click(...await screenPoint(page, example, mug.x + dx * mug.scale, mug.y + dy * mug.scale));
    await segmented();
    await page.keyboard.press('Enter');
    await page.getByTestId('active-class').selectOption({ index: 0 });
    for (const [fx, fy] of [[0.27, 0.2], [0.56, 0.42]]) {
      await page.mouse.click(...await screenPoint(page, example, example.width * fx, example.height * fy));
      await segmented();
      await page.keyboard.press('Enter');
    }
    const mugRow = page.locator(`[data-testid="object-item"][data-class-id="${classes.find((item) => item.name === 'mug')!.id}"]`);
    await mugRow.getByTestId('object-name').click();
    await page.mouse.move(...await screenPoint(page, example, example.width * 0.85, example.height * 0.15));
    await page.waitForTimeout(800);
    await shot('annotate');

    // Search from the mug: accept two hits.
    await page.getByTestId('find-similar').click();
    await page.getByTestId('search-view').waitFor();
    await until(async () => (await page.getByTestId('search-hit').count()) > 3, 'search hits', 60_000);
    await until(async () => (await page.getByTestId('search-panel').getAttribute('data-busy')) === '', 'the search');
    for (let i = 0; i < 2; i++) {
      await page.locator('[data-testid="search-hit"][data-judgement=""] [data-testid="hit-accept"]').first().click();
      await until(async () => (await page.getByTestId('search-panel').getAttribute('data-busy')) === '', 'the re-ranking');
    }
    await page.mouse.move(5, 5);
    await shot('search');

    // Discovery over all images.
    await page.getByTestId('view-images').click();
    await page.getByTestId('images-view').waitFor();
    await page.getByTestId('discover-objects').click();
    await page.getByTestId('search-view').waitFor();
    await until(async () => (await page.getByTestId('discovery-cluster').count()) > 0, 'discovery', 120_000);
    await shot('discovery');

    // Import and export dialogs, the shortcut sheet, the grid in Russian.
    await page.getByTestId('view-images').click();
    await page.getByTestId('images-view').waitFor();
    await page.getByTestId('import-open').click();
    await page.getByTestId('import-dialog').waitFor();
    await shot('import');
    await page.keyboard.press('Escape');
    await page.getByTestId('dataset-menu').click();
    await page.getByTestId('export-open').click();
    await page.getByTestId('export-dialog').waitFor();
    await shot('export');
    await page.keyboard.press('Escape');
    await page.getByTestId('shortcuts-help').click();
    await page.getByTestId('shortcuts-overlay').waitFor();
    await shot('shortcuts');
    await page.keyboard.press('Escape');
    await page.getByTestId('language-ru').click();
    await page.waitForTimeout(300);
    await shot('images-ru');
    await page.getByTestId('language-en').click();
  } finally {
    await studio.close();
  }
  console.log(`screenshots written to ${out}`);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
