/**
 * Polygon rasterisation exactly as pycocotools does it (cocoapi `maskApi.c` rleFrPoly): the outline is walked on a
 * 5x finer grid and each pixel column toggles where the outline crosses its centre line. COCO polygon files mean
 * what pycocotools makes of them, so the COCO importer uses this rather than core/polygon's fill. Coordinates have
 * pixel centres at integers; the object's rings are merged by union (`annToRLE`).
 *
 * Why not the C code's shape: it stores every 1/5-pixel step of the outline (u, v arrays) and keeps only the steps
 * that cross a column centre. A 27 KB zigzag asked for billions of steps (3.6 GB, then V8's "invalid size" crash).
 * Here each edge jumps straight to the columns it crosses, evaluating the C code's own expressions at those steps,
 * so the result is the same pixels (checked against the step walk in coco-polygon.test.ts) for work and memory
 * proportional to the crossings, which the file's OutlineBudget bounds.
 */
import { OutlineBudget } from '../polygon';
import { type Rle, encodeCounts } from '../rle';
import { unionCounts } from './runs';

const scale = 5;

/** Columns k whose centre line (5k + 2 -> 5k + 3 on the fine grid) an edge from u0 to u1 crosses, as [first, last]. */
function columnRange(u0: number, u1: number, width: number): [number, number] {
  const low = Math.max(Math.min(u0, u1), 2), high = Math.min(Math.max(u0, u1) - 1, scale * (width - 1) + 2);
  return [Math.ceil((low - 2) / scale), Math.floor((high - 2) / scale)];
}

/** One ring (flat x, y list in file coordinates) to run lengths at height x width, as rleFrPoly computes them. */
function ringCounts(xy: number[], h: number, w: number, budget: OutlineBudget): number[] {
  const k = xy.length / 2;
  const x = new Float64Array(k + 1), y = new Float64Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2] + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1] + 0.5);
  x[k] = x[0];
  y[k] = y[0];
  let total = 0;
  for (let j = 0; j < k; j++) {
    const [first, last] = columnRange(x[j], x[j + 1], w);
    total += Math.max(0, last - first + 1);
  }
  budget.spend(total);
  const a = h * w < 2 ** 32 ? new Uint32Array(total + 1) : new Float64Array(total + 1);
  let n = 0;
  for (let j = 0; j < k; j++) {
    const [first, last] = columnRange(x[j], x[j + 1], w);
    if (first > last) continue;
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { [xs, xe] = [xe, xs]; [ys, ye] = [ye, ys]; }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    // The walk's point t is (t + xs, v(t)) or (u(t), t + ys); the C code keeps the pair where u goes m <-> m + 1.
    const v = (t: number) => Math.trunc(ys + s * t + 0.5);
    const u = (t: number) => Math.trunc(xs + s * t + 0.5);
    for (let column = first; column <= last; column++) {
      const m = scale * column + 2;
      let low: number;
      if (dx >= dy) {
        const t = m - xs;
        low = Math.min(v(t), v(t + 1));
      } else {
        // u is monotone in t: find the first step past m (s > 0) or down to m (s < 0), from an estimate.
        const past = (t: number) => (s > 0 ? u(t) > m : u(t) <= m);
        let t = Math.min(dy, Math.max(1, Math.ceil((m + 0.5 - xs) / s)));
        while (t > 1 && past(t - 1)) t--;
        while (t < dy && !past(t)) t++;
        low = t - 1 + ys;
      }
      const yd = (low + 0.5) / scale - 0.5;
      a[n++] = column * h + Math.ceil(yd < 0 ? 0 : yd > h ? h : yd);
    }
  }
  a[n] = h * w;
  a.sort();
  // As the C code: differences of the sorted toggles; a toggle repeated at one place cancels.
  let previous = 0;
  for (let j = 0; j <= n; j++) { const t = a[j]; a[j] -= previous; previous = t; }
  const b: number[] = [];
  let j = 0;
  b.push(a[j++]);
  while (j <= n) {
    if (a[j] > 0) b.push(a[j++]);
    else { j++; if (j <= n) b[b.length - 1] += a[j++]; }
  }
  return b;
}

/**
 * An object's rings, each rasterised as rleFrPoly does and merged by union, at width x height. Crossings are
 * charged to `budget` before anything is allocated for them.
 */
export function cocoPolygonsToRle(rings: number[][], width: number, height: number, budget = new OutlineBudget(Infinity)): Rle {
  // Coordinates in other units (normalised, or a different image's) show up as wildly out of range.
  const reach = 4 * Math.max(width, height) + 100;
  const lists = rings.map((ring) => {
    if (ring.some((v) => !Number.isFinite(v) || Math.abs(v) > reach)) throw new RangeError(`polygon coordinate far outside the ${width}x${height} image (is it in pixels?)`);
    return ringCounts(ring, height, width, budget);
  });
  return { size: [height, width], counts: encodeCounts(unionCounts(lists, width * height)) };
}
