import { describe, expect, it } from 'vitest';
import { type Mask, createMask } from '../mask';
import { OutlineBudget } from '../polygon';
import { countsToMask, encodeRle } from '../rle';
import { prng } from '../../tests/formats/masks';
import { cocoPolygonsToRle } from './coco-polygon';

/**
 * The step walk of cocoapi `maskApi.c` rleFrPoly, ported line by line (it was our importer until it crashed on a
 * 27 KB file: it stores every 1/5-pixel step). Kept here as the reference the column-jumping version must equal.
 */
function stepWalk(xy: number[], h: number, w: number): Mask {
  const k = xy.length / 2, scale = 5;
  const x: number[] = [], y: number[] = [];
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2] + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  const u: number[] = [], v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { [xs, xe] = [xe, xs]; [ys, ye] = [ye, ys]; }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) for (let d = 0; d <= dx; d++) { const t = flip ? dx - d : d; u.push(t + xs); v.push(Math.trunc(ys + s * t + 0.5)); }
    else for (let d = 0; d <= dy; d++) { const t = flip ? dy - d : d; v.push(t + ys); u.push(Math.trunc(xs + s * t + 0.5)); }
  }
  const bx: number[] = [], by: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    yd = Math.ceil(yd < 0 ? 0 : yd > h ? h : yd);
    bx.push(xd);
    by.push(yd);
  }
  const a = bx.map((xv, j) => xv * h + by[j]);
  a.push(h * w);
  a.sort((p, q) => p - q);
  let previous = 0;
  for (let j = 0; j < a.length; j++) { const t = a[j]; a[j] -= previous; previous = t; }
  const b: number[] = [];
  let j = 0;
  b.push(a[j++]);
  while (j < a.length) {
    if (a[j] > 0) b.push(a[j++]);
    else { j++; if (j < a.length) b[b.length - 1] += a[j++]; }
  }
  return countsToMask(b, h, w);
}

function stepWalkUnion(rings: number[][], width: number, height: number): Mask {
  const out = createMask(width, height);
  for (const ring of rings) {
    const mask = stepWalk(ring, height, width);
    for (let i = 0; i < out.data.length; i++) out.data[i] |= mask.data[i];
  }
  return out;
}

describe('cocoPolygonsToRle', () => {
  it('gives the same pixels as the step walk of rleFrPoly, for random rings over and past the image', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const random = prng(seed);
      const width = 1 + Math.floor(random() * 50), height = 1 + Math.floor(random() * 50);
      const rings: number[][] = [];
      for (let r = 0; r < 1 + Math.floor(random() * 3); r++) {
        const ring: number[] = [];
        for (let k = 0; k < 3 + Math.floor(random() * 10); k++) {
          const x = random() * (width + 12) - 6, y = random() * (height + 12) - 6;
          // Some on whole and half pixels, where the walk's rounding ties are.
          ring.push(seed % 3 ? x : Math.round(x * 2) / 2, seed % 3 ? y : Math.round(y * 2) / 2);
        }
        rings.push(ring);
      }
      expect(cocoPolygonsToRle(rings, width, height), `seed ${seed}`).toEqual(encodeRle(stepWalkUnion(rings, width, height)));
    }
  });

  it('rasterises the audit\'s zigzag (3000 vertices, 10000 x 10000) only within the budget, and fast either way', () => {
    const ring: number[] = [];
    for (let i = 0; i < 3000; i++) ring.push(...(i % 2 === 0 ? [0, 0] : [9999, 9999 - (i % 7)]));
    // Hang guards, not speed targets (the audit's file held the importer for minutes): the refusal comes before the
    // walk (a few ms), generous bounds so a loaded CI machine does not fail them.
    const started = performance.now();
    expect(() => cocoPolygonsToRle([ring], 10000, 10000, new OutlineBudget(20_000_000))).toThrow(/object outlines are too long/);
    expect(performance.now() - started).toBeLessThan(1000);
    const small = ring.slice(0, 2 * 100); // 1 million crossings
    const rle = cocoPolygonsToRle([small], 10000, 10000, new OutlineBudget(20_000_000));
    expect(rle.size).toEqual([10000, 10000]);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
