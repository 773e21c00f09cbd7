/**
 * The standard click simulation for NoC (RITM `Clicker._get_next_click`, as the data README prescribes): the
 * next click goes to the most interior point (exact Euclidean distance transform, image border as boundary) of
 * the false-negative or the false-positive area, whichever holds the larger such distance (ties: negative);
 * positive in a false-negative area. Ignored ground-truth pixels belong to neither area, already clicked pixels
 * are never chosen, and among equal distances the first pixel in row-major order wins.
 */
import { squaredDistanceTransform } from './distance';
import type { Click } from './types';

export interface ClickTarget {
  width: number;
  height: number;
  /** width * height bytes, 1 = object. */
  object: Uint8Array;
  /** width * height bytes, 1 = left out of errors and IoU (GrabCut's 128 band); null when none. */
  ignore: Uint8Array | null;
}

export class ClickSimulator {
  private readonly clicked: Uint8Array;
  readonly clicks: Click[] = [];

  constructor(private readonly target: ClickTarget) {
    this.clicked = new Uint8Array(target.width * target.height);
  }

  /** Next click for the current prediction (width * height bytes, 1 = object); also recorded in `clicks`. */
  next(predicted: Uint8Array): Click {
    const { width, height, object, ignore } = this.target;
    const count = width * height;
    const falseNegative = new Uint8Array(count), falsePositive = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      if (ignore && ignore[i]) continue;
      if (object[i] && !predicted[i]) falseNegative[i] = 1;
      else if (!object[i] && predicted[i]) falsePositive[i] = 1;
    }
    const negativeDistance = this.interiorMost(falseNegative);
    const positiveDistance = this.interiorMost(falsePositive);
    const positive = negativeDistance.max > positiveDistance.max;
    const index = positive ? negativeDistance.index : positiveDistance.index;
    this.clicked[index] = 1;
    const click: Click = { x: index % width, y: Math.floor(index / width), positive };
    this.clicks.push(click);
    return click;
  }

  /**
   * Largest squared distance to the area's boundary among pixels not clicked yet, and the first (row-major) pixel
   * holding it. The transform runs on the area's bounding box grown by one pixel: that ring lies outside the area
   * (or beyond the image border, which counts as boundary too), so the distances are exactly the full-image ones.
   */
  private interiorMost(area: Uint8Array): { max: number; index: number } {
    const { width, height } = this.target;
    let x0 = width, y0 = height, x1 = -1, y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0, i = y * width; x < width; x++, i++) {
        if (!area[i]) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
    if (x1 < 0) return { max: 0, index: 0 }; // no error left: RITM's argmax lands on the first pixel
    x0 = Math.max(0, x0 - 1);
    y0 = Math.max(0, y0 - 1);
    x1 = Math.min(width - 1, x1 + 1);
    y1 = Math.min(height - 1, y1 + 1);
    const cropWidth = x1 - x0 + 1, cropHeight = y1 - y0 + 1;
    const crop = new Uint8Array(cropWidth * cropHeight);
    for (let y = 0; y < cropHeight; y++) crop.set(area.subarray((y0 + y) * width + x0, (y0 + y) * width + x1 + 1), y * cropWidth);
    const distance = squaredDistanceTransform(crop, cropWidth, cropHeight);
    let max = 0, index = 0;
    for (let y = 0; y < cropHeight; y++) {
      for (let x = 0; x < cropWidth; x++) {
        const i = (y0 + y) * width + x0 + x;
        const value = this.clicked[i] ? 0 : distance[y * cropWidth + x];
        if (value > max) {
          max = value;
          index = i;
        }
      }
    }
    return { max, index };
  }
}
