/**
 * Polygon rasterisation exactly as pycocotools does it (cocoapi `maskApi.c` rleFrPoly, ported): the outline is
 * walked on a 5x finer grid and each pixel column toggles where the outline crosses its centre line. COCO polygon
 * files mean what pycocotools makes of them, so the COCO importer uses this rather than core/polygon's fill.
 * Coordinates have pixel centres at integers; the object's rings are merged by union (`annToRLE`).
 */
import { type Mask, createMask } from '../mask';
import { countsToMask } from '../rle';

/** One ring (flat x, y list) to a mask of height x width. */
export function frPoly(xy: number[], h: number, w: number): Mask {
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

/** An object's rings, each rasterised by frPoly and merged by union. */
export function cocoPolygonsToMask(rings: number[][], width: number, height: number): Mask {
  const out = createMask(width, height);
  for (const ring of rings) {
    // The walk visits every 1/5 pixel of the outline: bound it so a hostile file cannot ask for billions of steps.
    const reach = 4 * Math.max(width, height) + 100;
    if (ring.some((v) => !Number.isFinite(v) || Math.abs(v) > reach)) throw new RangeError(`polygon coordinate far outside the ${width}x${height} image (is it in pixels?)`);
    const mask = frPoly(ring, height, width);
    for (let i = 0; i < out.data.length; i++) out.data[i] |= mask.data[i];
  }
  return out;
}
