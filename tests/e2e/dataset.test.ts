/**
 * The dataset views end to end: real web server, real import and embedding jobs, real Chromium. Creates a project
 * from the projects view, imports generated PNG/JPEG files and one corrupt file (which must show as failed with a
 * reason), embeds everything while the status bar shows progress, reviews with the keyboard and undoes it, and
 * reloads the page to find the same state.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type Studio, startStudio } from './harness';

const pngCount = 6;
const jpegCount = 5;
const goodCount = pngCount + jpegCount;

let studio: Studio;
let page: Page;
let pngDir: string;
let jpegDir: string;

/** Distinct scenes (a coloured background, a disc and a square at positions that depend on i), 200x150. */
async function writeScene(file: string, i: number): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="150">
    <rect width="200" height="150" fill="hsl(${(i * 47) % 360},40%,30%)"/>
    <circle cx="${50 + ((i * 23) % 100)}" cy="${40 + ((i * 17) % 70)}" r="${15 + (i % 4) * 5}" fill="hsl(${(i * 97) % 360},70%,60%)"/>
    <rect x="${120 - ((i * 11) % 60)}" y="${20 + ((i * 7) % 40)}" width="40" height="30" fill="#f0f0f0"/>
  </svg>`;
  const image = sharp(Buffer.from(svg));
  await (file.endsWith('.png') ? image.png() : image.jpeg({ quality: 85 })).toFile(file);
}

const count = (status: string) => page.getByTestId(`status-count-${status}`).textContent().then(Number);
const tiles = (status?: string) => page.locator(status ? `[data-testid="image-tile"][data-status="${status}"]` : '[data-testid="image-tile"]');

declare global {
  interface Window {
    progressSeen?: string[];
  }
}

/** Records every state the job progress bars pass through (kind:done/total), from a MutationObserver in the page. */
async function recordProgress(): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    window.progressSeen = seen;
    const sample = () => {
      for (const bar of Array.from(document.querySelectorAll<HTMLElement>('[data-testid="job-progress"]'))) {
        const kind = bar.closest<HTMLElement>('[data-testid="job"]')?.dataset.kind;
        const entry = `${kind}:${bar.dataset.done}/${bar.dataset.total}`;
        if (seen.at(-1) !== entry) seen.push(entry);
      }
    };
    new MutationObserver(sample).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
}

async function progressSeen(kind: string): Promise<Array<{ done: number; total: number }>> {
  const seen = await page.evaluate(() => window.progressSeen ?? []);
  return seen.filter((entry) => entry.startsWith(`${kind}:`)).map((entry) => {
    const [done, total] = entry.slice(kind.length + 1).split('/').map(Number);
    return { done, total };
  });
}

describe('dataset views', () => {
  beforeAll(async () => {
    studio = await startStudio();
    page = studio.page;
    pngDir = join(studio.dataDir, 'photos', 'png');
    jpegDir = join(studio.dataDir, 'photos', 'jpeg');
    mkdirSync(pngDir, { recursive: true });
    mkdirSync(jpegDir, { recursive: true });
    for (let i = 0; i < pngCount; i++) await writeScene(join(pngDir, `scene-${i}.png`), i);
    for (let i = 0; i < jpegCount; i++) await writeScene(join(jpegDir, `photo-${i}.jpg`), 100 + i);
    writeFileSync(join(jpegDir, 'corrupt.jpg'), Buffer.from('definitely not a JPEG file'));
  });

  afterAll(async () => {
    await studio?.close();
  });

  it('refuses a file that is not a project with a clear error', async () => {
    await page.getByTestId('project-path-input').fill(join(jpegDir, 'photo-0.jpg'));
    await page.getByTestId('project-open').click();
    const error = page.getByTestId('project-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('not-a-project');
    expect(await error.textContent()).toContain('photo-0.jpg');
  });

  it('creates a project and imports files and folders, showing the corrupt file as failed with its reason', async () => {
    const projectPath = join(studio.dataDir, 'dataset-e2e.pixelwise');
    await page.getByTestId('project-path-input').fill(projectPath);
    await page.getByTestId('project-create').click();
    await page.getByTestId('images-view').waitFor();
    expect(await page.getByTestId('project-name').textContent()).toBe('dataset-e2e');
    await page.getByTestId('images-empty').waitFor();

    await recordProgress();
    await page.getByTestId('import-open').click();
    // Two folders, one path per line.
    await page.getByTestId('import-paths').fill(`${pngDir}\n${jpegDir}`);
    await page.getByTestId('import-start').click();
    await expect.poll(() => tiles().count(), { timeout: 60_000 }).toBe(goodCount + 1);
    await expect.poll(() => page.getByTestId('job').count(), { timeout: 60_000 }).toBe(0);
    expect((await progressSeen('import')).length).toBeGreaterThan(0);
    await page.getByTestId('job-finished').waitFor();
    expect(await page.getByTestId('job-finished').getAttribute('data-kind')).toBe('import');

    expect(await count('all')).toBe(goodCount + 1);
    expect(await count('new')).toBe(goodCount);
    expect(await count('failed')).toBe(1);
    const failed = tiles('failed');
    expect(await failed.count()).toBe(1);
    const title = (await failed.getAttribute('title')) ?? '';
    expect(title).toContain('corrupt.jpg');
    // The reason is the stored error, shown on hover.
    const [record] = (await studio.call<{ items: Array<{ error: string | null }> }>('images', 'list', { status: 'failed' })).items;
    expect(record.error).toBeTruthy();
    expect(title).toContain(record.error!);

    await page.getByTestId('status-filter-failed').click();
    await expect.poll(() => tiles().count()).toBe(1);
    await page.getByTestId('image-search').fill('scene');
    await page.getByTestId('status-filter-all').click();
    await expect.poll(() => tiles().count()).toBe(pngCount);
    await page.getByTestId('image-search').fill('');
    await expect.poll(() => tiles().count()).toBe(goodCount + 1);
  });

  it('embeds all images with a progress bar and status changes, on the CPU provider', async () => {
    expect(await tiles('new').count()).toBe(goodCount);
    await page.getByTestId('embed-all').click();
    await expect.poll(() => count('embedded'), { timeout: 120_000 }).toBe(goodCount);
    await expect.poll(() => page.getByTestId('job').count(), { timeout: 60_000 }).toBe(0);
    expect(await count('new')).toBe(0);
    await expect.poll(() => tiles('embedded').count()).toBe(goodCount);
    expect(await tiles('failed').count()).toBe(1);

    // The bar appeared as soon as the job was queued and only moved forward; the summary shows every image done.
    // (How many steps in between depends on the machine's speed against the ~2/s polling.)
    const embedProgress = await progressSeen('embed');
    expect(embedProgress.length).toBeGreaterThan(0);
    expect(embedProgress[0].done).toBeLessThan(goodCount);
    for (let i = 1; i < embedProgress.length; i++) expect(embedProgress[i].done).toBeGreaterThanOrEqual(embedProgress[i - 1].done);
    expect(embedProgress.every((step) => step.total === 0 || step.total === goodCount)).toBe(true);
    expect(await page.getByTestId('job-finished').textContent()).toContain(`${goodCount}`);
    expect(await page.getByTestId('job-finished').getAttribute('data-kind')).toBe('embed');
    expect(await page.getByTestId('job-finished').getAttribute('data-status')).toBe('done');
    await expect.poll(() => page.getByTestId('provider').getAttribute('data-provider')).toBe('cpu');
    expect(await page.getByTestId('provider').textContent()).toBe('CPU');
  });

  it('marks images reviewed from the keyboard and undoes it', async () => {
    await tiles().nth(1).click();
    await tiles().nth(3).click({ modifiers: ['Shift'] });
    expect(await page.getByTestId('selection-count').getAttribute('data-count')).toBe('3');
    await page.keyboard.press('r');
    await expect.poll(() => count('reviewed')).toBe(3);
    await page.keyboard.press('Control+z');
    await expect.poll(() => count('reviewed')).toBe(0);
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(() => count('reviewed')).toBe(3);
  });

  it('adds, renames (with undo), recolours and deletes classes', async () => {
    const names = () => page.getByTestId('class-name').allTextContents();
    await page.getByTestId('class-name-input').fill('boat');
    await page.keyboard.press('Enter');
    await page.getByTestId('class-name-input').fill('buoy');
    await page.getByTestId('class-add').click();
    await expect.poll(names).toEqual(['boat', 'buoy']);

    await page.getByTestId('class-name').first().click();
    await page.getByTestId('class-rename-input').fill('ship');
    await page.keyboard.press('Enter');
    await expect.poll(names).toEqual(['ship', 'buoy']);
    await page.getByTestId('image-grid').focus();
    await page.keyboard.press('Control+z');
    await expect.poll(names).toEqual(['boat', 'buoy']);

    // What the native colour picker does when closed: set the value and fire 'change'.
    await page.getByTestId('class-color').nth(1).evaluate((element) => {
      const input = element as HTMLInputElement;
      input.value = '#00ff00';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await expect.poll(async () => (await studio.call<Array<{ name: string; color: string }>>('classes', 'list'))
      .find((item) => item.name === 'buoy')?.color).toBe('#00ff00');

    await page.getByTestId('class-delete').first().click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(names).toEqual(['buoy']);
  });

  it('keeps the state across a reload, including the language', async () => {
    await page.getByTestId('language-ru').click();
    await page.reload();
    await page.getByTestId('images-view').waitFor();
    await expect.poll(() => tiles().count()).toBe(goodCount + 1);
    expect(await page.getByTestId('project-name').textContent()).toBe('dataset-e2e');
    expect(await count('embedded')).toBe(goodCount - 3);
    expect(await count('reviewed')).toBe(3);
    expect(await count('failed')).toBe(1);
    expect(await tiles('reviewed').count()).toBe(3);
    expect(await tiles('failed').count()).toBe(1);
    expect(await page.getByTestId('class-name').allTextContents()).toEqual(['buoy']);
    expect(await page.getByTestId('status-filter-all').textContent()).toContain('Все');
    await page.getByTestId('language-en').click();
    expect(await page.getByTestId('status-filter-all').textContent()).toContain('All');
  });

  it('removes an image only after confirmation', async () => {
    await page.getByTestId('status-filter-failed').click();
    await expect.poll(() => tiles().count()).toBe(1);
    await tiles().first().click();
    await page.keyboard.press('Delete');
    await page.getByTestId('confirm-dialog').waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('confirm-dialog').count()).toBe(0);
    expect(await count('failed')).toBe(1);

    await page.getByTestId('remove-selected').click();
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => count('failed')).toBe(0);
    await page.getByTestId('images-empty').waitFor();
    expect(await count('all')).toBe(goodCount);
  });
});
