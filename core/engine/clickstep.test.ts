/** The learned click step: the shipped weights against PyTorch's own outputs, and the segment path with it. */
import { describe, expect, it } from 'vitest';
import type { EmbeddingMap } from '../embedding';
import type { RgbImage } from '../image';
import { type Mask, maskIou } from '../mask';
import { type ClickStepWeights, checkClickStepWeights, featureCount, featureNames, runClickStep } from './clickstep';
import { learnedClickStep } from './clickstep-default';
import { createSegmenter } from './index';

/** 128 x 96 image, 32 x 24 grid: a disc of one look on a background of another, a little noise in both. */
function discScene(): { map: EmbeddingMap; image: RgbImage; truth: Mask } {
  const width = 128, height = 96, grid = 4, gw = width / grid, gh = height / grid, dim = 4;
  const inside = (x: number, y: number) => (x - 64) ** 2 + (y - 48) ** 2 < 30 ** 2;
  const data = new Float32Array(gw * gh * dim);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.2;
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      const v = inside(gx * grid + 2, gy * grid + 2) ? [1, 0.2, noise(), noise()] : [0.2, 1, noise(), noise()];
      const norm = Math.hypot(...v);
      v.forEach((value, k) => { data[(gy * gw + gx) * dim + k] = value / norm; });
    }
  }
  const pixels = new Uint8Array(width * height * 3), truth = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      truth[y * width + x] = inside(x, y) ? 1 : 0;
      pixels.set(inside(x, y) ? [200, 60, 50] : [60, 90, 200], (y * width + x) * 3);
    }
  }
  return { map: { width: gw, height: gh, dim, imageWidth: width, imageHeight: height, data }, image: { width, height, data: pixels }, truth: { width, height, data: truth } };
}

describe('learned click step', () => {
  it('the shipped weights give PyTorch\'s logits on their parity case', () => {
    const { parity } = learnedClickStep;
    expect(parity).toBeDefined();
    const { width, height, features, logits } = parity!;
    expect(features.length).toBe(featureCount * width * height);
    const ours = runClickStep(learnedClickStep, Float32Array.from(features), width, height);
    let worst = 0;
    for (let c = 0; c < ours.length; c++) worst = Math.max(worst, Math.abs(ours[c] - logits[c]));
    expect(worst).toBeLessThan(1e-3);
    // The trained network is not the engine: its correction is not zero on real dumped inputs.
    let moved = 0;
    for (let c = 0; c < ours.length; c++) moved = Math.max(moved, Math.abs(ours[c] - Math.max(-12, Math.min(12, features[c] * 6))));
    expect(moved).toBeGreaterThan(0.01);
  });

  it('refuses weights for another feature set or with damaged layers, in plain words', () => {
    const other: ClickStepWeights = { ...learnedClickStep, features: [...featureNames].reverse() };
    expect(() => checkClickStepWeights(other)).toThrow(/other inputs/);
    expect(() => checkClickStepWeights({ ...learnedClickStep, w2: learnedClickStep.w2.slice(1) })).toThrow(/damaged/);
  });

  it('a learned-step click returns a mask of the image\'s size that follows the object, and undo gives the same masks', () => {
    const { map, image, truth } = discScene();
    const segmenter = createSegmenter(map, image, {}, { weights: learnedClickStep });
    const first = segmenter.segment([{ x: 64, y: 48, positive: true }]);
    expect([first.mask.width, first.mask.height]).toEqual([128, 96]);
    expect(first.mask.data.length).toBe(128 * 96);
    expect(maskIou(first.mask, truth)).toBeGreaterThan(0.8);
    const clicks = [{ x: 64, y: 48, positive: true }, { x: 10, y: 10, positive: false }];
    const second = segmenter.segment(clicks).mask;
    expect(maskIou(second, truth)).toBeGreaterThan(0.8);
    // Undo then redo: the same click lists give the same masks (a mask depends on its click list only).
    expect(Array.from(segmenter.segment(clicks.slice(0, 1)).mask.data)).toEqual(Array.from(first.mask.data));
    expect(Array.from(segmenter.segment(clicks).mask.data)).toEqual(Array.from(second.data));
    // A fresh segmenter given the whole list at once (the CLI's case) agrees too.
    expect(Array.from(createSegmenter(map, image, {}, { weights: learnedClickStep }).segment(clicks).mask.data)).toEqual(Array.from(second.data));
  });
});
