/**
 * Polygon view of an object for vertex editing. The outline comes from core/polygon's maskToPolygons (one
 * polygon per connected part, with its holes; traced in the segment worker), lightly simplified so there are handles to grab rather than one per boundary pixel.
 * Dragging a vertex edits these polygons; the edited polygons are rasterised back into the object's mask, so a
 * vertex edit replaces the mask by the (simplified) polygon fill.
 */
import type { Polygon, Ring } from '../../../core/polygon';
import type { ObjectState } from './history';
import type { Rle } from '../../../core/rle';
import { type ViewTransform, toScreen } from './viewport';

/** Which vertex: polygon index, ring (-1 = outer, else hole index) and vertex index in that ring. */
export interface VertexRef {
  polygon: number;
  ring: number;
  vertex: number;
}

const cache = new WeakMap<ObjectState, Polygon[] | 'pending'>();

/** Simplification in image pixels: about one screen pixel at fit zoom for large images, at least one pixel. */
export function polygonTolerance(width: number, height: number): number {
  return Math.max(1, Math.max(width, height) / 1500);
}

export type Tracer = (rle: Rle, tolerance: number) => Promise<Polygon[]>;

/**
 * The object's outline polygons, or null while they are being traced (in the worker: a 4000x3000 mask takes a
 * good part of a second); `ready` is called when they arrive. Cached per object state, so per mask version.
 */
export function objectPolygons(object: ObjectState, trace: Tracer, ready: () => void): Polygon[] | null {
  const cached = cache.get(object);
  if (cached) return cached === 'pending' ? null : cached;
  cache.set(object, 'pending');
  const [height, width] = object.rle.size;
  trace(object.rle, polygonTolerance(width, height)).then((polygons) => {
    cache.set(object, polygons);
    ready();
  }, () => {
    // Only the outline is missing (the worker was replaced while tracing); the mask itself is unaffected.
    cache.delete(object);
  });
  return null;
}

/**
 * The outline of an object state whose mask was just rasterised from `polygons` (a vertex drag): those polygons,
 * not a new trace of the mask, whose stair-stepped slanted edges would come back as runs of tiny vertices.
 */
export function rememberPolygons(object: ObjectState, polygons: Polygon[]): void {
  cache.set(object, polygons);
}

export function clonePolygons(polygons: Polygon[]): Polygon[] {
  return polygons.map((polygon) => ({ outer: [...polygon.outer], holes: polygon.holes.map((hole) => [...hole]) }));
}

export function vertexCount(polygons: Polygon[]): number {
  return polygons.reduce((sum, polygon) => sum + polygon.outer.length / 2 + polygon.holes.reduce((n, hole) => n + hole.length / 2, 0), 0);
}

function ringOf(polygons: Polygon[], ref: VertexRef): Ring {
  const polygon = polygons[ref.polygon];
  return ref.ring < 0 ? polygon.outer : polygon.holes[ref.ring];
}

/** The vertex nearest to screen point (sx, sy) within `radius` screen pixels, or null. */
export function findVertex(polygons: Polygon[], view: ViewTransform, sx: number, sy: number, radius: number): VertexRef | null {
  let best: VertexRef | null = null, bestDistance = radius * radius;
  polygons.forEach((polygon, index) => {
    [polygon.outer, ...polygon.holes].forEach((ring, ringIndex) => {
      for (let i = 0; i < ring.length; i += 2) {
        const [px, py] = toScreen(view, ring[i], ring[i + 1]);
        const distance = (px - sx) ** 2 + (py - sy) ** 2;
        if (distance <= bestDistance) {
          bestDistance = distance;
          best = { polygon: index, ring: ringIndex - 1, vertex: i / 2 };
        }
      }
    });
  });
  return best;
}

export function moveVertex(polygons: Polygon[], ref: VertexRef, x: number, y: number): void {
  const ring = ringOf(polygons, ref);
  ring[ref.vertex * 2] = x;
  ring[ref.vertex * 2 + 1] = y;
}

/** Moves a vertex by (dx, dy) image pixels. */
export function shiftVertex(polygons: Polygon[], ref: VertexRef, dx: number, dy: number): void {
  const ring = ringOf(polygons, ref);
  moveVertex(polygons, ref, ring[ref.vertex * 2] + dx, ring[ref.vertex * 2 + 1] + dy);
}

/**
 * The vertex `step` (+1 or -1) places after `ref` walking every ring in order (each polygon's outer ring, then its
 * holes), wrapping around; null `ref` starts before the first vertex (+1) or after the last (-1).
 */
export function stepVertex(polygons: Polygon[], ref: VertexRef | null, step: 1 | -1): VertexRef {
  const rings = polygons.flatMap((polygon, index) => [polygon.outer, ...polygon.holes].map((ring, r) => ({ polygon: index, ring: r - 1, count: ring.length / 2 })));
  let at = ref ? rings.findIndex((ring) => ring.polygon === ref.polygon && ring.ring === ref.ring) : step > 0 ? rings.length - 1 : 0;
  let vertex = ref ? ref.vertex + step : step > 0 ? rings[at].count : -1;
  if (vertex >= rings[at].count) [at, vertex] = [(at + 1) % rings.length, 0];
  else if (vertex < 0) [at, vertex] = [(at - 1 + rings.length) % rings.length, -1];
  return { polygon: rings[at].polygon, ring: rings[at].ring, vertex: vertex < 0 ? rings[at].count - 1 : vertex };
}

/** Adds every ring as a closed subpath in screen coordinates (fill with 'evenodd' to show holes). */
export function tracePolygons(context: CanvasRenderingContext2D, polygons: Polygon[], view: ViewTransform): void {
  for (const polygon of polygons) {
    for (const ring of [polygon.outer, ...polygon.holes]) {
      for (let i = 0; i < ring.length; i += 2) {
        const [px, py] = toScreen(view, ring[i], ring[i + 1]);
        if (i === 0) context.moveTo(px, py);
        else context.lineTo(px, py);
      }
      context.closePath();
    }
  }
}

/** Small squares on every vertex, for the polygon tool. */
export function drawVertices(context: CanvasRenderingContext2D, polygons: Polygon[], view: ViewTransform, active: VertexRef | null): void {
  for (const [index, polygon] of polygons.entries()) {
    [polygon.outer, ...polygon.holes].forEach((ring, ringIndex) => {
      for (let i = 0; i < ring.length; i += 2) {
        const [px, py] = toScreen(view, ring[i], ring[i + 1]);
        const isActive = active && active.polygon === index && active.ring === ringIndex - 1 && active.vertex === i / 2;
        context.fillStyle = isActive ? '#ffd400' : '#ffffff';
        context.fillRect(px - 3, py - 3, 6, 6);
        context.strokeRect(px - 3, py - 3, 6, 6);
      }
    });
  }
}
