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

export type FillRule = 'evenodd' | 'nonzero';

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

interface Edge { x0: number; y0: number; slope: number; last: number; winding: number }

/**
 * Sets (to 1) every pixel of `mask` whose centre lies inside the rings taken together under `rule`.
 * Scanline fill with an active edge list; rings need not be closed explicitly; non-finite points are an error.
 */
export function fillRings(mask: Mask, rings: Ring[], rule: FillRule = 'evenodd'): void {
  const { width, height, data } = mask;
  const buckets: Edge[][] = Array.from({ length: height }, () => []);
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
      const [x0, y0, x1, y1, winding] = ay < by ? [ax, ay, bx, by, 1] : [bx, by, ax, ay, -1];
      const first = Math.max(0, Math.ceil(y0 - 0.5));
      const last = Math.min(height - 1, Math.ceil(y1 - 0.5) - 1);
      if (first > last) continue;
      buckets[first].push({ x0, y0, slope: (x1 - x0) / (y1 - y0), last, winding });
    }
  }
  let active: Edge[] = [];
  const crossings: Array<[number, number]> = [];
  for (let row = 0; row < height; row++) {
    if (buckets[row].length) active = active.concat(buckets[row]);
    if (!active.length) continue;
    active = active.filter((e) => e.last >= row);
    const sy = row + 0.5;
    crossings.length = 0;
    for (const e of active) crossings.push([e.x0 + (sy - e.y0) * e.slope, e.winding]);
    crossings.sort((a, b) => a[0] - b[0]);
    let count = 0;
    for (let k = 0; k < crossings.length - 1; k++) {
      count += rule === 'evenodd' ? 1 : crossings[k][1];
      const inside = rule === 'evenodd' ? (count & 1) === 1 : count !== 0;
      if (!inside) continue;
      const from = Math.max(0, Math.ceil(crossings[k][0] - 0.5));
      const to = Math.min(width, Math.ceil(crossings[k + 1][0] - 0.5));
      data.fill(1, row * width + from, row * width + Math.max(from, to));
    }
  }
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
