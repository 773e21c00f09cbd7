import { describe, expect, it } from 'vitest';
import { squaredDistanceTransform } from './distance';

/** Brute force: nearest pixel outside the region, including the ring of pixels just beyond the border. */
function bruteForce(region: Uint8Array, width: number, height: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!region[y * width + x]) {
        out.push(0);
        continue;
      }
      let best = Infinity;
      for (let v = -1; v <= height; v++) {
        for (let u = -1; u <= width; u++) {
          const outside = u < 0 || v < 0 || u >= width || v >= height || !region[v * width + u];
          if (outside) best = Math.min(best, (u - x) ** 2 + (v - y) ** 2);
        }
      }
      out.push(best);
    }
  }
  return out;
}

describe('squaredDistanceTransform', () => {
  it('is exact against brute force, with the image border as boundary', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [width, height, density] of [[1, 1, 1], [5, 1, 1], [13, 9, 0.9], [20, 17, 0.97], [8, 30, 0.6]]) {
      const region = Uint8Array.from({ length: width * height }, () => (random() < density ? 1 : 0));
      expect(Array.from(squaredDistanceTransform(region, width, height))).toEqual(bruteForce(region, width, height));
    }
  });

  it('gives a full image the distance to its border', () => {
    const d = squaredDistanceTransform(new Uint8Array(7 * 5).fill(1), 7, 5);
    expect(d[2 * 7 + 3]).toBe(9); // centre (3, 2): three pixels to the top/bottom ring
    expect(d[0]).toBe(1);
  });
});
