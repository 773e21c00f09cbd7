import { describe, expect, it } from 'vitest';
import { clickMetrics, clicksToReach, percentile } from './metrics';
import { squaredDistanceTransform } from './distance';
import { ClickSimulator } from './protocol';

function rectangle(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 1;
  return data;
}

describe('ClickSimulator (RITM protocol)', () => {
  it('puts the first click at the most interior object point, first in row-major order on ties', () => {
    const object = rectangle(20, 12, 3, 2, 12, 9); // 9 x 7: interior-most row 5, columns 6..8 tie at distance 4
    const simulator = new ClickSimulator({ width: 20, height: 12, object, ignore: null });
    expect(simulator.next(new Uint8Array(240))).toEqual({ x: 6, y: 5, positive: true });
  });

  it('counts the image border as boundary', () => {
    const object = new Uint8Array(9 * 5).fill(1);
    const simulator = new ClickSimulator({ width: 9, height: 5, object, ignore: null });
    expect(simulator.next(new Uint8Array(45))).toEqual({ x: 2, y: 2, positive: true });
  });

  it('clicks negative in the larger false-positive area and never twice on one pixel', () => {
    const object = rectangle(30, 20, 2, 2, 8, 8);
    const predicted = object.slice();
    predicted.set(rectangle(30, 20, 12, 4, 28, 16).subarray(0), 0);
    for (let i = 0; i < object.length; i++) predicted[i] |= object[i];
    predicted[3 * 30 + 3] = 0; // a one-pixel false negative (distance 1) loses to the 16 x 12 false positive
    const simulator = new ClickSimulator({ width: 30, height: 20, object, ignore: null });
    const click = simulator.next(predicted);
    expect(click.positive).toBe(false);
    expect(click).toEqual({ x: 17, y: 9, positive: false });
    expect(simulator.next(predicted)).not.toEqual(click);
    expect(simulator.clicks).toHaveLength(2);
  });

  it('leaves ignored pixels out of the error areas', () => {
    const object = rectangle(10, 10, 0, 0, 10, 10);
    const ignore = rectangle(10, 10, 0, 0, 10, 10);
    ignore[5 * 10 + 1] = 0; // the only pixel that counts
    const click = new ClickSimulator({ width: 10, height: 10, object, ignore }).next(new Uint8Array(100));
    expect(click).toEqual({ x: 1, y: 5, positive: true });
  });

  it('picks the same click as a full-image transform (the transform runs on a crop)', () => {
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const width = 23, height = 17;
    for (let round = 0; round < 20; round++) {
      const object = rectangle(width, height, Math.floor(random() * 8), Math.floor(random() * 6), 10 + Math.floor(random() * 13), 8 + Math.floor(random() * 9));
      const predicted = Uint8Array.from(object, (v) => (random() < 0.3 ? 1 - v : v));
      const full = (area: Uint8Array) => {
        const d = squaredDistanceTransform(area, width, height);
        let max = 0, index = 0;
        d.forEach((value, i) => { if (value > max) { max = value; index = i; } });
        return { max, index };
      };
      const fn = full(Uint8Array.from(object, (v, i) => (v && !predicted[i] ? 1 : 0)));
      const fp = full(Uint8Array.from(object, (v, i) => (!v && predicted[i] ? 1 : 0)));
      const expected = fn.max > fp.max ? fn : fp;
      const click = new ClickSimulator({ width, height, object, ignore: null }).next(predicted);
      expect(click).toEqual({ x: expected.index % width, y: Math.floor(expected.index / width), positive: fn.max > fp.max });
    }
  });
});

describe('click metrics', () => {
  it('computes NoC, failures and mIoU like RITM', () => {
    const curves = [[0.5, 0.86, 0.95], [0.91, 0.92, 0.93], [0.1, 0.2, 0.3]];
    expect(clicksToReach(curves[0], 0.9, 3)).toBe(3);
    const metrics = clickMetrics(curves, 3);
    expect(metrics.noc85).toBeCloseTo((2 + 1 + 3) / 3);
    expect(metrics.noc90).toBeCloseTo((3 + 1 + 3) / 3);
    expect(metrics.failures90).toBe(1);
    expect(metrics.miou1).toBeCloseTo(0.5);
    expect(metrics.miou3).toBeCloseTo((0.95 + 0.93 + 0.3) / 3);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
  });
});
