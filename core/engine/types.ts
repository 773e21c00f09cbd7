/** The click-to-mask engine's public types. Coordinates are image pixels unless a field says otherwise. */
import type { Mask } from '../mask';

/** One click: (x, y) in image pixels (x right, y down), positive = "this is the object". */
export interface Click {
  x: number;
  y: number;
  positive: boolean;
}

/** Optional box prior: [x, y, width, height] in image pixels (COCO order, like `Bbox` in core/mask). */
export type Box = [number, number, number, number];

/** The box between two corners (any order, image pixels), clipped to a width x height image; empty is size 0. */
export function boxFromCorners(ax: number, ay: number, bx: number, by: number, width: number, height: number): Box {
  const x0 = Math.max(0, Math.min(ax, bx)), y0 = Math.max(0, Math.min(ay, by));
  const x1 = Math.min(width, Math.max(ax, bx)), y1 = Math.min(height, Math.max(ay, by));
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)];
}

export interface SegmentOutput {
  /** Full image resolution, 1 where the object probability is > 0.49. */
  mask: Mask;
  /** Mean object probability over the mask's grid cells, 0..1 (0 for an empty mask). */
  score: number;
}

/** Object probability per embedding grid cell (map resolution), row-major, for hover previews and overlays. */
export interface ProbabilityGrid {
  width: number;
  height: number;
  /** width * height probabilities in [0, 1]. */
  data: Float32Array;
}

export interface Segmenter {
  /** The per-click path: arithmetic on the stored map only (no model run). No positive click and no box: empty mask. */
  segment(clicks: Click[], box?: Box): SegmentOutput;
  /** Cheap low-resolution preview for hover: the probability grid at map resolution (no upsampling). */
  preview?(clicks: Click[], box?: Box): ProbabilityGrid;
  /**
   * Idle-time work for later clicks, up to about `pixels` pixels of it; true when nothing is left. First the
   * boundary the last preview showed (where the click it predicts will draw one; a segment() ends that part),
   * then the whole image where the engine can keep that much. Changes no result, only how long clicks take.
   * Call it in slices while idle: after an image loads, and after each preview.
   */
  prepare?(pixels: number): boolean;
  /** Done with this image: memory it kept for speed goes to the next segmenter (it still works, only slower). */
  release?(): void;
}
