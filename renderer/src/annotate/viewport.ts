/**
 * The view transform of the canvas: screen (CSS pixels in the canvas element) = image pixels * scale + (x, y).
 * Pure functions, so zooming stays about arithmetic and the canvas only redraws.
 */
export interface ViewTransform {
  scale: number;
  x: number;
  y: number;
}

export const maxScale = 32;

/** The whole image centred in a `viewWidth` x `viewHeight` area with a small margin. */
export function fitView(imageWidth: number, imageHeight: number, viewWidth: number, viewHeight: number): ViewTransform {
  const scale = Math.max(1e-3, Math.min(viewWidth / imageWidth, viewHeight / imageHeight) * 0.96);
  return { scale, x: (viewWidth - imageWidth * scale) / 2, y: (viewHeight - imageHeight * scale) / 2 };
}

/** Zooms by `factor` keeping screen point (sx, sy) over the same image point; scale stays within [minScale, maxScale]. */
export function zoomAt(view: ViewTransform, factor: number, sx: number, sy: number, minScale: number): ViewTransform {
  const scale = Math.min(maxScale, Math.max(minScale, view.scale * factor));
  const applied = scale / view.scale;
  return { scale, x: sx - (sx - view.x) * applied, y: sy - (sy - view.y) * applied };
}

export function toImage(view: ViewTransform, sx: number, sy: number): [number, number] {
  return [(sx - view.x) / view.scale, (sy - view.y) / view.scale];
}

export function toScreen(view: ViewTransform, ix: number, iy: number): [number, number] {
  return [ix * view.scale + view.x, iy * view.scale + view.y];
}
