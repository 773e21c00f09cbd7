import { describe, expect, it } from 'vitest';
import { createMask, maskIou } from './mask';
import { OutlineBudget, maskToPolygons, polygonsToMask, ringArea, ringToRle, ringsToMask, simplifyRing } from './polygon';
import { decodeCounts, encodeRle } from './rle';
import { prng } from '../tests/formats/masks';
import { borderFrame, donutWithIsland, masksEqual, noise, randomBlobs, thinParts } from '../tests/formats/masks';

describe('maskToPolygons / polygonsToMask', () => {
  it('traces a single pixel as a unit square, clockwise on screen', () => {
    const m = createMask(3, 3);
    m.data[4] = 1;
    expect(maskToPolygons(m)).toEqual([{ outer: [1, 1, 2, 1, 2, 2, 1, 2], holes: [] }]);
  });

  it('gives a one-pixel hole its own anticlockwise ring', () => {
    const m = createMask(3, 3);
    m.data.fill(1);
    m.data[4] = 0;
    const [polygon] = maskToPolygons(m);
    expect(polygon.outer).toEqual([0, 0, 3, 0, 3, 3, 0, 3]);
    expect(polygon.holes).toEqual([[1, 1, 1, 2, 2, 2, 2, 1]]);
    expect(ringArea(polygon.holes[0])).toBe(-1);
  });

  it('splits pixels that touch only at a corner into two parts', () => {
    const m = createMask(2, 2);
    m.data[0] = m.data[3] = 1;
    const polygons = maskToPolygons(m);
    expect(polygons).toHaveLength(2);
    expect(masksEqual(polygonsToMask(polygons, 2, 2), m)).toBe(true);
  });

  it('assigns an island inside a hole as its own part and nested holes to the right owner', () => {
    const m = donutWithIsland(60, 40);
    const polygons = maskToPolygons(m);
    expect(polygons).toHaveLength(3);
    expect(polygons.map((p) => p.holes.length).sort()).toEqual([0, 0, 1]);
  });

  it.each([
    ['donut', donutWithIsland(64, 48)],
    ['thin parts', thinParts(50, 40)],
    ['border frame', borderFrame(33, 21)],
    ['blobs', randomBlobs(80, 60, 7)],
    ['noise', noise(41, 37, 3)],
    ['full', (() => { const m = createMask(5, 4); m.data.fill(1); return m; })()],
    ['empty', createMask(5, 4)],
  ])('round-trips %s exactly without simplification', (_name, mask) => {
    expect(masksEqual(polygonsToMask(maskToPolygons(mask), mask.width, mask.height), mask)).toBe(true);
  });

  it('round-trips 50 random masks exactly', () => {
    for (let seed = 0; seed < 50; seed++) {
      const mask = seed % 2 ? randomBlobs(37 + seed, 29 + (seed % 7), seed) : noise(17, 13, seed, 0.3 + (seed % 5) / 10);
      expect(masksEqual(polygonsToMask(maskToPolygons(mask), mask.width, mask.height), mask), `seed ${seed}`).toBe(true);
    }
  });

  it('keeps IoU >= 0.98 with the default export tolerance of 0.5 px on blob masks', () => {
    for (let seed = 0; seed < 20; seed++) {
      const mask = randomBlobs(200, 150, seed);
      const back = polygonsToMask(maskToPolygons(mask, { tolerance: 0.5 }), 200, 150);
      expect(maskIou(back, mask)).toBeGreaterThanOrEqual(0.98);
    }
  });
});

describe('simplifyRing', () => {
  it('drops points within tolerance of a straight staircase and keeps corners', () => {
    const ring = [0, 0, 10, 0, 10, 1, 20, 1, 20, 10, 0, 10];
    const simplified = simplifyRing(ring, 1.5);
    expect(simplified.length).toBeLessThan(ring.length);
    expect(simplified).toContain(0);
  });

  it('never collapses a ring below three points', () => {
    expect(simplifyRing([0, 0, 1, 0, 1, 1, 0, 1], 10)).toEqual([0, 0, 1, 0, 1, 1, 0, 1]);
  });
});

describe('ringsToMask', () => {
  it('fills a triangle by pixel centres', () => {
    const mask = ringsToMask([[0, 0, 4, 0, 0, 4]], 4, 4);
    // centre (x+0.5, y+0.5) inside when x + y + 1 < 4
    expect([...mask.data]).toEqual([1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('unions overlapping rings instead of cancelling them', () => {
    const mask = ringsToMask([[0, 0, 3, 0, 3, 3, 0, 3], [1, 1, 2, 1, 2, 2, 1, 2]], 3, 3);
    expect(mask.data.every((v) => v === 1)).toBe(true);
  });

  it('rejects non-finite coordinates', () => {
    expect(() => ringsToMask([[0, 0, NaN, 0, 1, 1]], 3, 3)).toThrow(/finite/);
  });
});

describe('ringToRle', () => {
  it('gives the RLE of the ring filled into a mask, for random rings reaching past every border', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const width = 1 + Math.floor(random() * 40), height = 1 + Math.floor(random() * 40);
      const ring: number[] = [];
      const points = 3 + Math.floor(random() * 12);
      // Half the cases on the half-pixel grid, where outlines pass exactly through pixel centres and corners.
      const grid = seed % 2 ? 0.5 : 0;
      for (let k = 0; k < points; k++) {
        const x = random() * (width + 10) - 5, y = random() * (height + 10) - 5;
        ring.push(grid ? Math.round(x / grid) * grid : x, grid ? Math.round(y / grid) * grid : y);
      }
      expect(ringToRle(ring, width, height), `seed ${seed}`).toEqual(encodeRle(ringsToMask([ring], width, height)));
    }
  });

  it('does not need the area: a full-cover square at 12000 x 12000 is a handful of runs', () => {
    const started = performance.now();
    const rle = ringToRle([0, 0, 12000, 0, 12000, 12000, 0, 12000], 12000, 12000);
    expect(decodeCounts(rle.counts)).toEqual([0, 12000 * 12000]);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('charges its row crossings to the budget and stops before filling when they are over', () => {
    const budget = new OutlineBudget(100);
    ringToRle([0, 0, 10, 0, 10, 10, 0, 10], 20, 20, budget); // 2 edges x 10 rows
    expect(() => ringToRle([0, 0, 10, 0, 10, 90, 0, 90], 100, 100, budget)).toThrow(/object outlines are too long to draw: together more than 100 pixels of outline, the most one file may have/);
  });

  it('charges the run boundaries too: a comb of one-row teeth is few row crossings but runs all over the image', () => {
    const comb = (teeth: number, width: number): number[] => {
      const ring = [0, 0];
      for (let t = 0; t < teeth; t++) ring.push(width, 2 * t, width, 2 * t + 1, 1, 2 * t + 1, 1, 2 * t + 2);
      ring.push(0, 2 * teeth);
      return ring;
    };
    const small = comb(5, 30);
    expect(ringToRle(small, 30, 10)).toEqual(encodeRle(ringsToMask([small], 30, 10)));
    const started = performance.now();
    expect(() => ringToRle(comb(6000, 12000), 12000, 12000, new OutlineBudget(1_000_000))).toThrow(/object outlines are too long/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
