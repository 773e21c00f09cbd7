/**
 * Generated masks for format tests: holes, thin parts, several parts, border contact, and seeded random blobs.
 * All masks are row-major 0/1 (core/mask), sizes in image pixels.
 */
import { type Mask, createMask } from '../../core/mask';
import { seededRandom } from '../../core/random';

/** Seeded PRNG so failures reproduce. */
export const prng = seededRandom;


function paint(mask: Mask, inside: (x: number, y: number) => boolean, value = 1): Mask {
  for (let y = 0; y < mask.height; y++) for (let x = 0; x < mask.width; x++) if (inside(x, y)) mask.data[y * mask.width + x] = value;
  return mask;
}

/** A ring (disc with a hole) plus a separate square part plus an island inside the hole. */
export function donutWithIsland(width: number, height: number): Mask {
  const m = createMask(width, height);
  const cx = width * 0.35, cy = height * 0.5, r = Math.min(width, height) * 0.3;
  paint(m, (x, y) => {
    const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
    return (d < r && d > r * 0.5) || d < r * 0.2;
  });
  paint(m, (x, y) => x >= width * 0.75 && x < width * 0.9 && y >= height * 0.2 && y < height * 0.4);
  return m;
}

/** Thin parts: a 1-pixel line, a 2-pixel diagonal band, touching the image border on left and bottom. */
export function thinParts(width: number, height: number): Mask {
  const m = createMask(width, height);
  paint(m, (x, y) => y === Math.floor(height / 4) && x < width * 0.8);
  paint(m, (x, y) => Math.abs(x - y) <= 1 && y > height / 3);
  paint(m, (x, y) => x < 3 && y > height / 2);
  paint(m, (x, y) => y >= height - 2 && x > width / 2);
  return m;
}

/** A frame touching all four borders (its hole is the whole interior) with a blob inside. */
export function borderFrame(width: number, height: number): Mask {
  const m = createMask(width, height);
  paint(m, (x, y) => x < 4 || y < 4 || x >= width - 4 || y >= height - 4);
  paint(m, (x, y) => Math.hypot(x - width / 2, y - height / 2) < Math.min(width, height) / 6);
  return m;
}

/** Random blobs: union of seeded discs and boxes, minus some smaller discs (holes). */
export function randomBlobs(width: number, height: number, seed: number): Mask {
  const random = prng(seed);
  const m = createMask(width, height);
  for (let k = 0; k < 4; k++) {
    const cx = random() * width, cy = random() * height, r = 3 + random() * Math.min(width, height) * 0.25;
    paint(m, (x, y) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) < r);
  }
  for (let k = 0; k < 3; k++) {
    const cx = random() * width, cy = random() * height, r = 2 + random() * Math.min(width, height) * 0.08;
    paint(m, (x, y) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) < r, 0);
  }
  return m;
}

/** Pixel noise: the worst case for tracing (saddles everywhere). */
export function noise(width: number, height: number, seed: number, density = 0.5): Mask {
  const random = prng(seed);
  return paint(createMask(width, height), () => random() < density);
}

export function masksEqual(a: Mask, b: Mask): boolean {
  return a.width === b.width && a.height === b.height && a.data.every((v, i) => (v ? 1 : 0) === (b.data[i] ? 1 : 0));
}
