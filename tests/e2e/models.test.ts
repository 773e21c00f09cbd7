/**
 * The Models view in real Chromium against the real web server: a local HTTP server on 127.0.0.1 (started here)
 * serves a small model (the built-in colour+position ONNX under another id, sent slowly so the progress shows) and
 * a copy whose manifest has a wrong sha256. The bad one is refused with its reason; the good one is added by URL
 * with progress, then used for a project, whose re-embedding the status bar follows until it shows the new model.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectModelState } from '../../core/api/models-contract';
import type { JobRecord } from '../../core/api/records';
import { builtinModelsDir } from '../../electron/paths';
import { writeImages } from '../fixtures';
import { type Studio, startStudio, waitUntil } from './harness';

const builtin = join(builtinModelsDir(), 'pixelwise-colorpos');
const onnx = readFileSync(join(builtin, 'model.onnx'));
const manifest = { ...JSON.parse(readFileSync(join(builtin, 'model.json'), 'utf8')), id: 'served-colorpos', name: 'Served colour + position' };
const files = new Map<string, Buffer>([
  ['/good/model.json', Buffer.from(JSON.stringify(manifest))],
  ['/good/model.onnx', onnx],
  ['/bad/model.json', Buffer.from(JSON.stringify({ ...manifest, id: 'bad-colorpos', sha256: 'c'.repeat(64) }))],
  ['/bad/model.onnx', onnx],
]);

/** Serves `files`; ONNX bodies go out 1 kB every 200 ms (about 3 s in all), so a progress bar can be seen. */
const modelServer: Server = createServer((request, response) => {
  const body = files.get(request.url ?? '');
  if (!body) return void response.writeHead(404).end('not found');
  response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
  if (!request.url?.endsWith('.onnx')) return void response.end(body);
  let sent = 0;
  const timer = setInterval(() => {
    response.write(body.subarray(sent, sent + 1024));
    sent += 1024;
    if (sent >= body.length) {
      clearInterval(timer);
      response.end();
    }
  }, 200);
  response.on('close', () => clearInterval(timer));
});

let studio: Studio;
let page: Page;
let origin: string;

beforeAll(async () => {
  await new Promise<void>((done) => modelServer.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(modelServer.address() as AddressInfo).port}`;
  studio = await startStudio();
  page = studio.page;
  await page.getByTestId('language-en').click();
  // A project embedded with the built-in colour+position model; big images so the switch takes a few seconds.
  const photos = await writeImages(join(studio.dataDir, 'photos'), 8, 1600, 1200);
  await studio.call('projects', 'create', { path: join(studio.dataDir, 'switch.pixelwise') });
  await studio.call('images', 'import', { paths: photos });
  await studio.call('embeddings', 'start', { modelId: 'pixelwise-colorpos' });
  await waitUntil(() => studio.call<JobRecord[]>('jobs', 'list', { activeOnly: true }), (jobs) => jobs.length === 0, 'import and embedding', 120_000);
  await page.reload();
  await page.getByTestId('images-view').waitFor();
}, 180_000);

afterAll(async () => {
  await studio?.close();
  modelServer.closeAllConnections();
  await new Promise((done) => modelServer.close(done));
});

describe('the Models view', () => {
  it('adds a model by URL with progress, refuses a wrong checksum, and re-embeds the project with the new model', async () => {
    await expect.poll(() => page.getByTestId('model').getAttribute('data-model')).toBe('pixelwise-colorpos');
    await page.keyboard.press('Alt+5');
    await page.getByTestId('models-view').waitFor();
    await page.getByTestId('catalogue-entry').first().waitFor();
    const ids = await page.getByTestId('model-item').evaluateAll((items) => items.map((item) => item.getAttribute('data-model')));
    expect(ids).toEqual(expect.arrayContaining(['pixelwise-unet-s', 'pixelwise-colorpos']));
    expect(await page.getByTestId('catalogue-entry').evaluateAll((items) => items.map((item) => item.getAttribute('data-entry'))))
      .toEqual(['dinov2-vits14', 'dinov2-vitb14', 'sam-vit-b']);

    // A wrong checksum: said in the view, nothing installed.
    await page.getByTestId('model-source').fill(`${origin}/bad/model.json`);
    await page.getByTestId('model-source').press('Enter');
    const error = page.getByTestId('model-install-error');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toMatch(/model\.onnx: sha256 is [0-9a-f]{64} but model\.json says c{64}/);
    expect(await page.locator('[data-testid="model-item"][data-model="bad-colorpos"]').count()).toBe(0);

    // Everything the progress line and the status bar's switch line show, as they change (both are brief).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        for (const id of ['model-install-bytes', 'model-switching']) {
          const text = document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();
          if (text && seen.at(-1) !== text) seen.push(text);
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const seen = () => page.evaluate(() => (window as unknown as { seen: string[] }).seen);

    // The good one: progress in bytes while it downloads, then listed, selected, with its manifest.
    await page.getByTestId('model-source').fill(`${origin}/good/model.json`);
    await page.getByTestId('model-add').click();
    await expect.poll(seen, { timeout: 30_000 }).toContainEqual(expect.stringMatching(/^\d+(\.\d)? (B|KB) of 16 KB\s+\(\d+%\)/));
    await page.screenshot({ path: '/tmp/pixelwise-models-progress.png' });
    const item = page.locator('[data-testid="model-item"][data-model="served-colorpos"]');
    await item.waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByTestId('model-details').getAttribute('data-model')).toBe('served-colorpos');
    expect(await page.getByTestId('model-source-value').textContent()).toBe(`${origin}/good/model.json`);
    expect(await page.getByTestId('model-dim').textContent()).toBe('16');

    // Keyboard: the list moves with the arrow keys.
    await item.focus();
    await page.keyboard.press('Home');
    await expect.poll(() => page.getByTestId('model-details').getAttribute('data-model')).toBe(ids[0]);
    await page.keyboard.press('End');
    await expect.poll(() => page.getByTestId('model-details').getAttribute('data-model')).toBe('served-colorpos');

    // Use it: the status bar shows the switch while it runs and the new model once every image is embedded.
    await page.getByTestId('model-use').click();
    await expect.poll(() => page.getByTestId('model').getAttribute('data-model'), { timeout: 120_000 }).toBe('served-colorpos');
    expect(await seen()).toContainEqual(expect.stringMatching(/switching to Served colour \+ position \(\d\/8\)/));
    expect(await page.getByTestId('model-switching').count()).toBe(0);
    await page.getByTestId('model-active').waitFor();
    const state = await studio.call<ProjectModelState>('models', 'active');
    expect(state.activeModelId).toBe('served-colorpos');
    expect(Object.fromEntries(state.stored.map((row) => [row.modelId, row.count]))).toEqual({ 'pixelwise-colorpos': 8, 'served-colorpos': 8 });
    await expect.poll(() => page.getByTestId('model-usage').textContent()).toMatch(/switch.*open.*works with it.*8 images embedded/);
    await page.screenshot({ path: '/tmp/pixelwise-models-en.png', fullPage: true });

    await page.getByTestId('language-ru').click();
    await expect.poll(() => page.getByTestId('model-use').textContent()).toContain('Использовать в этом проекте');
    await page.screenshot({ path: '/tmp/pixelwise-models-ru.png' });
    await page.getByTestId('language-en').click();
  }, 240_000);
});
