/**
 * "Label accepted" writes exactly what the hits showed, end to end: real web server, real embedding job (CPU),
 * real Chromium, the sample project. The query is the mug of sample-01 (an annotation made through the API, then
 * selected in the editor and searched with S); three hits are accepted (button; A key in the results; A key in
 * the editor, where the hit's proposal is shown), with feedback moving the query between them; "Label accepted"
 * must write one annotation per accepted hit whose mask is, bit for bit, the mask its thumbnail outlined when the
 * hit was judged and the proposal the editor shows for it (both search.hitMask: the click engine seeded at the
 * hit); a judged hit keeps its region while the query moves. Searching again and labelling the same hits must not
 * annotate those objects twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { AcceptResult, DiscoveryResult, SearchHit, SearchResult } from '../../core/api/search-contract';
import { type Mask, maskArea } from '../../core/mask';
import { type Rle, decodeRle, encodeRle } from '../../core/rle';
import { type Studio, startStudio, waitUntil } from './harness';
import { mugBody, searchIdle } from './search-helpers';
import type { ImageRecord } from '../../core/api/records';


interface StoredAnnotation {
  id: number;
  imageId: number;
  rle: Rle;
  source: string;
}

let studio: Studio;
let page: Page;
let images: ImageRecord[];
/** The search answers the page received, latest last. */
const answers: SearchResult[] = [];
/** Preview masks the page received (search.hitMask), by image. */
const previews = new Map<number, Rle>();
/** The last discovery result and "label everywhere" answer the page received. */
let discovered: DiscoveryResult | null = null;
let labelledGroup: AcceptResult | null = null;

const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 30_000, interval: 200 });
const hits = () => page.getByTestId('search-hit');
const hit = (imageId: number) => page.locator(`[data-testid="search-hit"][data-image-id="${imageId}"]`);

/** The hit as the page last had it before now. */
function shownHit(imageId: number): SearchHit {
  const found = answers.at(-1)!.hits.find((item) => item.imageId === imageId);
  if (!found) throw new Error(`image ${imageId} is not among the hits shown`);
  return found;
}

/** Share of the mask's pixels that lie outside the grid's cells (grown by one cell): 0 when it is the grid's region. */
function outsideGrid(mask: Mask, grid: Mask): number {
  let outside = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!mask.data[y * mask.width + x]) continue;
      const gx = Math.floor((x * grid.width) / mask.width), gy = Math.floor((y * grid.height) / mask.height);
      let near = false;
      for (let dy = -1; dy <= 1 && !near; dy++) {
        for (let dx = -1; dx <= 1 && !near; dx++) {
          const cx = gx + dx, cy = gy + dy;
          near = cx >= 0 && cy >= 0 && cx < grid.width && cy < grid.height && grid.data[cy * grid.width + cx] === 1;
        }
      }
      if (!near) outside++;
    }
  }
  return outside / Math.max(1, maskArea(mask));
}

/** Cells of the grid whose centre pixel the mask holds, against the grid's own cells (IoU over cells). */
function cellIou(mask: Mask, grid: Mask): number {
  let both = 0, either = 0;
  for (let gy = 0; gy < grid.height; gy++) {
    for (let gx = 0; gx < grid.width; gx++) {
      const x = Math.floor(((gx + 0.5) * mask.width) / grid.width), y = Math.floor(((gy + 0.5) * mask.height) / grid.height);
      const a = mask.data[y * mask.width + x] === 1, b = grid.data[gy * grid.width + gx] === 1;
      if (a && b) both++;
      if (a || b) either++;
    }
  }
  return either === 0 ? 1 : both / either;
}

async function annotationsOf(imageId: number): Promise<StoredAnnotation[]> {
  return studio.call<StoredAnnotation[]>('annotations', 'list', { imageId });
}

describe('search: what is labelled is what the hits showed', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    page.on('response', async (response) => {
      const path = new URL(response.url()).pathname;
      if (!response.ok()) return;
      if (path === '/api/search/query' || path === '/api/search/feedback') {
        answers.push(((await response.json()) as { result: SearchResult }).result);
      } else if (path === '/api/discovery/label') {
        labelledGroup = ((await response.json()) as { result: AcceptResult }).result;
      } else if (path === '/api/discovery/run') {
        discovered = ((await response.json()) as { result: DiscoveryResult }).result;
      } else if (path === '/api/search/hitMask') {
        const { result } = (await response.json()) as { result: { imageId: number; rle: Rle } };
        previews.set(result.imageId, result.rle);
      }
    });
    await page.getByTestId('project-open-sample').click();
    await page.getByTestId('image-tile').first().waitFor({ timeout: 60_000 });
    await studio.call('embeddings', 'start', {});
    images = await waitUntil(async () => (await studio.call<{ items: ImageRecord[] }>('images', 'list', { limit: 100 })).items,
      (items) => items.length === 8 && items.every((item) => item.status === 'embedded'), 'embedding the sample', 300_000, 1000);
  }, 360_000);

  afterAll(async () => {
    await studio?.close();
  });

  it('writes one annotation per accepted hit, exactly its shown region, and none twice', async () => {
    const example = images.find((image) => image.fileName === 'sample-01.jpg')!;
    await studio.call('annotations', 'add', { items: [{ imageId: example.id, classId: null, rle: encodeRle(mugBody(example)), source: 'manual' }] });
    await page.locator(`[data-testid="image-tile"][data-id="${example.id}"]`).dblclick();
    await eventually(() => page.getByTestId('object-item').count()).toBe(1);
    await page.getByTestId('object-name').first().click();
    await page.keyboard.press('s');
    await page.getByTestId('search-view').waitFor();
    await expect.poll(() => hits().count(), { timeout: 60_000 }).toBe(7);
    await searchIdle(page);

    // Each hit's region is outlined in white (inside) and black (outside) over a light fill: readable on any colour.
    await eventually(() => hits().first().getByTestId('region-overlay').evaluate((canvas) => (canvas as HTMLCanvasElement).width)).toBeGreaterThan(100);
    const outline = await hits().first().getByTestId('region-overlay').evaluate((canvas) => {
      const element = canvas as HTMLCanvasElement;
      const pixels = element.getContext('2d')!.getImageData(0, 0, element.width, element.height).data;
      let white = 0, black = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 255 && pixels[i] === 255 && pixels[i + 1] === 255 && pixels[i + 2] === 255) white++;
        if (pixels[i + 3] > 200 && pixels[i] === 0 && pixels[i + 1] === 0 && pixels[i + 2] === 0) black++;
      }
      return { white, black };
    });
    expect(outline.white).toBeGreaterThan(20);
    expect(outline.black).toBeGreaterThan(20);

    // Three accepts, each re-ranking (the query moves): the top hit by its button, then two by focus + A.
    const judgedGrids = new Map<number, Rle>();
    /** The mask each hit's thumbnail outlined when it was judged. */
    const outlined = new Map<number, Rle>();
    const order = await hits().evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-image-id'))));
    for (const [round, imageId] of order.slice(0, 3).entries()) {
      judgedGrids.set(imageId, shownHit(imageId).grid);
      // The thumbnail outlines the hit's mask once the main side has it (its coarse region until then).
      await eventually(() => hit(imageId).locator('[data-outline]').getAttribute('data-outline')).toBe('mask');
      await eventually(() => previews.has(imageId)).toBe(true);
      outlined.set(imageId, previews.get(imageId)!);
      if (round === 0) {
        await hit(imageId).getByTestId('hit-accept').click();
      } else if (round === 1) {
        await hit(imageId).getByTestId('hit-score').click();
        await page.keyboard.press('a');
      } else {
        // Opened in the editor: the proposal layer shows the hit's mask; A accepts it there, Escape goes back.
        await hit(imageId).getByTestId('hit-open').click();
        const bar = page.getByTestId('search-proposal');
        await eventually(async () => Number(await bar.getAttribute('data-area'))).toBeGreaterThan(0);
        await eventually(() => previews.has(imageId)).toBe(true);
        expect(Number(await bar.getAttribute('data-area'))).toBe(maskArea(decodeRle(previews.get(imageId)!)));
        await page.keyboard.press('a');
        await eventually(() => bar.getAttribute('data-judgement')).toBe('accepted');
        await page.keyboard.press('Escape');
        await page.getByTestId('search-view').waitFor();
      }
      await eventually(() => hit(imageId).getAttribute('data-judgement')).toBe('accepted');
      await searchIdle(page);
    }
    const accepted = [...judgedGrids.keys()];
    // A judged hit keeps its region while the query moves.
    for (const imageId of accepted) expect(shownHit(imageId).grid).toEqual(judgedGrids.get(imageId));

    // The third hit's proposal is the one the editor showed; the other two are asked for the same way here.
    const sessionId = answers.at(-1)!.sessionId;
    const fromEditor = previews.get(accepted[2]);
    for (const imageId of accepted.slice(0, 2)) previews.set(imageId, (await studio.call<{ rle: Rle }>('search', 'hitMask', { sessionId, imageId })).rle);
    expect(fromEditor).toBeDefined();

    await page.keyboard.press('l');
    await eventually(() => page.getByTestId('hit-labeled').count()).toBe(3);
    for (const imageId of accepted) {
      const stored = (await annotationsOf(imageId)).filter((item) => item.source === 'search');
      expect(stored, `image ${imageId}`).toHaveLength(1);
      // Bit for bit what the thumbnail outlined when the hit was judged, and the editor's proposal.
      expect(stored[0].rle).toEqual(outlined.get(imageId));
      expect(stored[0].rle).toEqual(previews.get(imageId));
      expect(maskArea(decodeRle(stored[0].rle)), `image ${imageId}: area of the written mask`).toBeGreaterThan(0);
    }
    const labelled = await Promise.all(images.map((image) => annotationsOf(image.id)));

    // A new search, the same three hits accepted and labelled again: nothing is annotated twice, and the page says so.
    await page.getByTestId('search-run').click();
    await expect.poll(() => page.getByTestId('hit-labeled').count(), { timeout: 60_000 }).toBe(0);
    await searchIdle(page);
    for (const imageId of accepted) {
      await hit(imageId).getByTestId('hit-score').click();
      await page.keyboard.press('a');
      await eventually(() => hit(imageId).getAttribute('data-judgement')).toBe('accepted');
      await searchIdle(page);
    }
    const countBefore = labelled.flat().length;
    await page.getByTestId('search-label-accepted').click();
    await eventually(() => page.getByTestId('notice-info').filter({ hasText: 'already labelled' }).count()).toBeGreaterThan(0);
    await searchIdle(page);
    expect((await Promise.all(images.map((image) => annotationsOf(image.id)))).flat()).toHaveLength(countBefore);
    expect(await page.getByTestId('hit-labeled').count()).toBeGreaterThanOrEqual(1);
  });

  it('moves between hits, accepts and rejects them from the keyboard', async () => {
    const focused = () => page.locator('[data-testid="search-hit"][aria-selected="true"]').getAttribute('data-image-id');
    const order = await hits().evaluateAll((elements) => elements.map((element) => Number(element.getAttribute('data-image-id'))));
    await hits().first().getByTestId('hit-score').click();
    await page.keyboard.press('End');
    expect(await focused()).toBe(String(order.at(-1)));
    await page.keyboard.press('Home');
    expect(await focused()).toBe(String(order[0]));
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe(String(order[1]));
    await page.keyboard.press('r');
    await eventually(() => hit(order[1]).getAttribute('data-judgement')).toBe('rejected');
    await searchIdle(page);
    // After re-ranking, focus is on the next hit to look at: the best one not judged yet; A accepts it, and focus
    // moves on again.
    const unjudged = () => page.locator('[data-testid="search-hit"][data-judgement=""]').first().getAttribute('data-image-id');
    const next = await unjudged();
    expect(next).not.toBe(String(order[1]));
    expect(await focused()).toBe(next);
    await page.keyboard.press('a');
    await eventually(() => hit(Number(next)).getAttribute('data-judgement')).toBe('accepted');
    await searchIdle(page);
    expect(await focused()).toBe(await unjudged());
  });

  it('labels each discovered object as its group showed it, and not twice', async () => {
    await page.getByTestId('view-images').click();
    await page.getByTestId('images-view').waitFor();
    await page.getByTestId('discover-objects').click();
    await expect.poll(() => page.getByTestId('discovery-cluster').count(), { timeout: 60_000 }).toBeGreaterThan(0);
    await eventually(() => discovered !== null).toBe(true);
    const group = discovered!.clusters[0];
    const before = new Map((await Promise.all(images.map(async (image) => [image.id, (await annotationsOf(image.id)).map((item) => item.id)] as const))));
    const cluster = page.getByTestId('discovery-cluster').first();
    await cluster.getByTestId('cluster-label').click();
    await cluster.getByTestId('cluster-labeled').waitFor({ timeout: 30_000 });
    await eventually(() => labelledGroup !== null).toBe(true);
    const members = group.members.filter((member) => member.covered);
    // Every covered member is written, or left out because an object there already covers it.
    expect([...labelledGroup!.imageIds, ...labelledGroup!.alreadyLabelled].sort()).toEqual(members.map((member) => member.imageId).sort());
    expect(labelledGroup!.imageIds.length).toBeGreaterThan(0);
    for (const member of members.filter((item) => labelledGroup!.imageIds.includes(item.imageId))) {
      const added = (await annotationsOf(member.imageId)).filter((item) => !before.get(member.imageId)!.includes(item.id));
      expect(added, `image ${member.imageId}`).toHaveLength(1);
      const mask = decodeRle(added[0].rle), grid = decodeRle(member.grid);
      expect(outsideGrid(mask, grid), `image ${member.imageId}: share of the mask outside the shown region`).toBe(0);
      expect(cellIou(mask, grid), `image ${member.imageId}: cells of the mask vs the shown region`).toBeGreaterThan(0.8);
    }
    const count = async () => (await Promise.all(images.map((image) => annotationsOf(image.id)))).flat().length;
    const labelled = await count();
    labelledGroup = null;
    await cluster.getByTestId('cluster-label').click();
    await eventually(() => labelledGroup?.alreadyLabelled.length).toBe(members.length);
    await eventually(() => page.getByTestId('notice-info').filter({ hasText: `${members.length} object` }).count()).toBeGreaterThan(0);
    await page.waitForFunction(() => document.querySelector('[data-testid="discovery-panel"]')?.getAttribute('data-busy') === '');
    expect(await count()).toBe(labelled);
  });
});
