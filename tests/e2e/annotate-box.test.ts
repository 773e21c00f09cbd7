/**
 * The box tool and Ctrl+Click end to end (real web server, real embedding, real Chromium): a box then clicks in
 * Box mode refine the boxed object without changing tools (the saved mask holds the positive click's pixel and
 * not the negative one's), the draft line names the box, clicks and strokes, and Ctrl+Click selects an object
 * in every tool, so a brush stroke after it edits that object rather than a new invisible draft. Then the mask
 * display: objects without a class in colours of their own, outline-only mode (O) and fill opacity (Shift+O).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { AnnotationRecord } from '../../core/api/records';
import { type Mask, maskArea } from '../../core/mask';
import { decodeRle } from '../../core/rle';
import { fitView } from '../../renderer/src/annotate/viewport';
import { type Studio, startStudio } from './harness';

let studio: Studio;
let page: Page;
let imageId: number;
let imageSize: [number, number];

const canvas = () => page.getByTestId('annotate-canvas');

/** RGBA of the canvas at page point (x, y). */
function pixelAt([x, y]: [number, number]): Promise<number[]> {
  return page.evaluate(([px, py]) => {
    const element = document.querySelector<HTMLCanvasElement>('[data-testid="annotate-canvas"]')!;
    const rect = element.getBoundingClientRect(), ratio = element.width / rect.width;
    return Array.from(element.getContext('2d')!.getImageData(Math.round((px - rect.left) * ratio), Math.round((py - rect.top) * ratio), 1, 1).data);
  }, [x, y]);
}

async function settled(): Promise<void> {
  await expect.poll(() => page.getByTestId('segmenting').count()).toBe(0);
}

async function waitForSaved(): Promise<void> {
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="save-state"]')?.dataset.state === 'saved');
}

async function saved(): Promise<AnnotationRecord[]> {
  return studio.call<AnnotationRecord[]>('annotations', 'list', { imageId });
}

/** Page coordinates of image pixel (x, y) in the fitted view (the view the test never pans or zooms). */
async function onPage(x: number, y: number): Promise<[number, number]> {
  const box = (await canvas().boundingBox())!;
  const view = fitView(imageSize[0], imageSize[1], box.width, box.height);
  return [box.x + view.x + (x + 0.5) * view.scale, box.y + view.y + (y + 0.5) * view.scale];
}

/** A pixel inside `rect` whose (2r+1)^2 neighbourhood is all `value` in `mask`, nearest the rectangle's centre. */
function pixelWith(mask: Mask, rect: [number, number, number, number], value: number, r = 6): [number, number] {
  const [x0, y0, x1, y1] = rect;
  let best: [number, number] | null = null, bestDistance = Infinity;
  for (let y = y0 + r; y < y1 - r; y += 2) {
    for (let x = x0 + r; x < x1 - r; x += 2) {
      let uniform = true;
      for (let dy = -r; dy <= r && uniform; dy++) for (let dx = -r; dx <= r && uniform; dx++) uniform = mask.data[(y + dy) * mask.width + x + dx] === value;
      const distance = Math.hypot(x - (x0 + x1) / 2, y - (y0 + y1) / 2);
      if (uniform && distance < bestDistance) [best, bestDistance] = [[x, y], distance];
    }
  }
  if (!best) throw new Error(`no ${value} pixel with a clear neighbourhood in the box`);
  return best;
}

describe('box tool and selection', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    await page.getByTestId('project-open-sample').click();
    await page.getByTestId('image-tile').first().waitFor({ timeout: 60_000 });
    const images = await studio.call<{ items: Array<{ id: number; width: number; height: number }> }>('images', 'list', {});
    imageId = images.items[0].id;
    imageSize = [images.items[0].width, images.items[0].height];
    await page.getByTestId('image-tile').first().dblclick();
    await canvas().waitFor();
    await page.waitForFunction(() =>
      ['ready', 'missing', 'error'].includes(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.engine ?? ''),
    null, { timeout: 120_000 });
    if ((await canvas().getAttribute('data-engine')) === 'missing') await page.getByTestId('embed-image').click();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.engine === 'ready'
      && !document.querySelector('[data-testid="embed-progress"]'), null, { timeout: 120_000 });
  });

  afterAll(async () => {
    await studio?.close();
  });

  it('refines a box with left and right clicks in Box mode; the saved mask follows the clicks', async () => {
    const [width, height] = imageSize;
    const rect: [number, number, number, number] = [Math.round(width * 0.25), Math.round(height * 0.25), Math.round(width * 0.75), Math.round(height * 0.75)];
    await canvas().focus();
    await page.keyboard.press('b');
    await expect.poll(() => page.getByTestId('tool-box').getAttribute('class')).toContain('active');
    const from = await onPage(rect[0], rect[1]), to = await onPage(rect[2], rect[3]);
    await page.mouse.move(...from);
    await page.mouse.down();
    await page.mouse.move(...to, { steps: 6 });
    await page.mouse.up();
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await settled();
    expect(await page.getByTestId('draft-info').textContent()).toContain('box');

    // The box alone, saved: where it has object and where it has none.
    await page.keyboard.press('Enter');
    await waitForSaved();
    const [boxOnly] = await saved();
    const first = decodeRle(boxOnly.rle);
    const inObject = pixelWith(first, rect, 1), outside = pixelWith(first, rect, 0);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await saved()).length).toBe(0);
    expect(await page.getByTestId('draft-info').textContent()).toContain('box');

    // Still the Box tool: hovering previews a click's refinement; a right click removes from the boxed object, a
    // left click adds to it.
    await page.mouse.move(...(await onPage(...outside)));
    await expect.poll(() => canvas().getAttribute('data-preview')).toBe('shown');
    await page.mouse.click(...(await onPage(...inObject)), { button: 'right' });
    await expect.poll(() => page.getByTestId('draft-info').textContent()).toContain('1 click');
    await settled();
    await page.mouse.click(...(await onPage(...outside)));
    await expect.poll(() => page.getByTestId('draft-info').textContent()).toContain('2 clicks');
    await settled();
    expect(await page.getByTestId('tool-box').getAttribute('class')).toContain('active');
    await page.keyboard.press('Enter');
    await waitForSaved();
    const [refined] = await saved();
    const second = decodeRle(refined.rle);
    expect(second.data[inObject[1] * width + inObject[0]]).toBe(0);
    expect(second.data[outside[1] * width + outside[0]]).toBe(1);
    // Clipped to the box: nothing outside it.
    const outsideBox = second.data.reduce((sum, v, i) => sum + (v && (i % width < rect[0] - 1 || i % width > rect[2] + 1
      || Math.floor(i / width) < rect[1] - 1 || Math.floor(i / width) > rect[3] + 1) ? 1 : 0), 0);
    expect(outsideBox).toBe(0);
  });

  it('selects with Ctrl+Click in every tool; a brush stroke then edits the selected object', async () => {
    const [object] = await saved();
    const mask = decodeRle(object.rle);
    const [width, height] = imageSize;
    const inside = pixelWith(mask, [0, 0, width, height], 1, 3);
    for (const [key, tool] of [['b', 'box'], ['r', 'brush'], ['e', 'eraser'], ['p', 'polygon'], ['c', 'clicks']] as const) {
      // Deselect (Escape with nothing selected would leave the editor).
      if (await page.locator('[data-testid="object-item"][data-selected="true"]').count()) await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('[data-testid="object-item"][data-selected="true"]').count()).toBe(0);
      await page.keyboard.press(key);
      await expect.poll(() => page.getByTestId(`tool-${tool}`).getAttribute('class')).toContain('active');
      await page.keyboard.down('Control');
      await page.mouse.click(...(await onPage(...inside)));
      await page.keyboard.up('Control');
      await expect.poll(() => page.locator('[data-testid="object-item"][data-selected="true"]').count(), { message: tool }).toBe(1);
      expect(await page.getByTestId('draft-info').count(), tool).toBe(0);
    }
    // Box tool, Ctrl+Click, then the brush: the stroke grows the selected object (no new draft appears).
    await page.keyboard.press('b');
    await page.keyboard.down('Control');
    await page.mouse.click(...(await onPage(...inside)));
    await page.keyboard.up('Control');
    await page.keyboard.press('r');
    const edge = (await onPage(Math.min(width - 2, object.bbox[0] + object.bbox[2] + 12), inside[1]));
    await page.mouse.move(...(await onPage(...inside)));
    await page.mouse.down();
    await page.mouse.move(...edge, { steps: 6 });
    await page.mouse.up();
    await waitForSaved();
    const after = await saved();
    expect(after).toHaveLength(1);
    expect(await page.getByTestId('draft-info').count()).toBe(0);
    expect(maskArea(decodeRle(after[0].rle))).toBeGreaterThan(maskArea(mask));
  });

  it('gives unclassed objects their own colours; O shows outlines only, Shift+O makes the fill denser', async () => {
    const [width, height] = imageSize;
    const [first] = await saved();
    const firstMask = decodeRle(first.rle);
    await page.keyboard.press('c');
    await page.mouse.click(...(await onPage(...pixelWith(firstMask, [0, 0, width, height], 0, 10))));
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await settled();
    await page.keyboard.press('Enter');
    await waitForSaved();
    const objects = await saved();
    expect(objects).toHaveLength(2);
    expect(objects.map((object) => object.classId)).toEqual([null, null]);
    const [a, b] = objects.map((object) => decodeRle(object.rle));
    const only = (mask: Mask, other: Mask): Mask => ({ ...mask, data: mask.data.map((v, i) => (v && !other.data[i] ? 1 : 0)) });
    const pointA = await onPage(...pixelWith(only(a, b), [0, 0, width, height], 1, 4));
    const pointB = await onPage(...pixelWith(only(b, a), [0, 0, width, height], 1, 4));
    if (await page.locator('[data-testid="object-item"][data-selected="true"]').count()) await page.keyboard.press('Escape');

    await expect.poll(() => page.locator('[data-testid="object-item"][data-selected="true"]').count()).toBe(0);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    const filled = [await pixelAt(pointA), await pixelAt(pointB)];
    await page.keyboard.press('o');
    await expect.poll(() => page.getByTestId('outline-mode').getAttribute('aria-pressed')).toBe('true');
    // Outline only: the objects' insides show the bare image.
    await expect.poll(() => pixelAt(pointA)).not.toEqual(filled[0]);
    const bare = [await pixelAt(pointA), await pixelAt(pointB)];
    expect(bare[1]).not.toEqual(filled[1]);
    // The overlay colour behind each fill: (shown - (1 - alpha) * image) / alpha, at the default opacity 0.45.
    const overlay = (shown: number[], image: number[]) => [0, 1, 2].map((k) => (shown[k] - 0.55 * image[k]) / 0.45);
    const colorA = overlay(filled[0], bare[0]), colorB = overlay(filled[1], bare[1]);
    expect(Math.hypot(...colorA.map((v, k) => v - colorB[k]))).toBeGreaterThan(60);

    // Shift+O: filled again, denser.
    await page.keyboard.press('Shift+O');
    await expect.poll(() => page.getByTestId('outline-mode').getAttribute('aria-pressed')).toBe('false');
    expect(await page.getByTestId('fill-opacity').inputValue()).toBe('0.55');
    const distance = (p: number[], q: number[]) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    // Drawn on the next frame: wait for the fill to come back, denser than before.
    await expect.poll(async () => distance(await pixelAt(pointA), bare[0])).toBeGreaterThan(distance(filled[0], bare[0]));
    await page.screenshot({ path: join(tmpdir(), 'pixelwise-annotate-display.png') });
  });
});
