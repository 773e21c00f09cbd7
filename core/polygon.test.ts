import { describe, expect, it } from 'vitest';
import { createMask, maskIou } from './mask';
import { maskToPolygons, polygonsToMask, ringArea, ringsToMask, simplifyRing } from './polygon';
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
