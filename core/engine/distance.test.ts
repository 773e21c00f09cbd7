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

describe('geodesicDistance', () => {
  it('matches Dijkstra on the 8-neighbour grid (raster scans, enough sweeps)', async () => {
    const { edgeCosts, geodesicDistance } = await import('./geodesic');
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [width, height] of [[1, 1], [6, 1], [1, 5], [9, 7], [16, 12]]) {
      const dim = 3, count = width * height;
      const data = new Float32Array(count * dim).map(() => random() - 0.5);
      for (let c = 0; c < count; c++) {
        const n = Math.hypot(data[c * 3], data[c * 3 + 1], data[c * 3 + 2]);
        for (let k = 0; k < 3; k++) data[c * 3 + k] /= n;
      }
      const edges = edgeCosts(data, width, height, dim, 4, 0.5);
      const seedCell = Math.floor(random() * count);
      const fast = geodesicDistance(edges, [seedCell], undefined, 8);
      // Reference: Dijkstra with a linear scan (tiny grids).
      const cost = (a: number, b: number) => {
        const [ax, ay, bx, by] = [a % width, Math.floor(a / width), b % width, Math.floor(b / width)];
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const [lx, ly] = [lo % width, Math.floor(lo / width)];
        const [hx, hy] = [hi % width, Math.floor(hi / width)];
        if (Math.abs(ax - bx) > 1 || Math.abs(ay - by) > 1) return Infinity;
        if (hy === ly) return edges.right[lo];
        if (hx === lx) return edges.down[lo];
        return hx > lx ? edges.downRight[lo] : edges.downLeft[lo];
      };
      const reference = new Array(count).fill(Infinity), done = new Array(count).fill(false);
      reference[seedCell] = 0;
      for (let step = 0; step < count; step++) {
        let u = -1;
        for (let c = 0; c < count; c++) if (!done[c] && (u < 0 || reference[c] < reference[u])) u = c;
        done[u] = true;
        for (let c = 0; c < count; c++) if (c !== u) reference[c] = Math.min(reference[c], reference[u] + cost(u, c));
      }
      fast.forEach((value, c) => expect(value).toBeCloseTo(reference[c], 4));
    }
  });
});
