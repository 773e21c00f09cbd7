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
    const negativeDistance = this.unclicked(squaredDistanceTransform(falseNegative, width, height));
    const positiveDistance = this.unclicked(squaredDistanceTransform(falsePositive, width, height));
    const positive = negativeDistance.max > positiveDistance.max;
    const index = positive ? negativeDistance.index : positiveDistance.index;
    this.clicked[index] = 1;
    const click: Click = { x: index % width, y: Math.floor(index / width), positive };
    this.clicks.push(click);
    return click;
  }

  /** Largest distance among pixels not clicked yet, and the first (row-major) pixel holding it. */
  private unclicked(distance: Float64Array): { max: number; index: number } {
    let max = 0, index = -1;
    for (let i = 0; i < distance.length; i++) {
      const value = this.clicked[i] ? 0 : distance[i];
      if (value > max) {
        max = value;
        index = i;
      }
    }
    if (index < 0) index = 0; // no error left: RITM's argmax lands on the first pixel
    return { max, index };
  }
}
