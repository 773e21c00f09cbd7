/**
 * GPU diagnostics in the interface: real web server trying CUDA first (as a user's install does), real Chromium,
 * on this machine, which has no NVIDIA driver and no CUDA provider. The provider badge is reached with Tab and
 * opened with Enter; the panel names the reason and its fix; after the fallback the CPU badge says why CUDA is
 * unavailable (never silent), in English and in Russian.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type Studio, startStudio } from './harness';

let studio: Studio;
let page: Page;

const badge = () => page.getByTestId('provider');
const panel = () => page.getByTestId('gpu-panel');

/** Presses Tab until the provider badge has the focus (the keyboard path a user takes); fails after 80 stops. */
async function tabToBadge(): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'provider')) return;
  }
  throw new Error('Tab never reached the provider badge');
}

beforeAll(async () => {
  studio = await startStudio({ env: { PIXELWISE_PROVIDERS: 'cuda,cpu' } });
  page = studio.page;
  await page.getByTestId('language-en').click();
}, 120_000);

afterAll(async () => {
  await studio?.close();
});

describe('GPU diagnostics', () => {
  it('opens from the status bar by keyboard and says CPU runs because there is no NVIDIA driver', async () => {
    await tabToBadge();
    await page.keyboard.press('Enter');
    await panel().waitFor();
    const first = page.getByTestId('gpu-finding').first();
    await first.waitFor({ timeout: 60_000 });
    expect(await first.getAttribute('data-code')).toBe('no-driver');
    expect(await first.textContent()).toContain('No NVIDIA driver is installed: /proc/driver/nvidia/version does not exist');
    expect(await first.textContent()).toContain('Install the NVIDIA driver');
    expect(await page.getByTestId('gpu-active').getAttribute('data-provider')).toBe('cpu');
    const codes = await page.getByTestId('gpu-finding').evaluateAll((items) => items.map((item) => item.getAttribute('data-code')));
    expect(codes).toContain('provider-not-installed');
    expect(await page.getByTestId('gpu-command').allTextContents()).toContain('npm run gpu:install');
    await page.screenshot({ path: '/tmp/gpu-panel-en.png' });

    await page.keyboard.press('Escape');
    await panel().waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('provider');
    // The check ran the first session: the badge now shows CPU and says why not CUDA.
    await expect.poll(() => badge().getAttribute('aria-label'), { timeout: 30_000 }).toBe('CPU (CUDA unavailable: no NVIDIA driver)');
    expect(await badge().textContent()).toBe('CPU');
    expect(await badge().getAttribute('title')).toMatch(/^CPU \(CUDA unavailable: no NVIDIA driver\)\nCUDA: CUDA provider not installed/);
  });

  it('says the same in Russian, and opens with a click', async () => {
    await page.getByTestId('language-ru').click();
    await expect.poll(() => badge().getAttribute('aria-label')).toBe('CPU (CUDA недоступна: нет драйвера NVIDIA)');
    await badge().click();
    const first = page.getByTestId('gpu-finding').first();
    await first.waitFor();
    expect(await first.textContent()).toContain('Драйвер NVIDIA не установлен');
    expect(await panel().textContent()).toContain('Почему не CUDA');
    await page.screenshot({ path: '/tmp/gpu-panel-ru.png' });
    await page.getByTestId('gpu-close').click();
    await panel().waitFor({ state: 'detached' });
    await page.getByTestId('language-en').click();
  });
});
