/**
 * Similar-object search and object discovery end to end: real web server, real embedding job (CPU), real
 * Chromium. The sample project's eight generated scenes each hold the same "mug" (electron/sample.ts); one mug is
 * annotated through the editor (two clicks + Enter), "Find similar" ranks the other images, two hits are accepted
 * (button and A key) and labelled, the new objects show in the editor and in the database, and Ctrl+Z in the
 * search view removes the whole batch. Discovery over all images must find a group covering most of them, and
 * "Label everywhere" must be one undoable step as well.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { sampleSvg } from '../../electron/sample';
import { type Studio, startStudio, waitUntil } from './harness';
import { searchIdle } from './search-helpers';
import type { ImageRecord } from '../../core/api/records';

interface StoredAnnotation {
  id: number;
  bbox: [number, number, number, number];
  imageId: number;
  classId: number | null;
  source: string;
}


let studio: Studio;
let page: Page;
let images: ImageRecord[];
let mugClassId: number;

/** expect.poll with room for a busy machine (2 shared cores): the default second is too short for a search. */
const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 30_000, interval: 200 });

const canvas = () => page.getByTestId('annotate-canvas');
const hits = () => page.getByTestId('search-hit');

/** The mug's centre and scale in image pixels, read back from the generated SVG (it is drawn last, on top). */
function mugOf(fileName: string): { x: number; y: number; scale: number } {
  const seed = Number(/sample-(\d+)/.exec(fileName)![1]);
  const matches = [...sampleSvg(seed).matchAll(/translate\(([\d.]+) ([\d.]+)\) scale\(([\d.]+)\)/g)];
  const [, x, y, scale] = matches.at(-1)!;
  return { x: Number(x), y: Number(y), scale: Number(scale) };
}

/** Screen point of image pixel (x, y) in the editor right after it fitted the image (annotate/viewport.ts fitView). */
async function screenPoint(image: ImageRecord, x: number, y: number): Promise<[number, number]> {
  const box = (await canvas().boundingBox())!;
  const scale = Math.min(box.width / image.width, box.height / image.height) * 0.96;
  return [box.x + (box.width - image.width * scale) / 2 + x * scale, box.y + (box.height - image.height * scale) / 2 + y * scale];
}

/** Whether the annotation's box holds the image's mug centre (the object found is the mug). */
function covers(annotation: StoredAnnotation, image: ImageRecord): boolean {
  const mug = mugOf(image.fileName);
  const [x, y, width, height] = annotation.bbox;
  return mug.x >= x && mug.x <= x + width && mug.y >= y && mug.y <= y + height;
}

async function annotationsOf(imageId: number): Promise<StoredAnnotation[]> {
  return studio.call<StoredAnnotation[]>('annotations', 'list', { imageId });
}

async function allAnnotations(): Promise<StoredAnnotation[]> {
  return (await Promise.all(images.map((image) => annotationsOf(image.id)))).flat();
}

/** The engine has answered the draft's clicks (Enter on a draft still segmenting does nothing). */
async function draftSegmented(): Promise<void> {
  await eventually(() => page.getByTestId('segmenting').count()).toBe(0);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="annotate-canvas"]')?.getAttribute('data-active-area')) > 0);
  await eventually(() => page.getByTestId('segmenting').count()).toBe(0);
}

describe('similar-object search and discovery', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    await page.getByTestId('project-open-sample').click();
    await page.getByTestId('image-tile').first().waitFor({ timeout: 60_000 });
    mugClassId = (await studio.call<{ id: number }>('classes', 'create', { name: 'mug', color: '#e6194b' })).id;
    await studio.call('embeddings', 'start', {});
    // expect.poll only works inside a test: wait for the embedding job by hand.
    images = await waitUntil(async () => (await studio.call<{ items: ImageRecord[] }>('images', 'list', { limit: 100 })).items,
      (items) => items.length === 8 && items.every((item) => item.status === 'embedded'), 'embedding the sample', 300_000, 1000);
    // The renderer loads classes when the project opens: reload so it knows the class made above.
    await page.reload();
    await page.getByTestId('image-tile').first().waitFor();
  }, 360_000);

  afterAll(async () => {
    await studio?.close();
  });

  it('finds the mug elsewhere, labels two accepted hits as one undoable step', async () => {
    const example = images.find((image) => image.fileName === 'sample-01.jpg')!;
    await page.locator(`[data-testid="image-tile"][data-id="${example.id}"]`).dblclick();
    await canvas().waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="annotate-canvas"]')?.getAttribute('data-engine') === 'ready', null, { timeout: 120_000 });

    // The mug class for new objects (number key = its place in the class list), two clicks on its white body, Enter.
    const classes = await studio.call<Array<{ id: number }>>('classes', 'list');
    await page.keyboard.press(String(classes.findIndex((item) => item.id === mugClassId) + 1));
    const mug = mugOf(example.fileName);
    for (const [index, [dx, dy]] of [[0, 28], [-20, -38]].entries()) {
      const [sx, sy] = await screenPoint(example, mug.x + dx * mug.scale, mug.y + dy * mug.scale);
      await page.mouse.click(sx, sy);
      await eventually(() => page.getByTestId('draft-info').textContent()).toContain(String(index + 1));
    }
    await draftSegmented();
    await page.keyboard.press('Enter');
    await eventually(() => page.getByTestId('object-item').count()).toBe(1);
    expect(await page.getByTestId('object-item').getAttribute('data-class-id')).toBe(String(mugClassId));

    await page.getByTestId('object-name').first().click();
    await page.getByTestId('find-similar').click();
    await page.getByTestId('search-view').waitFor();
    await expect.poll(() => hits().count(), { timeout: 60_000 }).toBe(7);
    await searchIdle(page);
    const shown = await hits().evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-image-id'))));
    expect(shown).not.toContain(example.id);
    expect(await page.getByTestId('search-class').inputValue()).toBe(String(mugClassId));

    // Accept the top hit with its button, the next unjudged one with the keyboard (focus it, press A).
    const first = shown[0];
    await page.locator(`[data-testid="search-hit"][data-image-id="${first}"] [data-testid="hit-accept"]`).click();
    await eventually(() => page.locator(`[data-testid="search-hit"][data-image-id="${first}"]`).getAttribute('data-judgement')).toBe('accepted');
    await searchIdle(page);
    const second = Number(await page.locator('[data-testid="search-hit"][data-judgement=""]').first().getAttribute('data-image-id'));
    await page.locator(`[data-testid="search-hit"][data-image-id="${second}"] [data-testid="hit-score"]`).click();
    await page.keyboard.press('a');
    await eventually(() => page.locator(`[data-testid="search-hit"][data-image-id="${second}"]`).getAttribute('data-judgement')).toBe('accepted');
    await searchIdle(page);

    await page.getByTestId('search-label-accepted').click();
    await eventually(() => page.getByTestId('hit-labeled').count()).toBe(2);
    for (const imageId of [first, second]) {
      const stored = await annotationsOf(imageId);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ source: 'search', classId: mugClassId });
      expect(covers(stored[0], images.find((image) => image.id === imageId)!)).toBe(true);
    }

    // Open a labelled hit from the keyboard: the editor shows the new object; Escape returns to the results.
    const index = (await hits().evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-image-id'))))).indexOf(first);
    await hits().nth(index).locator('[data-testid="hit-score"]').click();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="annotate-canvas"]')?.getAttribute('data-object-count') === '1', null, { timeout: 30_000 });
    await eventually(() => page.getByTestId('object-item').count()).toBe(1);
    await page.keyboard.press('Escape');
    await page.getByTestId('search-view').waitFor();

    // One Ctrl+Z removes both; redo brings them back; undo again.
    await page.keyboard.press('Control+z');
    await eventually(async () => (await annotationsOf(first)).length + (await annotationsOf(second)).length).toBe(0);
    await eventually(() => page.getByTestId('hit-labeled').count()).toBe(0);
    await page.keyboard.press('Control+Shift+z');
    await eventually(async () => (await annotationsOf(first)).length + (await annotationsOf(second)).length).toBe(2);
    // Undo then redo pressed faster than the main process answers: the redo waits for the undo, it is not dropped.
    await page.evaluate(() => {
      for (const shiftKey of [false, true]) window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, shiftKey }));
    });
    await eventually(() => page.locator('.app-shell').getAttribute('data-history-busy')).toBe('false');
    expect((await annotationsOf(first)).length + (await annotationsOf(second)).length).toBe(2);
    await page.keyboard.press('Control+z');
    await eventually(async () => (await annotationsOf(first)).length + (await annotationsOf(second)).length).toBe(0);
    await eventually(() => page.getByTestId('hit-labeled').count()).toBe(0);
    // Only the example annotation is left in the project.
    expect((await allAnnotations()).map((item) => item.imageId)).toEqual([example.id]);

    // Batch accept above the threshold (slider to 0: every hit), then undo it in one step.
    await page.getByTestId('search-threshold').evaluate((element) => {
      const input = element as HTMLInputElement;
      input.value = '0';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    expect(await page.getByTestId('search-accept-above').textContent()).toContain('7');
    await page.getByTestId('search-accept-above').click();
    await expect.poll(async () => (await allAnnotations()).length, { timeout: 30_000 }).toBe(8);
    await searchIdle(page);
    await page.keyboard.press('Control+z');
    await eventually(async () => (await allAnnotations()).length).toBe(1);

    // A second example from another image (Shift+S adds it, S searches with both): both images leave the hits.
    const top = Number(await hits().first().getAttribute('data-image-id'));
    const other = images.find((image) => image.id === top)!;
    await hits().first().locator('[data-testid="hit-score"]').click();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="annotate-canvas"]')?.getAttribute('data-engine') === 'ready', null, { timeout: 60_000 });
    expect(await page.getByTestId('image-name').textContent()).toBe(other.fileName);
    const otherMug = mugOf(other.fileName);
    await page.mouse.click(...await screenPoint(other, otherMug.x, otherMug.y + 28 * otherMug.scale));
    await eventually(() => page.getByTestId('draft-info').textContent()).toContain('1');
    await draftSegmented();
    await page.keyboard.press('Shift+S');
    await eventually(() => page.getByTestId('query-count').textContent()).toContain('2');
    await page.keyboard.press('s');
    await page.getByTestId('search-view').waitFor();
    await expect.poll(() => hits().count(), { timeout: 60_000 }).toBe(6);
    expect(await page.getByTestId('search-example').count()).toBe(2);
    const again = await hits().evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-image-id'))));
    expect(again).not.toContain(example.id);
    expect(again).not.toContain(other.id);
  });

  it('discovers the recurring object and labels it everywhere, undoably', async () => {
    await page.getByTestId('view-images').click();
    await page.getByTestId('images-view').waitFor();
    await page.getByTestId('discover-objects').click();
    await page.getByTestId('search-view').waitFor();
    await expect.poll(() => page.getByTestId('discovery-cluster').count(), { timeout: 60_000 }).toBeGreaterThan(0);
    const coverage = await page.getByTestId('discovery-cluster').evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-coverage'))));
    const best = coverage.indexOf(Math.max(...coverage));
    expect(coverage[best]).toBeGreaterThanOrEqual(5); // most of the 8 images
    const cluster = page.getByTestId('discovery-cluster').nth(best);
    expect(await cluster.getByTestId('cluster-member').count()).toBeGreaterThanOrEqual(coverage[best]);

    const before = (await allAnnotations()).length;
    await cluster.getByTestId('cluster-class').selectOption(String(mugClassId));
    await cluster.getByTestId('cluster-label').click();
    await cluster.getByTestId('cluster-labeled').waitFor({ timeout: 30_000 });
    const created = (await allAnnotations()).filter((item) => item.source === 'discovery');
    expect(created).toHaveLength(coverage[best]);
    expect(created.every((item) => item.classId === mugClassId)).toBe(true);
    // The group is the mug: most of its regions hold the mug centre.
    const onMug = created.filter((item) => covers(item, images.find((image) => image.id === item.imageId)!)).length;
    expect(onMug).toBeGreaterThanOrEqual(Math.ceil(created.length * 0.75));

    await page.keyboard.press('Control+z');
    await eventually(async () => (await allAnnotations()).length).toBe(before);
    await eventually(() => cluster.getByTestId('cluster-labeled').count()).toBe(0);

    // An image removed in the Images view leaves the groups shown, and their coverage, at once.
    const gone = Number(await cluster.locator('[data-testid="cluster-member"]:not(.uncovered)').first().getAttribute('data-image-id'));
    await page.getByTestId('view-images').click();
    await page.locator(`[data-testid="image-tile"][data-id="${gone}"]`).click();
    await page.keyboard.press('Delete');
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.locator(`[data-testid="image-tile"][data-id="${gone}"]`).count()).toBe(0);
    await page.getByTestId('view-search').click();
    const after = page.getByTestId('discovery-cluster').nth(best);
    expect(await after.locator(`[data-testid="cluster-member"][data-image-id="${gone}"]`).count()).toBe(0);
    expect(Number(await after.getAttribute('data-coverage'))).toBe(coverage[best] - 1);
    expect(await after.getByTestId('cluster-coverage').textContent()).toContain(`of ${images.length - 1}`);
  });
});
