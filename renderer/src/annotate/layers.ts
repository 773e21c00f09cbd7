/**
 * The canvas's image-resolution layers, kept off screen and recomposited only when their content changes; the
 * visible canvas just draws them through the view transform, so panning and zooming never touch mask pixels.
 *  - objects: every visible stored object in drawing order, each from a cached sprite (its bounding box, coloured);
 *  - active:  the mask being edited (draft or object under the brush), updated in the rectangle a stroke touched;
 *  - preview: the hover preview at embedding-grid resolution, smoothed when drawn scaled up.
 */
import type { Mask } from '../../../core/mask';
import type { PreviewGrid } from '../workers/segmentClient';
import type { ObjectState } from './history';
import { type MaskStyle, type Rect, growRect, hexToRgb, maskOf, maskRect, maskSprite, putMask } from './paint';

/** How masks are shown: fill opacity (0..1) and outline-only (no fill, edges only). */
export interface MaskDisplay {
  opacity: number;
  outline: boolean;
}

const white: [number, number, number] = [255, 255, 255];
const black: [number, number, number] = [0, 0, 0];

/**
 * Every object gets an opaque edge in its colour and a faint dark ring, so it stays visible on ground of its own
 * colour; the selected object and the draft get a white edge and a black ring (light on dark, dark on light).
 */
function objectStyle(color: string, selected: boolean, display: MaskDisplay): MaskStyle {
  const fill = display.outline ? 0 : Math.round(Math.min(1, display.opacity + (selected ? 0.15 : 0)) * 255);
  return selected
    ? { color: hexToRgb(color), alpha: fill, edge: { color: white, alpha: 255 }, ring: { color: black, alpha: 255 } }
    : { color: hexToRgb(color), alpha: fill, edge: { color: hexToRgb(color), alpha: 255 }, ring: { color: black, alpha: 140 } };
}

/** The hover preview: a hatch of light stripes at low alpha with a light edge, unlike any filled mask. */
const previewStripe = 70, previewGap = 18, previewEdge = 190;

/**
 * The image plus smaller copies of it (1/2, 1/4) decoded in the background from the file, so a zoomed-out view of
 * a large image draws a few million pixels per frame instead of all of them (software-rendered canvases are
 * fill-rate bound). Mask layers get no copies: making one costs more than it saves when they change.
 */
export class Mipmapped {
  private levels: Array<{ factor: number; bitmap: ImageBitmap }> = [];
  private version = 0;

  constructor(readonly source: ImageBitmap, readonly width: number, readonly height: number) {}

  /** Builds the smaller copies from `file` (decoded off the main thread); `ready` is called as each arrives. */
  refresh(file: Blob, ready: () => void): void {
    const version = ++this.version;
    this.release();
    if (this.width * this.height < 4_000_000) return;
    for (const factor of [2, 4]) {
      createImageBitmap(file, {
        resizeWidth: Math.ceil(this.width / factor), resizeHeight: Math.ceil(this.height / factor), resizeQuality: 'medium',
      }).then((bitmap) => {
        if (version !== this.version) return bitmap.close();
        this.levels = [...this.levels, { factor, bitmap }].sort((a, b) => b.factor - a.factor);
        ready();
      }, () => undefined); // without a smaller copy the full layer is drawn: slower, same picture
    }
  }

  /** Draws the layer at image coordinates (0, 0)-(width, height) under the context's current transform of `scale`. */
  draw(context: CanvasRenderingContext2D, scale: number): void {
    // The smallest copy still at or above screen resolution.
    const level = this.levels.find((item) => scale * item.factor <= 1);
    if (level) context.drawImage(level.bitmap, 0, 0, this.width, this.height);
    else context.drawImage(this.source, 0, 0);
  }

  release(): void {
    for (const level of this.levels) level.bitmap.close();
    this.levels = [];
  }
}

interface Sprite {
  key: string;
  sprite: ReturnType<typeof maskSprite>;
}

function context2d(canvas: OffscreenCanvas): OffscreenCanvasRenderingContext2D {
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2D canvas context available');
  return context;
}

export class CanvasLayers {
  readonly objects: OffscreenCanvas;
  readonly active: OffscreenCanvas;
  /** Whether the layer has anything drawn (empty layers are skipped when drawing). */
  objectsEmpty = true;
  activeEmpty = true;
  preview: OffscreenCanvas | null = null;
  /** Sprites of the objects last composed (only those: older versions of edited objects are let go). */
  private sprites = new Map<ObjectState, Sprite>();
  private activeSource: Mask | null = null;

  constructor(readonly width: number, readonly height: number) {
    this.objects = new OffscreenCanvas(width, height);
    this.active = new OffscreenCanvas(width, height);
  }

  /** Redraws the objects layer: visible objects except `hidden`, later ones on top. */
  composeObjects(objects: readonly ObjectState[], colorOf: (object: ObjectState) => string, selected: number | null, hidden: number | null,
    display: MaskDisplay): void {
    const context = context2d(this.objects);
    context.clearRect(0, 0, this.width, this.height);
    this.objectsEmpty = true;
    const kept = new Map<ObjectState, Sprite>();
    for (const object of objects) {
      const color = colorOf(object);
      const isSelected = object.uid === selected;
      const key = `${color}/${isSelected}/${display.opacity}/${display.outline}`;
      let cached = this.sprites.get(object);
      if (cached) kept.set(object, cached);
      if (!object.visible || object.uid === hidden) continue;
      if (!cached || cached.key !== key) {
        cached = { key, sprite: maskSprite(maskOf(object.rle), objectStyle(color, isSelected, display)) };
        kept.set(object, cached);
      }
      if (cached.sprite) {
        context.drawImage(cached.sprite.canvas, cached.sprite.x, cached.sprite.y);
        this.objectsEmpty = false;
      }
    }
    this.sprites = kept;
  }

  /** Shows `mask` in the active layer; `dirty` limits the update to a rectangle when only that part changed. */
  updateActive(mask: Mask | null, color: string, dirty: Rect | null, display: MaskDisplay): void {
    const context = context2d(this.active);
    const style = objectStyle(color, true, display);
    if (mask && dirty && mask === this.activeSource) {
      // Edges and the ring move with the painted pixels: one more pixel around the rectangle may change.
      const grown = growRect(dirty, 2, this.width, this.height);
      context.clearRect(grown[0], grown[1], grown[2] - grown[0], grown[3] - grown[1]);
      putMask(context, mask, grown, style);
      this.activeEmpty = false;
      return;
    }
    context.clearRect(0, 0, this.width, this.height);
    this.activeSource = mask;
    const rect = mask ? maskRect(mask) : null;
    if (mask && rect) putMask(context, mask, growRect(rect, 1, this.width, this.height), style);
    this.activeEmpty = !rect;
  }

  /** Builds the preview layer from grid probabilities (p > 0.5): a light hatch with a light edge, see previewStripe. */
  updatePreview(grid: PreviewGrid | null): void {
    if (!grid) {
      this.preview = null;
      return;
    }
    if (!this.preview || this.preview.width !== grid.width || this.preview.height !== grid.height) {
      this.preview = new OffscreenCanvas(grid.width, grid.height);
    }
    const { width, height, data } = grid;
    const image = new ImageData(width, height);
    const on = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && data[y * width + x] > 0.5;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!on(x, y)) continue;
        const edge = !on(x - 1, y) || !on(x + 1, y) || !on(x, y - 1) || !on(x, y + 1);
        const i = (y * width + x) * 4;
        image.data.fill(255, i, i + 3);
        image.data[i + 3] = edge ? previewEdge : (x + y) % 4 < 2 ? previewStripe : previewGap;
      }
    }
    context2d(this.preview).putImageData(image, 0, 0);
  }
}
