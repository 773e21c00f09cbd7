/**
 * Polygon coordinates in files vs. in core/polygon.
 *
 * core/polygon works on pixel edges: pixel (x, y) covers [x, x+1) x [y, y+1) and is inside when its centre
 * (x + 0.5, y + 0.5) is. The tools that read COCO, labelme and YOLO files (pycocotools, PIL, OpenCV, Ultralytics)
 * put pixel (x, y)'s centre at (x, y) instead. So files get our outlines shifted by -0.5: every boundary then
 * lies halfway between pixel centres and those tools rasterise our polygons back to the same pixels. Values
 * below 0 (outlines along the top or left image edge) are clamped to 0, which keeps the edge pixels inside for
 * both them and us, and keeps YOLO's 0..1 range.
 */
import type { Ring } from '../polygon';

/** Edge coordinates -> file coordinates (pixel centres at integers). */
export function ringToFile(ring: Ring): number[] {
  return ring.map((v) => Math.max(0, v - 0.5));
}

/** File coordinates (pixel centres at integers) -> edge coordinates. */
export function ringFromFile(coords: number[]): Ring {
  return coords.map((v) => v + 0.5);
}
