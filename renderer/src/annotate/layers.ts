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
import { type Rect, hexToRgb, maskOf, maskRect, maskSprite, putMask } from './paint';

const objectAlpha = 120;
const selectedAlpha = 165;
const activeAlpha = 150;
const previewAlpha = 90;

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
  composeObjects(objects: readonly ObjectState[], colorOf: (object: ObjectState) => string, selected: number | null, hidden: number | null): void {
    const context = context2d(this.objects);
    context.clearRect(0, 0, this.width, this.height);
    this.objectsEmpty = true;
    const kept = new Map<ObjectState, Sprite>();
    for (const object of objects) {
      const color = colorOf(object);
      const alpha = object.uid === selected ? selectedAlpha : objectAlpha;
      const key = `${color}/${alpha}`;
      let cached = this.sprites.get(object);
      if (cached) kept.set(object, cached);
      if (!object.visible || object.uid === hidden) continue;
      if (!cached || cached.key !== key) {
        cached = { key, sprite: maskSprite(maskOf(object.rle), hexToRgb(color), alpha) };
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
  updateActive(mask: Mask | null, color: string, dirty: Rect | null): void {
    const context = context2d(this.active);
    const rgb = hexToRgb(color);
    if (mask && dirty && mask === this.activeSource) {
      context.clearRect(dirty[0], dirty[1], dirty[2] - dirty[0], dirty[3] - dirty[1]);
      putMask(context, mask, dirty, rgb, activeAlpha);
      this.activeEmpty = false;
      return;
    }
    context.clearRect(0, 0, this.width, this.height);
    this.activeSource = mask;
    const rect = mask ? maskRect(mask) : null;
    if (mask && rect) putMask(context, mask, rect, rgb, activeAlpha);
    this.activeEmpty = !rect;
  }

  /** Builds the preview layer from grid probabilities (p > 0.5 coloured). */
  updatePreview(grid: PreviewGrid | null, color: string): void {
    if (!grid) {
      this.preview = null;
      return;
    }
    if (!this.preview || this.preview.width !== grid.width || this.preview.height !== grid.height) {
      this.preview = new OffscreenCanvas(grid.width, grid.height);
    }
    const image = new ImageData(grid.width, grid.height);
    const [r, g, b] = hexToRgb(color);
    for (let i = 0; i < grid.data.length; i++) {
      if (grid.data[i] <= 0.5) continue;
      image.data[i * 4] = r;
      image.data[i * 4 + 1] = g;
      image.data[i * 4 + 2] = b;
      image.data[i * 4 + 3] = previewAlpha;
    }
    context2d(this.preview).putImageData(image, 0, 0);
  }
}
