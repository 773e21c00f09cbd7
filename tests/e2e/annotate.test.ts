/**
 * The Annotate view end to end: real web server, real embedding job, real Chromium. Opens a sample image,
 * embeds it from the editor, clicks twice, finishes the object, and checks the mask in the canvas pixels, in the
 * object list and in the database; then undo/redo round-trips through autosave, and a reload shows the mask again.
 * Then eraser edits, a failed save and its retry, and polygon vertex edits by mouse and by keyboard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type Studio, startStudio } from './harness';

interface StoredAnnotation {
  id: number;
  area: number;
  source: string;
  score: number | null;
}


let studio: Studio;
let page: Page;
let imageId: number;

const canvas = () => page.getByTestId('annotate-canvas');

/** RGBA of the canvas at CSS point (x, y) relative to the canvas. */
function pixelAt(x: number, y: number): Promise<number[]> {
  return page.evaluate(([px, py]) => {
    const element = document.querySelector<HTMLCanvasElement>('[data-testid="annotate-canvas"]')!;
    const ratio = element.width / element.getBoundingClientRect().width;
    return Array.from(element.getContext('2d')!.getImageData(Math.round(px * ratio), Math.round(py * ratio), 1, 1).data);
  }, [x, y]);
}

async function waitForSaved(): Promise<void> {
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="save-state"]')?.dataset.state === 'saved');
}

async function stored(): Promise<StoredAnnotation[]> {
  return studio.call<StoredAnnotation[]>('annotations', 'list', { imageId });
}

async function activeArea(): Promise<number> {
  return Number(await canvas().getAttribute('data-active-area'));
}

/** Waits for the engine to be ready (embedding the image from the editor when it has no embedding yet). */
async function waitForEngine(): Promise<void> {
  const settled = () => page.waitForFunction(() =>
    ['ready', 'missing', 'error'].includes(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.engine ?? ''),
  null, { timeout: 120_000 });
  await settled();
  if ((await canvas().getAttribute('data-engine')) === 'missing') {
    await page.getByTestId('embed-image').click();
    await page.waitForFunction(() =>
      ['ready', 'error'].includes(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.engine ?? '')
      && !document.querySelector('[data-testid="embed-progress"]'), null, { timeout: 120_000 });
  }
  expect(await canvas().getAttribute('data-engine')).toBe('ready');
}

describe('annotate view', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    await page.getByTestId('project-open-sample').click();
    await page.getByTestId('image-tile').first().waitFor({ timeout: 60_000 });
    const images = await studio.call<{ items: Array<{ id: number }> }>('images', 'list', {});
    imageId = images.items[0].id;
    await page.getByTestId('image-tile').first().dblclick();
    await canvas().waitFor();
    await waitForEngine();
  });

  afterAll(async () => {
    await studio?.close();
  });

  it('turns two clicks into a saved object that survives undo, redo and a reload', async () => {
    const box = (await canvas().boundingBox())!;
    const first: [number, number] = [box.width * 0.5, box.height * 0.5];
    const second: [number, number] = [box.width * 0.45, box.height * 0.55];
    await expect.poll(async () => (await pixelAt(...first))[3]).toBe(255); // the image is on screen
    const before = await pixelAt(...first);
    expect(await activeArea()).toBe(0);

    await page.mouse.click(box.x + first[0], box.y + first[1]);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await page.mouse.click(box.x + second[0], box.y + second[1]);
    await expect.poll(() => page.getByTestId('draft-info').textContent()).toContain('2');
    await expect.poll(() => page.getByTestId('segmenting').count()).toBe(0);
    const area = await activeArea();
    expect(area).toBeGreaterThan(0);
    // The mask overlay tints the clicked pixel.
    expect(await pixelAt(...first)).not.toEqual(before);

    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(1);
    expect(await canvas().getAttribute('data-object-count')).toBe('1');
    await waitForSaved();
    let saved = await stored();
    expect(saved).toHaveLength(1);
    expect(saved[0].area).toBe(area);
    expect(saved[0].source).toBe('clicks');

    // Undo the commit: the object goes (also from the database), the two-click draft comes back.
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(0);
    expect(await page.getByTestId('draft-info').textContent()).toContain('2');
    await waitForSaved();
    await expect.poll(async () => (await stored()).length).toBe(0);
    // Undo the second click, then redo both steps.
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('draft-info').textContent()).toContain('1');
    await page.keyboard.press('Control+Shift+z');
    await page.getByTestId('redo').click();
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(1);
    expect(await page.getByTestId('redo').isDisabled()).toBe(true);
    await waitForSaved();
    saved = await stored();
    expect(saved).toHaveLength(1);
    expect(saved[0].area).toBe(area);

    await page.reload();
    await canvas().waitFor();
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.objectCount === '1');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(1);
    await waitForEngine();
    // Drawn again from the stored RLE: hiding the object gives back the bare image pixel.
    const shown = await pixelAt(...first);
    expect(shown).not.toEqual(before);
    await page.getByTestId('object-visibility').click();
    await expect.poll(() => pixelAt(...first)).toEqual(before);
    await page.keyboard.press('Control+z');
    await expect.poll(() => pixelAt(...first)).toEqual(shown);
    expect(await page.getByTestId('undo').isDisabled()).toBe(true);

    // Keyboard only: F6 moves focus to the buttons, Tab walks them, Enter and Space press them; F6 goes back to the
    // image, where Tab selects objects again.
    const focusedTestId = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
    await page.keyboard.press('F6');
    expect(await page.evaluate(() => document.activeElement?.closest('[role="toolbar"]') !== null)).toBe(true);
    for (let presses = 0; presses < 60 && (await focusedTestId()) !== 'object-visibility'; presses++) await page.keyboard.press('Tab');
    expect(await focusedTestId()).toBe('object-visibility');
    await page.keyboard.press('Enter');
    await expect.poll(() => pixelAt(...first)).toEqual(before);
    await page.keyboard.press('Space');
    await expect.poll(() => pixelAt(...first)).toEqual(shown);
    await page.keyboard.press('F6');
    expect(await page.evaluate(() => document.activeElement?.classList.contains('annotation-canvas'))).toBe(true);
    await page.keyboard.press('Tab');
    await expect.poll(() => page.getByTestId('object-item').first().getAttribute('data-selected')).toBe('true');
  });

  it('edits the object with the eraser and deletes it, saving each change', async () => {
    const box = (await canvas().boundingBox())!;
    await waitForEngine();
    await page.getByTestId('object-name').first().click();
    const [before] = await stored();
    await page.keyboard.press('e');
    expect(await page.getByTestId('tool-eraser').getAttribute('aria-pressed')).toBe('true');
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.52, box.y + box.height * 0.5, { steps: 4 });
    await page.mouse.up();
    await waitForSaved();
    await expect.poll(async () => (await stored())[0]?.area).toBeLessThan(before.area);
    expect((await stored())[0].source).toBe('manual');

    await page.keyboard.press('Delete');
    await expect.poll(() => page.getByTestId('object-item').count()).toBe(0);
    await waitForSaved();
    await expect.poll(async () => (await stored()).length).toBe(0);
  });

  it('keeps a change whose save failed, stays on the image, and stores it on retry', async () => {
    const box = (await canvas().boundingBox())!;
    await page.keyboard.press('c');
    await page.route('**/api/annotations/save', (route) => route.abort());
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await page.keyboard.press('n');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="save-state"]')?.dataset.state === 'error');
    const name = await page.getByTestId('image-name').textContent();
    await page.keyboard.press('d');
    await page.getByTestId('notice-error').first().waitFor();
    expect(await page.getByTestId('image-name').textContent()).toBe(name);
    expect(await stored()).toHaveLength(0);

    await page.unroute('**/api/annotations/save');
    await page.getByTestId('save-retry').click();
    await waitForSaved();
    expect(await stored()).toHaveLength(1);
  });

  it('edits a polygon vertex by mouse and by keyboard: the mask follows, is saved, keeps its handles, undo restores it', async () => {
    const box = (await canvas().boundingBox())!;
    const [before] = await stored();
    await page.getByTestId('object-name').first().click();
    await page.keyboard.press('p');
    expect(await page.getByTestId('tool-polygon').getAttribute('aria-pressed')).toBe('true');
    // The outline is traced in the worker; its handles appear when it arrives.
    await expect.poll(async () => Number(await canvas().getAttribute('data-vertex-count'))).toBeGreaterThan(2);
    const handles = Number(await canvas().getAttribute('data-vertex-count'));
    const [vx, vy] = (await canvas().getAttribute('data-first-vertex'))!.split(',').map(Number);
    // Pull the vertex away from the object's middle, so the polygon (and the mask) grows.
    const [mx, my] = [box.width * 0.5, box.height * 0.5];
    const length = Math.hypot(vx - mx, vy - my) || 1;
    const [tx, ty] = [vx + ((vx - mx) / length) * 40, vy + ((vy - my) / length) * 40];
    await page.mouse.move(box.x + vx, box.y + vy);
    await page.mouse.down();
    await page.mouse.move(box.x + tx, box.y + ty, { steps: 5 });
    await page.mouse.up();
    await waitForSaved();
    await expect.poll(async () => (await stored())[0]?.area).toBeGreaterThan(before.area);
    expect((await stored())[0].source).toBe('manual');
    // The edited polygon stays the outline (a re-trace of the rasterised mask would come back with other handles).
    expect(Number(await canvas().getAttribute('data-vertex-count'))).toBe(handles);
    const [nx, ny] = (await canvas().getAttribute('data-first-vertex'))!.split(',').map(Number);
    expect(Math.hypot(nx - tx, ny - ty)).toBeLessThan(2);

    await page.keyboard.press('Control+z');
    await waitForSaved();
    await expect.poll(async () => (await stored())[0]?.area).toBe(before.area);

    // By keyboard: ] chooses the first vertex, Shift+arrows move it 10 image pixels a press, Escape drops the edit
    // and Enter applies it as one undo step. The arrows move the vertex, not the view.
    const firstVertex = async () => (await canvas().getAttribute('data-first-vertex'))!.split(',').map(Number);
    await expect.poll(async () => Number(await canvas().getAttribute('data-vertex-count'))).toBeGreaterThan(2);
    const [kx, ky] = await firstVertex();
    await page.keyboard.press(']');
    await page.keyboard.press('Shift+ArrowUp');
    await expect.poll(async () => (await firstVertex())[1]).toBeLessThan(ky);
    expect((await firstVertex())[0]).toBeCloseTo(kx, 0);
    await page.keyboard.press('Escape');
    await expect.poll(async () => (await firstVertex())[1]).toBeCloseTo(ky, 0);
    expect((await stored())[0].area).toBe(before.area);
    const moves = [vx < mx ? 'Shift+ArrowLeft' : 'Shift+ArrowRight', vy < my ? 'Shift+ArrowUp' : 'Shift+ArrowDown'];
    await page.keyboard.press(']');
    for (let press = 0; press < 3; press++) for (const move of moves) await page.keyboard.press(move);
    await page.keyboard.press('Enter');
    await waitForSaved();
    await expect.poll(async () => (await stored())[0]?.area).toBeGreaterThan(before.area);
    await page.keyboard.press('Control+z');
    await waitForSaved();
    await expect.poll(async () => (await stored())[0]?.area).toBe(before.area);
  });
  it('switches the click step in the toolbar: the next click uses it, masks come back the same, the choice is kept', async () => {
    const box = (await canvas().boundingBox())!;
    const points: Array<[number, number]> = [[0.5, 0.5], [0.3, 0.35], [0.7, 0.6]];
    /** Area of a one-click draft at each point (fractions of the canvas), the draft cancelled after each. */
    const areas = async (): Promise<number[]> => {
      const out: number[] = [];
      for (const [fx, fy] of points) {
        await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
        await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
        await expect.poll(() => page.getByTestId('segmenting').count()).toBe(0);
        out.push(await activeArea());
        await page.getByTestId('cancel-draft').click();
        await expect.poll(activeArea).toBe(0);
      }
      return out;
    };
    await page.keyboard.press('Escape');
    await page.keyboard.press('c'); // the click tool (the test before ends in the polygon tool)
    const step = page.getByTestId('click-step');
    expect(await step.inputValue()).toBe('learned');
    const learned = await areas();
    // By keyboard: the select takes focus and arrows change it.
    await step.focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => step.inputValue()).toBe('engine');
    await waitForEngine();
    const formula = await areas();
    expect(formula).not.toEqual(learned);
    await page.reload();
    await canvas().waitFor();
    await waitForEngine();
    expect(await page.getByTestId('click-step').inputValue()).toBe('engine');
    expect(await areas()).toEqual(formula);
    await page.getByTestId('click-step').selectOption('learned');
    await waitForEngine();
    expect(await areas()).toEqual(learned);
  });

  it('sends what is not saved yet, with the access token, when the page goes away', async () => {
    const box = (await canvas().boundingBox())!;
    const before = (await stored()).length;
    // Saves fail while the object is made, so it is only on screen when the page goes.
    await page.route('**/api/annotations/save', (route) => route.abort());
    await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.35);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid="annotate-canvas"]')?.dataset.activeArea) > 0);
    await page.keyboard.press('n');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid="save-state"]')?.dataset.state === 'error');
    await page.unroute('**/api/annotations/save');
    const replies: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/api/annotations/save')) replies.push(response.status());
    });
    await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pagehide')));
    await expect.poll(async () => (await stored()).length).toBe(before + 1);
    expect(replies.every((status) => status === 200)).toBe(true);
  });
});
