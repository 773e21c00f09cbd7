/**
 * What the canvas draws in screen space on top of the image and mask layers: the selected object's outline
 * (and its vertices with the polygon tool), the box, the clicks and the brush cursor.
 */
import type { Box, Click } from '../../../core/engine/types';
import type { Polygon } from '../../../core/polygon';
import { type VertexRef, drawVertices, tracePolygons, vertexCount } from './polygonEdit';
import { type ViewTransform, toScreen } from './viewport';

/** Beyond this many vertices handles are not drawn (or grabbed): they would cover the object. */
export const maxHandles = 3000;

export interface OverlayState {
  view: ViewTransform;
  /** Outline of the selected object (image pixel-edge coordinates), null for none. */
  polygons: Polygon[] | null;
  showVertices: boolean;
  activeVertex: VertexRef | null;
  /** [x, y, width, height] in image pixels. */
  box: Box | null;
  clicks: readonly Click[];
  /** Brush cursor: centre in screen pixels and radius in image pixels; null for none. */
  brush: { at: [number, number]; radius: number; erase: boolean } | null;
}

export function drawOverlay(context: CanvasRenderingContext2D, state: OverlayState): void {
  const { view, polygons, box } = state;
  if (polygons) {
    context.beginPath();
    tracePolygons(context, polygons, view);
    // Dark under light: the outline shows on any ground, including the object's own colour.
    context.lineWidth = 3;
    context.strokeStyle = 'rgba(0, 0, 0, 0.85)';
    context.stroke();
    context.lineWidth = 1.5;
    context.strokeStyle = '#ffffff';
    context.setLineDash([5, 4]);
    context.stroke();
    context.setLineDash([]);
    if (state.showVertices && vertexCount(polygons) <= maxHandles) {
      context.strokeStyle = '#000000';
      context.lineWidth = 1;
      drawVertices(context, polygons, view, state.activeVertex);
    }
  }
  if (box) {
    const [x0, y0] = toScreen(view, box[0], box[1]);
    context.strokeStyle = '#ffd400';
    context.lineWidth = 1.5;
    context.setLineDash([6, 4]);
    context.strokeRect(x0, y0, box[2] * view.scale, box[3] * view.scale);
    context.setLineDash([]);
  }
  for (const click of state.clicks) {
    const [px, py] = toScreen(view, click.x, click.y);
    context.beginPath();
    context.arc(px, py, 5, 0, Math.PI * 2);
    context.fillStyle = click.positive ? '#22c55e' : '#ef4444';
    context.fill();
    context.lineWidth = 1.5;
    context.strokeStyle = '#ffffff';
    context.stroke();
  }
  if (state.brush) {
    context.beginPath();
    context.arc(state.brush.at[0], state.brush.at[1], Math.max(1, state.brush.radius * view.scale), 0, Math.PI * 2);
    context.lineWidth = 1;
    context.strokeStyle = state.brush.erase ? '#ff6b6b' : '#ffffff';
    context.stroke();
  }
}
