/**
 * Brush and eraser strokes on image-sized masks. A stroke paints into copies (never into cached masks): the
 * `display` mask shown while painting and, for the draft, its `added` and `erased` layers, which are what the
 * draft keeps so that later clicks (a new engine mask) do not undo the brush work.
 */
import { type Mask, createMask } from '../../../core/mask';
import { type Rle, encodeRle } from '../../../core/rle';
import type { DraftState, ObjectState } from './history';
import { type Rect, maskOf, paintSegment, rememberMask } from './paint';

export interface Stroke {
  /** 'draft' paints the draft's added/erased layers; a number is the uid of the object being edited. */
  target: 'draft' | number;
  /** 1 = brush, 0 = eraser. */
  value: 0 | 1;
  /** Last point, image pixels. */
  last: [number, number];
  display: Mask;
  added: Mask | null;
  erased: Mask | null;
}

export function copyMask(mask: Mask): Mask {
  return { width: mask.width, height: mask.height, data: mask.data.slice() };
}

export function isEmpty(mask: Mask): boolean {
  return mask.data.indexOf(1) < 0;
}

export function objectStroke(object: ObjectState, value: 0 | 1, at: [number, number]): Stroke {
  return { target: object.uid, value, last: at, display: copyMask(maskOf(object.rle)), added: null, erased: null };
}

/** A stroke on `draft` (null: a new drawn draft) whose visible mask is `shown`; image `width` x `height`. */
export function draftStroke(draft: DraftState | null, shown: Mask | null, width: number, height: number, value: 0 | 1, at: [number, number]): Stroke {
  return {
    target: 'draft', value, last: at,
    display: shown ? copyMask(shown) : createMask(width, height),
    added: draft?.added ? copyMask(maskOf(draft.added)) : createMask(width, height),
    erased: draft?.erased ? copyMask(maskOf(draft.erased)) : createMask(width, height),
  };
}

/** Paints from the last point to (x, y) with a round brush of `radius` pixels; returns the touched rectangle. */
export function extendStroke(stroke: Stroke, x: number, y: number, radius: number): Rect {
  const rect = paintSegment(stroke.display, stroke.last, [x, y], radius, stroke.value);
  if (stroke.added) paintSegment(stroke.added, stroke.last, [x, y], radius, stroke.value);
  if (stroke.erased) paintSegment(stroke.erased, stroke.last, [x, y], radius, stroke.value ? 0 : 1);
  stroke.last = [x, y];
  return rect;
}

/** A painted layer as RLE for the draft (null when nothing is set); the decoded mask stays cached for it. */
export function layerRle(mask: Mask | null): Rle | null {
  if (!mask || isEmpty(mask)) return null;
  const rle = encodeRle(mask);
  rememberMask(rle, mask);
  return rle;
}

/** Topmost visible object covering image pixel (x, y). */
export function objectAt(objects: readonly ObjectState[], x: number, y: number): ObjectState | null {
  const px = Math.floor(x), py = Math.floor(y);
  for (let i = objects.length - 1; i >= 0; i--) {
    const object = objects[i];
    if (!object.visible) continue;
    const mask = maskOf(object.rle);
    if (px >= 0 && py >= 0 && px < mask.width && py < mask.height && mask.data[py * mask.width + px]) return object;
  }
  return null;
}
