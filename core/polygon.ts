/**
 * Masks <-> polygons.
 *
 * Coordinates are pixel edges: pixel (x, y) covers the square [x, x+1) x [y, y+1), so the outline of a mask runs
 * along pixel edges and has integer vertices. Filling tests each pixel's centre (x + 0.5, y + 0.5); with that pair
 * of conventions `polygonsToMask(maskToPolygons(m))` gives back `m` exactly when no simplification is asked for.
 *
 * Tracing follows the cracks between pixels (a crack-following variant of Moore tracing): every edge between a set
 * pixel and an unset one becomes a directed unit edge with the object on its right (y points down), and the edges
 * are linked into closed rings. Outer rings come out clockwise on screen (positive shoelace area), hole rings
 * anticlockwise (negative). Where two pixels touch only at a corner the trace turns towards its own pixel, so
 * diagonal neighbours become separate parts (4-connectivity) — the fill is the same either way.
 */
import { type Mask, createMask } from './mask';
import { type Rle, encodeCounts } from './rle';

/** Flat [x0, y0, x1, y1, ...] in pixel-edge coordinates; closed implicitly (last point joins the first). */
export type Ring = number[];

/** One connected part: its outline and the outlines of its holes. */
export interface Polygon {
  outer: Ring;
  holes: Ring[];
}

export interface TraceOptions {
  /** Douglas-Peucker tolerance in pixels; 0 (default) keeps the exact outline, only dropping collinear points. */
  tolerance?: number;
}

const dxs = [1, 0, -1, 0];
const dys = [0, 1, 0, -1];

/** Shoelace area: positive for outer rings as traced here, negative for holes. */
export function ringArea(ring: Ring): number {
  let sum = 0;
  const n = ring.length;
  for (let i = 0; i < n; i += 2) {
    const j = (i + 2) % n;
    sum += ring[i] * ring[j + 1] - ring[j] * ring[i + 1];
  }
  return sum / 2;
}

/** Even-odd point-in-ring test. */
export function ringContains(ring: Ring, px: number, py: number): boolean {
  let inside = false;
  const n = ring.length;
  for (let i = 0, j = n - 2; i < n; j = i, i += 2) {
    const xi = ring[i], yi = ring[i + 1], xj = ring[j], yj = ring[j + 1];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

interface TracedRing {
  ring: Ring;
  area: number;
  /** A point strictly inside the region left of the ring (inside the hole, for a hole ring). */
  leftX: number;
  leftY: number;
}

/** All boundary rings of the mask, exact (integer vertices at direction changes only). */
function traceRings(mask: Mask): TracedRing[] {
  const { width, height, data } = mask;
  const stride = width + 1;
  const edges = new Uint8Array(stride * (height + 1));
  const set = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && data[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!data[y * width + x]) continue;
      if (!set(x, y - 1)) edges[y * stride + x] |= 1; // top edge, going +x
      if (!set(x + 1, y)) edges[y * stride + x + 1] |= 2; // right edge, going +y
      if (!set(x, y + 1)) edges[(y + 1) * stride + x + 1] |= 4; // bottom edge, going -x
      if (!set(x - 1, y)) edges[(y + 1) * stride + x] |= 8; // left edge, going -y
    }
  }
  const steps = [1, stride, -1, -stride];
  const rings: TracedRing[] = [];
  for (let start = 0; start < edges.length; start++) {
    while (edges[start]) {
      const startDir = 31 - Math.clz32(edges[start] & -edges[start]);
      const ring: number[] = [start % stride, Math.floor(start / stride)];
      let v = start, d = startDir;
      edges[v] &= ~(1 << d);
      for (;;) {
        v += steps[d];
        let next = -1;
        for (const c of [(d + 1) & 3, d, (d + 3) & 3]) {
          if (v === start && c === startDir) { next = -2; break; }
          if (edges[v] & (1 << c)) { next = c; break; }
        }
        if (next === -2) break;
        if (next === -1) throw new Error('contour tracing lost its way (bug)');
        if (next !== d) ring.push(v % stride, Math.floor(v / stride));
        edges[v] &= ~(1 << next);
        d = next;
      }
      if (d === startDir) ring.splice(0, 2); // the start vertex was mid-edge
      const sx = start % stride, sy = Math.floor(start / stride);
      const leftX = sx + dxs[startDir] / 2 + dys[startDir] / 2;
      const leftY = sy + dys[startDir] / 2 - dxs[startDir] / 2;
      rings.push({ ring, area: ringArea(ring), leftX, leftY });
    }
  }
  return rings;
}

/** Perpendicular distance from (px, py) to the segment (ax, ay)-(bx, by). */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const length2 = dx * dx + dy * dy;
  let t = length2 === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / length2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Douglas-Peucker on a closed ring; keeps the ring as it is if simplifying would leave fewer than 3 points. */
export function simplifyRing(ring: Ring, tolerance: number): Ring {
  const n = ring.length / 2;
  if (tolerance <= 0 || n <= 4) return ring;
  let far = 0, farDistance = -1;
  for (let i = 1; i < n; i++) {
    const d = Math.hypot(ring[2 * i] - ring[0], ring[2 * i + 1] - ring[1]);
    if (d > farDistance) { farDistance = d; far = i; }
  }
  const keep = new Uint8Array(n);
  keep[0] = keep[far] = 1;
  const stack: Array<[number, number]> = [[0, far], [far, n]];
  while (stack.length) {
    const [a, b] = stack.pop()!;
    const bi = b % n;
    let best = -1, bestDistance = tolerance;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance(ring[2 * i], ring[2 * i + 1], ring[2 * a], ring[2 * a + 1], ring[2 * bi], ring[2 * bi + 1]);
      if (d > bestDistance) { bestDistance = d; best = i; }
    }
    if (best >= 0) {
      keep[best] = 1;
      stack.push([a, best], [best, b]);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(ring[2 * i], ring[2 * i + 1]);
  return out.length >= 6 && ringArea(out) !== 0 ? out : ring;
}

/**
 * Outlines of every connected part (4-connected) with its holes, in pixel-edge coordinates.
 * Parts come out in raster order of their top-left corner.
 */
export function maskToPolygons(mask: Mask, options: TraceOptions = {}): Polygon[] {
  const traced = traceRings(mask);
  const outers = traced.filter((r) => r.area > 0);
  const polygons: Polygon[] = outers.map((r) => ({ outer: r.ring, holes: [] }));
  const boxes = outers.map((r) => ringBox(r.ring));
  for (const hole of traced) {
    if (hole.area >= 0) continue;
    // The innermost outer ring containing a point inside the hole owns it.
    let owner = -1;
    for (let i = 0; i < outers.length; i++) {
      const [x0, y0, x1, y1] = boxes[i];
      if (hole.leftX < x0 || hole.leftX > x1 || hole.leftY < y0 || hole.leftY > y1) continue;
      if (!ringContains(outers[i].ring, hole.leftX, hole.leftY)) continue;
      if (owner < 0 || outers[i].area < outers[owner].area) owner = i;
    }
    if (owner < 0) throw new Error('hole ring outside every outer ring (bug)');
    polygons[owner].holes.push(hole.ring);
  }
  const tolerance = options.tolerance ?? 0;
  if (tolerance <= 0) return polygons;
  return polygons.map((p) => ({ outer: simplifyRing(p.outer, tolerance), holes: p.holes.map((h) => simplifyRing(h, tolerance)) }));
}

function ringBox(ring: Ring): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < ring.length; i += 2) {
    x0 = Math.min(x0, ring[i]); x1 = Math.max(x1, ring[i]);
    y0 = Math.min(y0, ring[i + 1]); y1 = Math.max(y1, ring[i + 1]);
  }
  return [x0, y0, x1, y1];
}


/** Coordinates this far out are certainly wrong, and would lose precision in the scanline arithmetic. */
const maxCoordinate = 1e9;

/**
 * What rasterising the polygons of one file may cost. The unit is one crossing of an outline with a pixel row
 * (scanline fill) or a pixel column (COCO's fill): time and memory of a fill grow with the crossings, not with the
 * file's size or the image's area, so a few kilobytes of zigzag outline cannot ask for billions of steps.
 */
export class OutlineBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  spend(crossings: number): void {
    this.used += crossings;
    if (this.used > this.limit) {
      const limit = this.limit.toLocaleString('en-US');
      throw new RangeError(`object outlines are too long to draw: together more than ${limit} pixels of outline, the most one file may have (are the coordinates in pixels of this image?)`);
    }
  }
}

/** The non-horizontal edges that reach a pixel centre row, by first row; `crossings` = (row, edge) pairs. */
interface EdgeTable {
  x0: Float64Array;
  y0: Float64Array;
  slope: Float64Array;
  first: Int32Array;
  last: Int32Array;
  order: Int32Array;
  crossings: number;
}

function edgeTable(rings: Ring[], height: number): EdgeTable {
  let size = 0;
  for (const ring of rings) size += Math.ceil(ring.length / 2);
  const x0 = new Float64Array(size), y0 = new Float64Array(size), slope = new Float64Array(size);
  const first = new Int32Array(size), last = new Int32Array(size);
  let count = 0, crossings = 0;
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0; i < n; i += 2) {
      const j = (i + 2) % n;
      const ax = ring[i], ay = ring[i + 1], bx = ring[j], by = ring[j + 1];
      if (!Number.isFinite(ax + ay + bx + by)) throw new RangeError('polygon has a coordinate that is not a finite number');
      if (Math.max(Math.abs(ax), Math.abs(ay), Math.abs(bx), Math.abs(by)) > maxCoordinate) {
        throw new RangeError(`polygon coordinate beyond ±${maxCoordinate} (is it in pixels?)`);
      }
      if (ay === by) continue;
      const [ex, ey, fx, fy] = ay < by ? [ax, ay, bx, by] : [bx, by, ax, ay];
      const from = Math.max(0, Math.ceil(ey - 0.5)), to = Math.min(height - 1, Math.ceil(fy - 0.5) - 1);
      if (from > to) continue;
      x0[count] = ex;
      y0[count] = ey;
      slope[count] = (fx - ex) / (fy - ey);
      first[count] = from;
      last[count] = to;
      crossings += to - from + 1;
      count++;
    }
  }
  const order = Int32Array.from({ length: count }, (_, k) => k).sort((a, b) => first[a] - first[b]);
  return { x0, y0, slope, first, last, order, crossings };
}

/**
 * Even-odd scanline fill with an active edge table: an edge joins at its first row and leaves after its last, so
 * the work is rows + crossings, not rows x edges. Calls `visit(row, spans, count)` for each row some edge reaches,
 * with spans[0, 2 * count) the row's sorted, disjoint [from, to) runs of pixels whose centre (x + 0.5, y + 0.5)
 * is inside.
 */
function scanRows(table: EdgeTable, width: number, visit: (row: number, spans: Int32Array, count: number) => void): void {
  const { x0, y0, slope, first, last, order } = table;
  const active = new Int32Array(order.length);
  let xs = new Float64Array(16), spans = new Int32Array(16);
  let next = 0, activeCount = 0;
  for (let row = 0; next < order.length || activeCount > 0; row++) {
    if (!activeCount) row = Math.max(row, first[order[next]]);
    while (next < order.length && first[order[next]] <= row) active[activeCount++] = order[next++];
    let kept = 0;
    for (let k = 0; k < activeCount; k++) if (last[active[k]] >= row) active[kept++] = active[k];
    activeCount = kept;
    if (!activeCount) continue;
    if (xs.length < activeCount) {
      xs = new Float64Array(2 * activeCount);
      spans = new Int32Array(2 * activeCount);
    }
    const sy = row + 0.5;
    for (let k = 0; k < activeCount; k++) {
      const e = active[k];
      xs[k] = x0[e] + (sy - y0[e]) * slope[e];
    }
    const sorted = xs.subarray(0, activeCount).sort();
    let count = 0;
    for (let k = 0; k + 1 < activeCount; k += 2) {
      const from = Math.max(0, Math.ceil(sorted[k] - 0.5));
      const to = Math.min(width, Math.ceil(sorted[k + 1] - 0.5));
      if (to <= from) continue;
      if (count && spans[2 * count - 1] >= from) spans[2 * count - 1] = Math.max(spans[2 * count - 1], to);
      else {
        spans[2 * count] = from;
        spans[2 * count + 1] = to;
        count++;
      }
    }
    visit(row, spans, count);
  }
}

/**
 * Sets (to 1) every pixel of `mask` whose centre lies inside the rings taken together (even-odd).
 * Rings need not be closed explicitly; non-finite points are an error.
 */
export function fillRings(mask: Mask, rings: Ring[]): void {
  const { width, data } = mask;
  scanRows(edgeTable(rings, mask.height), width, (row, spans, count) => {
    for (let k = 0; k < count; k++) data.fill(1, row * width + spans[2 * k], row * width + spans[2 * k + 1]);
  });
}

/** Union of the polygons (each filled even-odd with its holes). */
export function polygonsToMask(polygons: Polygon[], width: number, height: number): Mask {
  const mask = createMask(width, height);
  for (const p of polygons) fillRings(mask, [p.outer, ...p.holes]);
  return mask;
}

/** Union of rings each filled on its own: how COCO, labelme and YOLO read a list of polygons. */
export function ringsToMask(rings: Ring[], width: number, height: number): Mask {
  const mask = createMask(width, height);
  for (const ring of rings) fillRings(mask, [ring]);
  return mask;
}

/**
 * One ring filled as fillRings does, straight to COCO RLE without a width x height mask: a column's value changes
 * at (x, y) exactly where row y's spans and row y-1's differ at x, so comparing each row's spans with the previous
 * row's finds every run boundary; a counting sort by column puts them in column-major order. Memory and time grow
 * with the rows, the crossings and the runs, not with the area (a full-cover shape at 12000x12000: 24k boundaries
 * instead of a 144 MB mask). `budget` is charged the row crossings up front and the run boundaries as found.
 */
export function ringToRle(ring: Ring, width: number, height: number, budget?: OutlineBudget): Rle {
  const table = edgeTable([ring], height);
  budget?.spend(table.crossings);
  const changes = new ColumnChanges(), wrap = new ColumnChanges();
  let previous = new Int32Array(16), previousCount = 0, previousRow = -2;
  let top = new Int32Array(0), bottom = new Int32Array(0);
  scanRows(table, width, (row, spans, count) => {
    const before = changes.count;
    if (row > previousRow + 1 && previousCount) {
      changes.xor(previousRow + 1, previous, previousCount, previous, 0);
      previousCount = 0;
    }
    if (row > 0) changes.xor(row, spans, count, previous, previousCount);
    // Each change is a run boundary: a striped shape (a comb of one-row teeth) has few row crossings but about
    // width x height / 2 of them, so they are charged too, row by row, before they can grow past the budget.
    budget?.spend(changes.count - before);
    if (row === 0) top = spans.slice(0, 2 * count);
    if (row === height - 1) bottom = spans.slice(0, 2 * count);
    if (previous.length < 2 * count) previous = new Int32Array(spans.length);
    previous.set(spans.subarray(0, 2 * count));
    previousCount = count;
    previousRow = row;
  });
  if (previousCount && previousRow + 1 < height) changes.xor(previousRow + 1, previous, previousCount, previous, 0);
  // A column's top pixel starts a run where it differs from the previous column's bottom pixel (0 before column 0).
  const shifted: number[] = [];
  for (let k = 0; k < bottom.length; k += 2) if (bottom[k] + 1 < width) shifted.push(bottom[k] + 1, Math.min(width, bottom[k + 1] + 1));
  wrap.xor(0, top, top.length / 2, Int32Array.from(shifted), shifted.length / 2);
  return { size: [height, width], counts: encodeCounts(columnMajorCounts([wrap, changes], width, height)) };
}

/** Pixels (x, y) where a column changes value going down, collected row by row. */
class ColumnChanges {
  xs = new Int32Array(64);
  ys = new Int32Array(64);
  count = 0;

  /** Adds every x where the span lists a and b differ (each sorted and disjoint, given as flat [from, to) pairs). */
  xor(y: number, a: Int32Array, aCount: number, b: Int32Array, bCount: number): void {
    let i = 0, j = 0, start = 0, inside = false;
    while (i < 2 * aCount || j < 2 * bCount) {
      const v = j >= 2 * bCount || (i < 2 * aCount && a[i] <= b[j]) ? a[i++] : b[j++];
      if (inside) for (let x = start; x < v; x++) this.add(x, y);
      else start = v;
      inside = !inside;
    }
  }

  private add(x: number, y: number): void {
    if (this.count === this.xs.length) {
      const xs = new Int32Array(this.count * 2), ys = new Int32Array(this.count * 2);
      xs.set(this.xs);
      ys.set(this.ys);
      this.xs = xs;
      this.ys = ys;
    }
    this.xs[this.count] = x;
    this.ys[this.count++] = y;
  }
}

/** Run lengths from change points given in row order (lists in order): a stable counting sort by column. */
function columnMajorCounts(lists: ColumnChanges[], width: number, height: number): number[] {
  const starts = new Int32Array(width + 1);
  let total = 0;
  for (const list of lists) {
    for (let k = 0; k < list.count; k++) starts[list.xs[k] + 1]++;
    total += list.count;
  }
  for (let x = 0; x < width; x++) starts[x + 1] += starts[x];
  const positions = new Float64Array(total);
  for (const list of lists) for (let k = 0; k < list.count; k++) positions[starts[list.xs[k]]++] = list.xs[k] * height + list.ys[k];
  const counts: number[] = [];
  let previous = 0;
  for (let k = 0; k < total; k++) {
    counts.push(positions[k] - previous);
    previous = positions[k];
  }
  counts.push(width * height - previous);
  return counts;
}
