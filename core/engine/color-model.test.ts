/** The colour model on grids whose answers follow from the counts. */
import { describe, expect, it } from 'vitest';
import { createColorModel } from './color-model';

const red = [200, 40, 40], blue = [40, 40, 200], green = [40, 200, 40];

/** width x height cells, left `split` columns red and the rest blue; mean colours as cellColors gives them. */
function grid(width: number, height: number, split: number, right = blue): Float32Array {
  const colors = new Float32Array(width * height * 3);
  for (let c = 0; c < width * height; c++) colors.set(c % width < split ? red : right, c * 3);
  return colors;
}

describe('createColorModel', () => {
  it('says "object" for the colours of likely object cells and "background" for the others, within +-3', () => {
    const width = 12, height = 8, colors = grid(width, height, 6);
    const probability = Float32Array.from({ length: width * height }, (_, c) => (c % width < 6 ? 0.95 : 0.05));
    const ratios = createColorModel(colors, width, height, 16).logRatios(probability);
    for (let c = 0; c < width * height; c++) {
      const x = c % width;
      if (x < 5) expect(ratios[c]).toBeGreaterThan(2); // red: 0.95 of its mass is object
      if (x > 6) expect(ratios[c]).toBeLessThan(-2);
      expect(Math.abs(ratios[c])).toBeLessThanOrEqual(3 + 1e-6);
    }
    // The 3x3 mean: next to the edge, a third of each cell's neighbours show the other colour.
    expect(ratios[5]).toBeLessThan(ratios[4]);
    expect(ratios[5]).toBeGreaterThan(0);
  });

  it('prefers no colour when the probabilities do not depend on colour, and stays finite on a lone colour', () => {
    const width = 10, height = 6, colors = grid(width, height, 5);
    const flat = createColorModel(colors, width, height, 8).logRatios(new Float32Array(width * height).fill(0.3));
    // Red and blue cells get the same ratio (the bins' starting counts tilt both the same way).
    for (const value of flat) expect(Math.abs(value - flat[0])).toBeLessThan(1e-5);
    // One green cell in a blue background, unseen as object: unlikely for the object, but bounded.
    const spotted = grid(width, height, 0);
    spotted.set(green, 33 * 3);
    const probability = Float32Array.from({ length: width * height }, (_, c) => (c % width < 3 ? 0.9 : 0.1));
    const ratios = createColorModel(spotted, width, height, 8).logRatios(probability);
    expect(Number.isFinite(ratios[33])).toBe(true);
  });
});
