/**
 * Binary masks as the whole product sees them: row-major, one byte per pixel (0 = background, 1 = object),
 * in image pixel coordinates. Every other representation (COCO RLE, polygons, palette PNGs) converts to this.
 */
export interface Mask {
  width: number;
  height: number;
  /** width * height bytes, row-major, 0 or 1. */
  data: Uint8Array;
}

/** COCO-style box: [x, y, width, height] in image pixels. */
export type Bbox = [number, number, number, number];

export function createMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

export function maskArea(mask: Mask): number {
  let area = 0;
  for (let i = 0; i < mask.data.length; i++) area += mask.data[i] ? 1 : 0;
  return area;
}

/** Tight box around the set pixels; [0, 0, 0, 0] for an empty mask (as pycocotools does). */
export function maskBbox(mask: Mask): Bbox {
  const { width, height, data } = mask;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!data[row + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

/** Intersection over union; pixels where `ignore` is set count for neither. Two empty masks give 1. */
export function maskIou(a: Mask, b: Mask, ignore?: Uint8Array): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`mask sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  let intersection = 0, union = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (ignore && ignore[i]) continue;
    const p = a.data[i] ? 1 : 0, q = b.data[i] ? 1 : 0;
    intersection += p & q;
    union += p | q;
  }
  return union === 0 ? 1 : intersection / union;
}
