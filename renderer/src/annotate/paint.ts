/**
 * Pixel work on masks for the editor: decoding RLE with a cache, brush discs, combining a draft's layers and
 * turning a mask into a coloured canvas layer. All coordinates are image pixels; masks are row-major 0/1 bytes.
 */
import { type Mask, createMask } from '../../../core/mask';
import { type Rle, decodeRle } from '../../../core/rle';
import type { DraftState } from './history';

/** Inclusive-exclusive pixel rectangle [x0, y0, x1, y1). */
export type Rect = [number, number, number, number];

/**
 * Decoded masks by RLE object, most recently used last. Bounded by bytes, not tied to the history: snapshots keep
 * only RLE strings, so a long undo history of a 4000x3000 image does not hold a decoded mask per step.
 */
const decoded = new Map<Rle, Mask>();
const decodedBudget = 384 * 1024 * 1024;
let decodedBytes = 0;

function remember(rle: Rle, mask: Mask): void {
  const previous = decoded.get(rle);
  if (previous) decodedBytes -= previous.data.byteLength;
  decoded.delete(rle);
  decoded.set(rle, mask);
  decodedBytes += mask.data.byteLength;
  for (const [key, value] of decoded) {
    if (decodedBytes <= decodedBudget || decoded.size <= 1) break;
    decoded.delete(key);
    decodedBytes -= value.data.byteLength;
  }
}

/** The mask of `rle`, decoded at most once while it stays in the cache. Never mutate the result. */
export function maskOf(rle: Rle): Mask {
  const mask = decoded.get(rle) ?? decodeRle(rle);
  remember(rle, mask);
  return mask;
}

/** Records an already decoded mask for `rle` (the worker sends both). The mask must not be mutated afterwards. */
export function rememberMask(rle: Rle, mask: Mask): void {
  remember(rle, mask);
}

/** The draft's visible mask: (engine OR added) AND NOT erased. */
export function draftMask(draft: DraftState, width: number, height: number): Mask {
  const out = createMask(width, height);
  if (draft.engine) out.data.set(maskOf(draft.engine).data);
  if (draft.added) {
    const added = maskOf(draft.added).data;
    for (let i = 0; i < added.length; i++) if (added[i]) out.data[i] = 1;
  }
  if (draft.erased) {
    const erased = maskOf(draft.erased).data;
    for (let i = 0; i < erased.length; i++) if (erased[i]) out.data[i] = 0;
  }
  return out;
}

/** Sets a filled disc of `radius` pixels around (cx, cy) to `value`; returns the touched rectangle. */
export function paintDisc(mask: Mask, cx: number, cy: number, radius: number, value: 0 | 1): Rect {
  const x0 = Math.max(0, Math.floor(cx - radius)), x1 = Math.min(mask.width, Math.ceil(cx + radius) + 1);
  const y0 = Math.max(0, Math.floor(cy - radius)), y1 = Math.min(mask.height, Math.ceil(cy + radius) + 1);
  const r2 = radius * radius;
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy, row = y * mask.width;
    for (let x = x0; x < x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) mask.data[row + x] = value;
    }
  }
  return [x0, y0, x1, y1];
}

/** Discs along the segment from `from` to `to`, spaced so the stroke has no gaps. */
export function paintSegment(mask: Mask, from: [number, number], to: [number, number], radius: number, value: 0 | 1): Rect {
  const length = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const steps = Math.max(1, Math.ceil(length / Math.max(0.5, radius / 2)));
  let rect: Rect | null = null;
  for (let step = 0; step <= steps; step++) {
    const t = step / steps;
    const touched = paintDisc(mask, from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, radius, value);
    rect = rect ? unionRect(rect, touched) : touched;
  }
  return rect as Rect;
}

export function unionRect(a: Rect, b: Rect): Rect {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/** Tight rectangle around the set pixels, null when empty. Row scans use native indexOf (large masks, per stroke). */
export function maskRect(mask: Mask): Rect | null {
  const { width, height, data } = mask;
  let x0 = width, y0 = -1, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * width, (y + 1) * width);
    const first = row.indexOf(1);
    if (first < 0) continue;
    if (y0 < 0) y0 = y;
    y1 = y;
    if (first < x0) x0 = first;
    const last = row.lastIndexOf(1);
    if (last > x1) x1 = last;
  }
  return y0 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

export function hexToRgb(hex: string): [number, number, number] {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Colours (RGB) and alphas (0..255) of a mask layer: its fill, its inner edge pixels, the ring just outside it. */
export interface MaskStyle {
  color: [number, number, number];
  alpha: number;
  /** Pixels of the mask with a 4-neighbour outside it (or on the image border); null: drawn like the fill. */
  edge: { color: [number, number, number]; alpha: number } | null;
  /** Pixels outside the mask with a 4-neighbour in it (the caller's rectangle must include them); null: none. */
  ring: { color: [number, number, number]; alpha: number } | null;
}

function pack(color: [number, number, number], alpha: number): number {
  // ImageData is RGBA in memory; on little-endian machines a Uint32 holds it as ABGR.
  return ((alpha << 24) | (color[2] << 16) | (color[1] << 8) | color[0]) >>> 0;
}

/**
 * Writes `rect` of `mask` into `context` at `at` (default: the same place, for an image-sized canvas) in `style`,
 * transparent elsewhere. Replaces the rectangle's pixels (putImageData), so callers clear stale areas first.
 */
export function putMask(context: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, mask: Mask, rect: Rect,
  style: MaskStyle, at: [number, number] = [rect[0], rect[1]]): void {
  const [x0, y0, x1, y1] = rect;
  const width = x1 - x0, height = y1 - y0;
  if (width <= 0 || height <= 0) return;
  const image = new ImageData(width, height);
  const pixels = new Uint32Array(image.data.buffer);
  const packed = pack(style.color, style.alpha);
  // Runs of set pixels are filled at once: masks are mostly long runs, and fill() is native.
  if (style.alpha > 0) {
    for (let y = 0; y < height; y++) {
      const source = mask.data.subarray((y0 + y) * mask.width + x0, (y0 + y) * mask.width + x1);
      const target = y * width;
      let x = source.indexOf(1);
      while (x >= 0) {
        let end = source.indexOf(0, x);
        if (end < 0) end = width;
        pixels.fill(packed, target + x, target + end);
        x = end < width ? source.indexOf(1, end) : -1;
      }
    }
  }
  const edge = pack(style.edge?.color ?? style.color, style.edge?.alpha ?? style.alpha);
  const ring = style.ring ? pack(style.ring.color, style.ring.alpha) : 0;
  if (edge !== packed || ring) drawEdges(mask, rect, pixels, edge, ring);
  context.putImageData(image, at[0], at[1]);
}

/** Edge pixels (set, with an unset 4-neighbour or the image border) get `edge`; unset ones beside the mask `ring`. */
function drawEdges(mask: Mask, rect: Rect, pixels: Uint32Array, edge: number, ring: number): void {
  const [x0, y0, x1, y1] = rect;
  const { width: mw, height: mh, data } = mask;
  const width = x1 - x0;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= mw || y >= mh ? 0 : data[y * mw + x]);
  for (let y = y0; y < y1; y++) {
    for (let x = x0, i = y * mw + x0; x < x1; x++, i++) {
      const value = data[i];
      if (!value && !ring) continue;
      const outside = value ? 0 : 1;
      const differs = at(x - 1, y) === outside || at(x + 1, y) === outside || at(x, y - 1) === outside || at(x, y + 1) === outside
        || (value === 1 && (x === 0 || y === 0 || x === mw - 1 || y === mh - 1));
      if (differs) pixels[(y - y0) * width + (x - x0)] = value ? edge : ring;
    }
  }
}

/** The rectangle grown by `by` pixels on each side, inside a width x height image. */
export function growRect(rect: Rect, by: number, width: number, height: number): Rect {
  return [Math.max(0, rect[0] - by), Math.max(0, rect[1] - by), Math.min(width, rect[2] + by), Math.min(height, rect[3] + by)];
}

/** A canvas of the mask's bounding rectangle (grown by a pixel for a ring), styled, for compositing; null for an empty mask. */
export function maskSprite(mask: Mask, style: MaskStyle): { canvas: OffscreenCanvas; x: number; y: number } | null {
  const tight = maskRect(mask);
  if (!tight) return null;
  const rect = style.ring ? growRect(tight, 1, mask.width, mask.height) : tight;
  const canvas = new OffscreenCanvas(rect[2] - rect[0], rect[3] - rect[1]);
  const context = canvas.getContext('2d');
  if (!context) return null;
  putMask(context, mask, rect, style, [0, 0]);
  return { canvas, x: rect[0], y: rect[1] };
}
