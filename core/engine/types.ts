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
}
