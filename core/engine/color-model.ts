/**
 * The image's own colours as a second opinion on the embedding (the colour models of GrabCut, Rother et al. 2004,
 * without the graph cut): given the engine's current object probability per grid cell, an object histogram of
 * the cells' mean colours (each cell weighted by p) and a background histogram (weighted by 1 - p), and per cell
 * the log-likelihood ratio of its colour under the two (bounded), averaged over the 3x3 cells around it. The
 * average is a plain one, across edges too: on the training images it beat soft (trilinear) bins and a
 * colour-weighted average (NoC@90 14.37 vs 14.79 and 14.85). The engine adds the result to each cell's logit; see
 * segmenter.ts for how clicks keep the last word.
 */

/**
 * Bound on a colour's log ratio: e^3 = 20 times likelier under one model at most. Without it, a colour the object
 * never showed (ratio near -6) leaks through the 3x3 mean into the object's own border cells and flips them.
 */
const maxRatio = 3;

export interface ColorModel {
  /** Per cell: log P(colour | object) - log P(colour | background), from `probability` (one value per cell). */
  logRatios(probability: Float32Array): Float32Array;
}

/**
 * `colors`: mean RGB per cell of a width x height grid (cellColors: cells * 3 floats in 0..255); `bins` per
 * channel (bins^3 histogram cells). Each bin starts at a count of 1, so a colour the object has never shown is
 * unlikely for it, not impossible.
 */
export function createColorModel(colors: Float32Array, width: number, height: number, bins: number): ColorModel {
  const count = width * height, size = bins * bins * bins;
  const binOf = new Int32Array(count);
  const level = (value: number) => Math.min(bins - 1, Math.max(0, Math.floor((value * bins) / 256)));
  for (let c = 0; c < count; c++) {
    binOf[c] = (level(colors[c * 3]) * bins + level(colors[c * 3 + 1])) * bins + level(colors[c * 3 + 2]);
  }
  // The bins some cell falls in: only their counts and ratios are ever read (a few hundred of the 4096, often).
  const used = new Uint8Array(size);
  for (let c = 0; c < count; c++) used[binOf[c]] = 1;
  const usedBins = Int32Array.from(used.keys()).filter((b) => used[b] === 1);
  const object = new Float64Array(size), background = new Float64Array(size), ratio = new Float32Array(size);
  const perCell = new Float32Array(count), across = new Float32Array(count);
  return {
    logRatios(probability: Float32Array): Float32Array {
      for (const b of usedBins) {
        object[b] = 1;
        background[b] = 1;
      }
      let objectTotal = size, backgroundTotal = size;
      for (let c = 0; c < count; c++) {
        const p = probability[c];
        object[binOf[c]] += p;
        background[binOf[c]] += 1 - p;
        objectTotal += p;
        backgroundTotal += 1 - p;
      }
      const offset = Math.log(backgroundTotal) - Math.log(objectTotal);
      for (const b of usedBins) {
        const value = Math.log(object[b] / background[b]) + offset;
        ratio[b] = value > maxRatio ? maxRatio : value < -maxRatio ? -maxRatio : value;
      }
      for (let c = 0; c < count; c++) perCell[c] = ratio[binOf[c]];
      // 3x3 mean, separable, over the cells that exist at the borders (sums in the same order as a loop over them).
      for (let row = 0; row < count; row += width) {
        const last = row + width - 1;
        across[row] = width > 1 ? (perCell[row] + perCell[row + 1]) / 2 : perCell[row];
        for (let c = row + 1; c < last; c++) across[c] = (perCell[c - 1] + perCell[c] + perCell[c + 1]) / 3;
        if (width > 1) across[last] = (perCell[last - 1] + perCell[last]) / 2;
      }
      const out = new Float32Array(count);
      for (let y = 0; y < height; y++) {
        const above = y > 0 ? (y - 1) * width : -1, row = y * width, under = y < height - 1 ? (y + 1) * width : -1;
        if (above >= 0 && under >= 0) for (let x = 0; x < width; x++) out[row + x] = (across[above + x] + across[row + x] + across[under + x]) / 3;
        else if (above >= 0) for (let x = 0; x < width; x++) out[row + x] = (across[above + x] + across[row + x]) / 2;
        else if (under >= 0) for (let x = 0; x < width; x++) out[row + x] = (across[row + x] + across[under + x]) / 2;
        else out.set(across.subarray(row, row + width), row);
      }
      return out;
    },
  };
}
