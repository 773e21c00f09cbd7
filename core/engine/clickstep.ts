/**
 * The learned click step: a small network at grid resolution that corrects the hand-made engine's logit per cell.
 *
 * Inputs per cell (clickStepFeatures, channel-major, `featureNames` in order): the engine's logit and its parts
 * (click evidence difference, colour log-likelihood ratio), geodesic distances to the nearest positive and
 * negative click, straight-line distances to them, click disks, the previous mask's probability, the best cosine
 * similarity to a positive and to a negative click, and the cell's colour. No raw embedding channel: the step
 * reads the map only through the engine's similarities and distances, so it does not depend on one model's axes.
 *
 * Network: 1x1 conv (features -> hidden), ReLU, 1x1 conv (hidden -> hidden2), ReLU, 3x3 conv (hidden2 -> 1,
 * zero padding); the output is added to the engine's logit (clamped to +-12), so a zero last layer is the engine
 * itself. With `coarse` 2 the network runs on 2x2 blocks of cells (a quarter of the work, twice the 3x3's reach)
 * and its output is upsampled bilinearly: the click round trip's budget leaves the step about 2 ms. Weights come from models/pwtrain/clickstep.py (PyTorch) as JSON (clickstep-weights.json), which also
 * carries a parity case (inputs and PyTorch's outputs) that clickstep.test.ts checks this implementation against.
 */

export const featureNames = [
  'engineLogit', 'evidence', 'colorRatio', 'fade', 'geoPositive', 'geoNegative', 'gridPositive', 'gridNegative',
  'diskPositive', 'diskNegative', 'previous', 'cosPositive', 'cosNegative', 'red', 'green', 'blue',
] as const;

export const featureCount = featureNames.length;

export interface ClickStepWeights {
  /** Must list `featureNames` in order (a weights file from another feature set is refused). */
  features: string[];
  hidden: number;
  hidden2: number;
  /** 1: the network runs on the grid; 2: on 2x2 blocks (edge cells repeated to even sizes), its output upsampled bilinearly. */
  coarse?: number;
  /** hidden x features, row-major. */
  w1: number[];
  b1: number[];
  /** hidden2 x hidden. */
  w2: number[];
  b2: number[];
  /** 1 x hidden2 x 3 x 3. */
  w3: number[];
  b3: number;
  /** Training summary (steps, losses, held-out NoC), for the report; not read here. */
  meta?: Record<string, unknown>;
  /** A small grid (features channel-major) and PyTorch's logits for it: the export parity check. */
  parity?: { width: number; height: number; features: number[]; logits: number[] };
}

/** Per-cell engine quantities the features are made of (all width * height). */
export interface StepInputs {
  width: number;
  height: number;
  /** The engine's logit before the sigmoid (unclamped). */
  logit: Float32Array;
  /** max positive score - max(background, negative score). */
  evidence: Float32Array;
  /** Colour log-likelihood ratio (0 without the image). */
  colorRatio: Float32Array;
  /** The colour model's fade, 0 at a click .. 1 at colorReach. */
  fade: Float32Array;
  /** Geodesic distance to the nearest positive / negative click (Infinity where none). */
  geoPositive: Float32Array;
  geoNegative: Float32Array;
  /** Best cosine similarity to a positive / negative click's cell (-Infinity where none or out of reach). */
  cosPositive: Float32Array;
  cosNegative: Float32Array;
  /** Previous click's output probability (zeros for the first click). */
  previous: Float32Array;
  /** Mean RGB per cell, 0..255, cells * 3. */
  colors: Float32Array | null;
  /** Clicked cells (grid coordinates). */
  clicks: Array<{ gx: number; gy: number; positive: boolean }>;
}

const clamp = (value: number, low: number, high: number) => (value > high ? high : value < low ? low : value);

/** The network's input, channel-major (featureCount * cells). Pure arithmetic on `inputs`. */
export function clickStepFeatures(inputs: StepInputs): Float32Array {
  const { width, height } = inputs;
  const count = width * height, out = new Float32Array(featureCount * count);
  const long = Math.max(width, height);
  // Straight-line distance (in long sides) to the nearest positive / negative click cell.
  const gridPositive = new Float32Array(count).fill(Infinity), gridNegative = new Float32Array(count).fill(Infinity);
  for (const click of inputs.clicks) {
    const target = click.positive ? gridPositive : gridNegative;
    for (let gy = 0, c = 0; gy < height; gy++) {
      const dy = gy - click.gy;
      for (let gx = 0; gx < width; gx++, c++) {
        const dx = gx - click.gx, d = dx * dx + dy * dy;
        if (d < target[c]) target[c] = d;
      }
    }
  }
  for (let c = 0; c < count; c++) {
    const gp = Math.sqrt(gridPositive[c]), gn = Math.sqrt(gridNegative[c]);
    out[c] = clamp(inputs.logit[c], -12, 12) / 6;
    out[count + c] = clamp(inputs.evidence[c], -2, 2);
    out[2 * count + c] = inputs.colorRatio[c] / 4;
    out[3 * count + c] = inputs.fade[c];
    out[4 * count + c] = Math.min(inputs.geoPositive[c], 2);
    out[5 * count + c] = Math.min(inputs.geoNegative[c], 2);
    out[6 * count + c] = Math.min(gp / long, 1);
    out[7 * count + c] = Math.min(gn / long, 1);
    out[8 * count + c] = gp <= 2 ? 1 - gp / 3 : 0;
    out[9 * count + c] = gn <= 2 ? 1 - gn / 3 : 0;
    out[10 * count + c] = inputs.previous[c];
    out[11 * count + c] = Math.max(-1, inputs.cosPositive[c]);
    out[12 * count + c] = Math.max(-1, inputs.cosNegative[c]);
    if (inputs.colors) {
      out[13 * count + c] = inputs.colors[c * 3] / 255 - 0.5;
      out[14 * count + c] = inputs.colors[c * 3 + 1] / 255 - 0.5;
      out[15 * count + c] = inputs.colors[c * 3 + 2] / 255 - 0.5;
    }
  }
  return out;
}

/** Checks a weights object's shape against the feature set; throws in plain words if it does not fit. */
export function checkClickStepWeights(weights: ClickStepWeights): ClickStepWeights {
  const { hidden, hidden2 } = weights;
  if (![undefined, 1, 2].includes(weights.coarse)) throw new Error('the learned click step weights file is damaged (coarse must be 1 or 2)');
  if (weights.features.join(',') !== featureNames.join(',')) throw new Error('the learned click step was trained on other inputs than this engine computes');
  if (weights.w1.length !== hidden * featureCount || weights.b1.length !== hidden || weights.w2.length !== hidden2 * hidden
    || weights.b2.length !== hidden2 || weights.w3.length !== hidden2 * 9) {
    throw new Error('the learned click step weights file is damaged (layer sizes do not match)');
  }
  return weights;
}

/**
 * The network on `features` (clickStepFeatures layout): logits per cell, engine logit (clamped) + correction.
 * Every layer runs a plane at a time (one weight times a whole channel, added into a whole output channel): long
 * loops over typed arrays, several times faster in JavaScript than a loop over cells with the layers inside.
 */
export function runClickStep(weights: ClickStepWeights, features: Float32Array, width: number, height: number): Float32Array {
  const count = width * height;
  const logits = new Float32Array(count);
  for (let c = 0; c < count; c++) {
    const engine = features[c] * 6;
    logits[c] = engine > 12 ? 12 : engine < -12 ? -12 : engine;
  }
  if ((weights.coarse ?? 1) === 1) {
    const correction = network(weights, features, width, height);
    for (let c = 0; c < count; c++) logits[c] += correction[c];
    return logits;
  }
  // 2x2 blocks: the mean of each block's features (a missing last row or column repeats the edge), the network
  // there, and its output bilinearly back onto the grid (half-pixel centres, edges clamped: PyTorch's
  // interpolate(mode='bilinear', align_corners=False)).
  const cw = Math.ceil(width / 2), ch = Math.ceil(height / 2), coarseCount = cw * ch;
  const pooled = new Float32Array(featureCount * coarseCount);
  for (let f = 0; f < featureCount; f++) {
    const source = f * count, target = f * coarseCount;
    for (let y = 0; y < ch; y++) {
      const y0 = 2 * y, y1 = Math.min(2 * y + 1, height - 1);
      for (let x = 0; x < cw; x++) {
        const x0 = 2 * x, x1 = Math.min(2 * x + 1, width - 1);
        pooled[target + y * cw + x] = (features[source + y0 * width + x0] + features[source + y0 * width + x1]
          + features[source + y1 * width + x0] + features[source + y1 * width + x1]) / 4;
      }
    }
  }
  const correction = network(weights, pooled, cw, ch);
  const left = new Int32Array(width), right = new Int32Array(width), share = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const sx = Math.max(0, (x + 0.5) / 2 - 0.5);
    left[x] = Math.floor(sx);
    right[x] = Math.min(left[x] + 1, cw - 1);
    share[x] = sx - left[x];
  }
  for (let y = 0; y < height; y++) {
    const sy = Math.max(0, (y + 0.5) / 2 - 0.5), ya = Math.floor(sy), ly = sy - ya;
    const top = ya * cw, bottom = Math.min(ya + 1, ch - 1) * cw, row = y * width;
    for (let x = 0; x < width; x++) {
      const lx = share[x], a = left[x], b = right[x];
      const upper = correction[top + a] + (correction[top + b] - correction[top + a]) * lx;
      const lower = correction[bottom + a] + (correction[bottom + b] - correction[bottom + a]) * lx;
      logits[row + x] += upper + (lower - upper) * ly;
    }
  }
  return logits;
}

/** The correction: 1x1, ReLU, 1x1, ReLU, 3x3 (zero padding) on channel-major planes of width x height. */
function network(weights: ClickStepWeights, features: Float32Array, width: number, height: number): Float32Array {
  const { hidden, hidden2, w1, b1, w2, b2, w3, b3 } = weights;
  const count = width * height;
  const second = hiddenPlanes(features, count, w1, b1, hidden, w2, b2, hidden2);
  const logits = new Float32Array(count).fill(b3);
  // 3x3, zero padding: each tap adds a shifted plane over the rows and columns where the neighbour exists.
  for (let h = 0; h < hidden2; h++) {
    const plane = h * count;
    for (let ky = -1; ky <= 1; ky++) {
      for (let kx = -1; kx <= 1; kx++) {
        const weight = w3[h * 9 + (ky + 1) * 3 + kx + 1];
        if (weight === 0) continue;
        const x0 = kx < 0 ? 1 : 0, x1 = kx > 0 ? width - 1 : width, shift = ky * width + kx;
        for (let y = ky < 0 ? 1 : 0, yEnd = ky > 0 ? height - 1 : height; y < yEnd; y++) {
          const row = y * width;
          for (let c = row + x0, end = row + x1, from = plane + c + shift; c < end; c++, from++) logits[c] += weight * second[from];
        }
      }
    }
  }
  return logits;
}

/**
 * Both 1x1 layers, one cell at a time (its inputs and first layer stay in small local arrays): hidden2 planes of
 * ReLU(W2 ReLU(W1 x + b1) + b2).
 */
function hiddenPlanes(features: Float32Array, count: number, w1: ArrayLike<number>, b1: ArrayLike<number>, hidden: number,
  w2: ArrayLike<number>, b2: ArrayLike<number>, hidden2: number): Float32Array {
  const weights1 = Float64Array.from(w1), weights2 = Float64Array.from(w2), bias1 = Float64Array.from(b1), bias2 = Float64Array.from(b2);
  const out = new Float32Array(hidden2 * count), input = new Float64Array(featureCount), first = new Float64Array(hidden);
  for (let c = 0; c < count; c++) {
    for (let f = 0, from = c; f < featureCount; f++, from += count) input[f] = features[from];
    for (let h = 0, row = 0; h < hidden; h++, row += featureCount) {
      let sum = bias1[h];
      for (let f = 0; f < featureCount; f++) sum += weights1[row + f] * input[f];
      first[h] = sum > 0 ? sum : 0;
    }
    for (let h = 0, row = 0; h < hidden2; h++, row += hidden) {
      let sum = bias2[h];
      for (let k = 0; k < hidden; k++) sum += weights2[row + k] * first[k];
      out[h * count + c] = sum > 0 ? sum : 0;
    }
  }
  return out;
}
