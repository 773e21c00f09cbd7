/** What the search e2e tests share: waiting for the panel, and the sample's mug as a labeler would draw it. */
import type { Page } from 'playwright-core';
import type { ImageRecord } from '../../core/api/records';
import type { Mask } from '../../core/mask';
import { sampleSvg } from '../../electron/sample';

/** Waits until the search panel has no query or feedback in flight. */
export async function searchIdle(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[data-testid="search-panel"]')?.getAttribute('data-busy') === '', null, { timeout: 60_000 });
}

/** The mug's body (its rectangle, stroke included) on sample image `fileName`, as an image-sized mask. */
export function mugBody(image: ImageRecord): Mask {
  const seed = Number(/sample-(\d+)/.exec(image.fileName)![1]);
  const [, x, y, s] = [...sampleSvg(seed).matchAll(/translate\(([\d.]+) ([\d.]+)\) scale\(([\d.]+)\)/g)].at(-1)!.map(Number);
  const data = new Uint8Array(image.width * image.height);
  for (let py = Math.ceil(y - 52 * s); py <= Math.floor(y + 52 * s); py++) {
    for (let px = Math.ceil(x - 42 * s); px <= Math.floor(x + 42 * s); px++) data[py * image.width + px] = 1;
  }
  return { width: image.width, height: image.height, data };
}
