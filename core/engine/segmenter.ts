/**
 * The click-to-mask engine on a stored embedding map ("geodesic nearest click").
 *
 * Every click s scores every grid cell c as  a_s(c) = cos(e_c, e_s) - distanceWeight * geo_s(c),  where geo_s is
 * the geodesic distance from the click's cell over the embedding grid (see geodesic.ts: each step costs the
 * embedding change above the image's median neighbour change, plus a small spatial term): similar-looking cells
 * that are only reachable across an embedding edge score low. A cell's object evidence is the best positive
 * click's score, its background evidence the best negative click's score or the constant `background` (so a
 * single positive click yields the connected, similar region around it):
 *
 *   p(c) = sigmoid(sharpness * (max_pos a_s(c) - max(background, max_neg a_s(c))))
 *
 * With the image, the image's colours then get a say (color-model.ts): object and background colour histograms
 * weighted by p, and each cell's log-likelihood ratio r(c) under them added to its logit, faded out near clicks
 * so that a click still decides the cells around it (geo(c) = geodesic distance to the nearest click):
 *
 *   p'(c) = sigmoid(sharpness * (...) + colorWeight * min(1, geo(c) / colorReach) * r(c))
 *
 * The grid probability is upsampled to the image with joint-bilateral weights in the boundary band (upsample.ts).
 * Each click's similarity and distance fields are computed once and cached, so a new click costs one dot product
 * per cell, a few raster scans and the upsampling; removing or re-adding clicks (undo, redo) costs no new field.
 * The upsampler's vote weights depend on the image alone, and a click that opens a new boundary would otherwise
 * work out tens of thousands of them: idle time (prepare) readies them ahead, first along the boundary the last
 * hover preview showed (the next click's grid), then over the whole image where it fits the weight cache.
 *
 * Why this shape (NoC@90, standard protocol, tests/bench/eval-clicks.ts): nearest click in colour + position
 * alone gives 16.6 on GrabCut; the same rule on embeddings with geodesic distances 12.2 (pixelwise-colorpos);
 * the edge floor, joint-bilateral upsampling (vs bilinear) and the spatial weight each moved NoC@90 by 0.5 to 1
 * click on a pixelwise-unet-s checkpoint. Centering the embeddings or image-relative similarity made it worse.
 * The colour model took the shipped model from 9.40 to 6.06 on GrabCut and from 14.53 to 13.78 on COCO_MVal
 * (first 100), and pixelwise-colorpos on GrabCut from 13.54 to 10.88. Without the fade near clicks (and
 * unsmoothed, weight 0.5) it gave 7.20 on GrabCut but 15.09 on COCO: an error the colours cause that clicks
 * cannot undo costs more on cluttered scenes than colour gains there.
 *
 * A box (box-prior.ts) adds a positive seed chosen inside it and negative evidence from its edge, and its outside
 * counts as background for the colour model; without a box nothing changes (click-only masks are identical).
 */
import { type EmbeddingMap, cellAt, normalizeCells, vectorAt } from '../embedding';
import type { RgbImage } from '../image';
import { createMask } from '../mask';
import { type EdgeCosts, edgeCosts, geodesicDistance } from './geodesic';
import type { Box, Click, ProbabilityGrid, SegmentOutput, Segmenter } from './types';
import { type BoxPrior, type BoxPriorOptions, boxFit, createBoxPrior } from './box-prior';
import { createColorModel } from './color-model';
import { type ClickStepWeights, clickStepFeatures, runClickStep } from './clickstep';
import { learnedClickStep } from './clickstep-default';
import { type GuideOptions, cellColors, createUpsampler, maskThreshold, upsampleGuide } from './upsample';

export interface EngineOptions extends GuideOptions, BoxPriorOptions {
  /** Weight of the embedding change (1 - cos) per grid step in the geodesic distance. */
  featureWeight: number;
  /** Cost of crossing the whole grid on uniform ground. */
  spatialWeight: number;
  /** How much geodesic distance lowers a click's score. */
  distanceWeight: number;
  /** Score a cell needs from a positive click to beat "background" when no negative click is closer. */
  background: number;
  /** Logit per unit of score difference. */
  sharpness: number;
  /** Weight of the colour model's log-likelihood ratio in a cell's logit (0 = off; needs the image). */
  colorWeight: number;
  /** Colour histogram bins per RGB channel. */
  colorBins: number;
  /** Geodesic distance from the nearest click at which the colour model reaches full weight (0 at the click). */
  colorReach: number;
  /** Subtract this quantile of neighbour dissimilarities from every edge cost (0 = off); see geodesic.ts. */
  edgeFloor: number;
  /** Raster-scan sweeps of the geodesic distance (each is a forward and a backward pass). */
  geodesicSweeps: number;
  /**
   * A negative click changes the mask within this geodesic distance of it and where it is nearer than any positive
   * click; elsewhere the previous mask stays (Infinity = everywhere, the old rule).
   */
  negativeReach: number;
}

/**
 * Tuned on training data only: tests/bench/tune-engine.ts (coordinate search, steps of x1.5 or +-0.1) on every
 * 6th image of ../shared/data/train/VOC_coseg with pixelwise-unet-s, NoC@90 16.68 -> 16.20. Checked afterwards on
 * eval/ (never tuned there): GrabCut NoC@90 10.58 -> 10.12, COCO_MVal first 100 15.16 -> 15.25, and with
 * pixelwise-colorpos GrabCut 13.78 -> 13.54. (featureWeight = 4 / 1.5, sharpness = 20 / 1.5^2.)
 * The colour model's options were picked on the same training images with the stage-2 model, NoC@90 15.73 ->
 * 14.39 (weights 0.25-2, 4-16 bins, reach 0.05-0.3, smoothing over 1, 3x3 or 5x5 cells tried), then checked on
 * eval/ (see the top comment).
 * negativeReach (a negative click's locality) on every 6th VOC_coseg training image, NoC@85 / NoC@90: the old rule
 * (Infinity) 11.02 / 14.39, 0.3: 11.04 / 14.47, 0.2: 11.12 / 14.39, 0.15: 11.25 / 14.67, Voronoi alone (0):
 * 11.19 / 14.67. The protocol's clicker never minds a distant part going (it clicks the largest error next), a
 * labeler does: 0.2 is the most local setting that costs no NoC@90 there.
 */
export const defaultEngineOptions: EngineOptions = {
  featureWeight: 2.667,
  spatialWeight: 0.4,
  distanceWeight: 1,
  background: 0.7,
  sharpness: 8.887,
  colorWeight: 1.5,
  colorBins: 16,
  colorReach: 0.15,
  edgeFloor: 0.5,
  geodesicSweeps: 1,
  negativeReach: 0.2,
  colorSigma: 30,
  spatialSigma: 1,
  bilateralRadius: 2,
  guideBlur: 0.125,
  bandOffset: 0.2,
  bandShare: 0.35,
  boxCandidates: 8,
  minDistinct: 0.1,
  bandPenalty: 0.5,
};

interface ClickField {
  similarity: Float32Array;
  distance: Float32Array;
}

const maxCachedFields = 64;
/** Grid probabilities kept per step for the previous-mask rules (undo and redo revisit recent click lists). */
const maxRememberedMasks = 16;

/** Outside +-12 the sigmoid is 0 or 1 to 6e-6: skipping exp there saves most of the per-cell work. */
function sigmoid(logit: number): number {
  return logit > 12 ? 1 : logit < -12 ? 0 : 1 / (1 + Math.exp(-logit));
}

/**
 * Which click step turns the engine's evidence into the grid probability: the learned step (clickstep.ts) with the
 * shipped weights by default (it needs fewer clicks: GrabCut NoC@90 5.34 vs 5.96, all 427 COCO_MVal 11.10 vs 13.22,
 * docs/comparison.md "Click steps"), other weights, or `weights: null` for the engine's own formula. `onFeatures` sees the learned step's input for every click list it runs on (also
 * without weights, then with the engine's output as the previous mask): the training data dump of eval-clicks.ts.
 */
export interface ClickStepChoice {
  weights?: ClickStepWeights | null;
  onFeatures?: (features: Float32Array, width: number, height: number) => void;
}

export function createSegmenter(map: EmbeddingMap, image: RgbImage | null, options: Partial<EngineOptions> = {}, step: ClickStepChoice = {}): Segmenter {
  const settings: EngineOptions = { ...defaultEngineOptions, ...options };
  const weights = step.weights === undefined ? learnedClickStep : step.weights;
  const { width, height, dim, imageWidth, imageHeight } = map;
  const count = width * height;
  if (image && (image.width !== imageWidth || image.height !== imageHeight)) {
    throw new RangeError(`image is ${image.width}x${image.height} but the map covers ${imageWidth}x${imageHeight}`);
  }
  // Stored maps are int8: renormalise once so cosines are dot products.
  const data = normalizeCells(Float32Array.from(map.data), dim);
  const unitMap: EmbeddingMap = { ...map, data };
  const edges: EdgeCosts = edgeCosts(data, width, height, dim, settings.featureWeight, settings.spatialWeight, settings.edgeFloor);
  const guide = upsampleGuide(image, width, height, settings);
  const upsampler = createUpsampler(width, height, imageWidth, imageHeight, guide);
  const colorModel = image && settings.colorWeight > 0
    ? createColorModel(guide?.colors ?? cellColors(image, width, height), width, height, settings.colorBins) : null;
  const fields = new Map<string, ClickField>();

  function field(x: number, y: number): ClickField {
    const key = `${x},${y}`;
    const cached = fields.get(key);
    if (cached) {
      fields.delete(key);
      fields.set(key, cached);
      return cached;
    }
    const [gx, gy] = cellAt(map, x, y);
    const distance = geodesicDistance(edges, [gy * width + gx], undefined, settings.geodesicSweeps);
    // score = cos - weight * distance <= 1 - weight * distance: beyond `reach` a click cannot lift a cell to
    // within 0.25 of the background level (p < 0.01), so the dot product is skipped there.
    const reach = (1 - settings.background + 0.25) / Math.max(1e-9, settings.distanceWeight);
    const vector = vectorAt(unitMap, x, y);
    const similarity = new Float32Array(count);
    for (let c = 0, offset = 0; c < count; c++, offset += dim) {
      if (distance[c] > reach) {
        similarity[c] = -Infinity;
        continue;
      }
      // Four products per step, added in the same order as a plain loop (the same sums, fewer loop checks).
      let dot = 0, k = 0;
      for (; k + 3 < dim; k += 4) {
        dot += data[offset + k] * vector[k];
        dot += data[offset + k + 1] * vector[k + 1];
        dot += data[offset + k + 2] * vector[k + 2];
        dot += data[offset + k + 3] * vector[k + 3];
      }
      for (; k < dim; k++) dot += data[offset + k] * vector[k];
      similarity[c] = dot;
    }
    const created = { similarity, distance };
    fields.set(key, created);
    if (fields.size > maxCachedFields) fields.delete(fields.keys().next().value as string);
    return created;
  }

  // Best positive / negative score and nearest click per cell for the last click list: a labeler adds one click
  // at a time, so folding in only the new clicks keeps the combination O(cells) per click, not O(cells x clicks).
  // The learned step also reads the nearest click of each sign and the best similarity to each sign's clicks.
  interface Evidence {
    keys: string[]; positive: Float32Array; negative: Float32Array; nearest: Float32Array;
    nearestPositive: Float32Array; nearestNegative: Float32Array; cosPositive: Float32Array; cosNegative: Float32Array;
  }
  let folded: Evidence | null = null;

  function evidence(seeds: Click[]): Evidence {
    const keys = seeds.map((click) => `${click.x},${click.y},${click.positive ? 1 : 0}`);
    let start = 0;
    if (folded && folded.keys.length <= keys.length && folded.keys.every((key, i) => key === keys[i])) start = folded.keys.length;
    else {
      const filled = (value: number) => new Float32Array(count).fill(value);
      folded = {
        keys: [], positive: filled(-Infinity), negative: filled(settings.background), nearest: filled(Infinity),
        nearestPositive: filled(Infinity), nearestNegative: filled(Infinity), cosPositive: filled(-Infinity), cosNegative: filled(-Infinity),
      };
    }
    const { positive, negative, nearest } = folded;
    const weight = settings.distanceWeight;
    for (let s = start; s < seeds.length; s++) {
      const click = seeds[s];
      const { similarity, distance } = field(click.x, click.y);
      const target = click.positive ? positive : negative;
      const near = click.positive ? folded.nearestPositive : folded.nearestNegative;
      const cos = click.positive ? folded.cosPositive : folded.cosNegative;
      for (let c = 0; c < count; c++) {
        const score = similarity[c] - weight * distance[c];
        if (score > target[c]) target[c] = score;
        if (distance[c] < nearest[c]) nearest[c] = distance[c];
        if (distance[c] < near[c]) near[c] = distance[c];
        if (similarity[c] > cos[c]) cos[c] = similarity[c];
      }
    }
    folded.keys = keys;
    return folded;
  }

  /** The engine's logit per cell and its colour parts for given evidence (box: 0 outside it for the colour model). */
  function logits(positive: Float32Array, negative: Float32Array, nearest: Float32Array, box?: Box): { logit: Float32Array; ratios: Float32Array; fade: Float32Array } {
    const logit = new Float32Array(count), fade = new Float32Array(count);
    for (let c = 0; c < count; c++) logit[c] = settings.sharpness * (positive[c] - negative[c]);
    if (!colorModel) return { logit, ratios: new Float32Array(count), fade: fade.fill(1) };
    const probability = new Float32Array(count);
    for (let c = 0; c < count; c++) probability[c] = sigmoid(logit[c]);
    // Outside the box is background: the colour model learns it as such.
    const ratios = colorModel.logRatios(box ? clearOutsideBox(probability, box) : probability);
    const { colorWeight, colorReach } = settings;
    for (let c = 0; c < count; c++) {
      fade[c] = colorReach > 0 ? Math.min(1, nearest[c] / colorReach) : 1;
      logit[c] += colorWeight * fade[c] * ratios[c];
    }
    return { logit, ratios, fade };
  }

  /** p, then p with the colour model's say: the engine's formula for given evidence (box: 0 outside it first). */
  function combine(positive: Float32Array, negative: Float32Array, nearest: Float32Array, box?: Box): Float32Array {
    const { logit } = logits(positive, negative, nearest, box);
    for (let c = 0; c < count; c++) logit[c] = sigmoid(logit[c]);
    return logit;
  }

  // Each click list's output probability, so the next click can read the previous mask (an LRU memo: a mask is a
  // function of its click list alone, whatever order undo and redo visit lists in).
  const engineMemo = new Map<string, Float32Array>();

  function remember(memo: Map<string, Float32Array>, key: string, value: Float32Array): Float32Array {
    memo.set(key, value);
    if (memo.size > maxRememberedMasks) memo.delete(memo.keys().next().value as string);
    return value;
  }

  /**
   * The engine's formula, except that a negative click changes the mask only in the region it lands in: cells
   * geodesically nearer to a positive click than to it, and beyond `negativeReach` of it, keep the previous mask. Otherwise
   * the colour model, which learns the negative click's colours as background, removed object parts of that
   * colour anywhere in the image (the walkthrough's complaint; see the engine test "a negative click").
   */
  function engineProbabilities(clicks: Click[]): Float32Array {
    const key = clicks.map((click) => `${click.x},${click.y},${click.positive ? 1 : 0}`).join(';');
    const cached = engineMemo.get(key);
    if (cached) return cached;
    const last = clicks[clicks.length - 1];
    const local = !last.positive && settings.negativeReach < Infinity && clicks.slice(0, -1).some((click) => click.positive);
    const previous = local ? engineProbabilities(clicks.slice(0, -1)) : null;
    const { positive, negative, nearest, nearestPositive } = evidence(clicks);
    const probability = combine(positive, negative, nearest);
    if (previous) keepBeyondNegative(probability, previous, last, nearestPositive);
    return remember(engineMemo, key, probability);
  }

  /** Where the last (negative) click is beyond negativeReach and a positive click is nearer, `previous` stays. */
  function keepBeyondNegative(probability: Float32Array, previous: Float32Array, last: Click, nearestPositive: Float32Array): void {
    const { distance } = field(last.x, last.y);
    const reach = settings.negativeReach;
    for (let c = 0; c < count; c++) if (distance[c] > reach && distance[c] > nearestPositive[c]) probability[c] = previous[c];
  }

  // The learned step's outputs, likewise (its input includes the previous mask).
  const stepped = new Map<string, Float32Array>();
  const cellColorsOrNull = image ? guide?.colors ?? cellColors(image, width, height) : null;

  function learnedProbabilities(clicks: Click[]): Float32Array {
    const key = clicks.map((click) => `${click.x},${click.y},${click.positive ? 1 : 0}`).join(';');
    const cached = stepped.get(key);
    if (cached) return cached;
    const previous = clicks.length > 1 && clicks.slice(0, -1).some((click) => click.positive)
      ? learnedProbabilities(clicks.slice(0, -1)) : new Float32Array(count);
    const { positive, negative, nearest, nearestPositive, nearestNegative, cosPositive, cosNegative } = evidence(clicks);
    const { logit, ratios, fade } = logits(positive, negative, nearest);
    const difference = new Float32Array(count);
    for (let c = 0; c < count; c++) difference[c] = positive[c] - negative[c];
    const features = clickStepFeatures({
      width, height, logit, evidence: difference, colorRatio: ratios, fade, geoPositive: nearestPositive, geoNegative: nearestNegative,
      cosPositive, cosNegative, previous, colors: cellColorsOrNull,
      clicks: clicks.map((click) => {
        const [gx, gy] = cellAt(map, click.x, click.y);
        return { gx, gy, positive: click.positive };
      }),
    });
    step.onFeatures?.(features, width, height);
    const out = weights ? runClickStep(weights, features, width, height) : logit;
    for (let c = 0; c < count; c++) out[c] = sigmoid(out[c]);
    // The same locality as the engine's for the step's own output (not for a dump without weights: the engine's
    // raw logit is what those records hold as their previous mask).
    const last = clicks[clicks.length - 1];
    if (weights && !last.positive && settings.negativeReach < Infinity && clicks.length > 1) keepBeyondNegative(out, previous, last, nearestPositive);
    return remember(stepped, key, out);
  }

  let lastPrior: { key: string; prior: BoxPrior; seeds: number[] } | null = null;

  /**
   * The box prior and its candidate seeds in the order boxFit ranks them (computed once per box): the best always,
   * the others only where they fit at all and are unlike the band (so a negative click on the best does not bring
   * the box's edge in).
   */
  function boxPrior(box: Box): { prior: BoxPrior; seeds: number[] } {
    const key = box.join(',');
    if (lastPrior?.key === key) return lastPrior;
    const prior = createBoxPrior(box, data, dim, width, height, imageWidth, imageHeight, settings);
    let seeds = prior.candidates;
    if (prior.negative && seeds.length > 1) {
      const negative = prior.negative.map((value) => Math.max(value, settings.background));
      const ranked = seeds.map((cell, i) => {
        const { positive, nearest } = seedEvidence(cell);
        return { cell, distinct: prior.distinct[i], fit: boxFit(combine(positive, negative, nearest, box), prior, width, settings.bandPenalty) };
      }).sort((a, b) => b.fit - a.fit);
      seeds = ranked.filter((item, i) => i === 0 || (item.fit > 0 && item.distinct)).map((item) => item.cell);
    }
    lastPrior = { key, prior, seeds };
    return lastPrior;
  }

  function cellClick(cell: number): Click {
    const gx = cell % width, gy = Math.floor(cell / width);
    return { x: Math.floor(((gx + 0.5) * imageWidth) / width), y: Math.floor(((gy + 0.5) * imageHeight) / height), positive: true };
  }

  /** One positive seed's evidence alone (for ranking candidates; not folded into the click evidence). */
  function seedEvidence(cell: number): { positive: Float32Array; nearest: Float32Array } {
    const click = cellClick(cell);
    const { similarity, distance } = field(click.x, click.y);
    const positive = new Float32Array(count);
    for (let c = 0; c < count; c++) positive[c] = similarity[c] - settings.distanceWeight * distance[c];
    return { positive, nearest: distance };
  }

  function probabilities(clicks: Click[], box?: Box): Float32Array | null {
    if (!box) {
      if (!clicks.some((click) => click.positive)) return null;
      if (weights || step.onFeatures) return learnedProbabilities(clicks).slice();
      return engineProbabilities(clicks).slice();
    }
    // With a box: the best-fitting candidate seed that no negative click has claimed comes first, then the clicks,
    // and the band's evidence joins the negative clicks'.
    const { prior, seeds } = boxPrior(box);
    const negatives = clicks.filter((click) => !click.positive);
    const claimed = (cell: number) => negatives.some((other) => {
      const { similarity, distance } = field(other.x, other.y);
      return similarity[cell] - settings.distanceWeight * distance[cell] > Math.max(settings.background, prior.negative?.[cell] ?? -Infinity);
    });
    const seed = seeds.find((cell) => !claimed(cell));
    const all = seed === undefined ? clicks : [cellClick(seed), ...clicks];
    if (!all.some((click) => click.positive)) return null;
    const { positive, negative, nearest } = evidence(all);
    if (!prior.negative) return combine(positive, negative, nearest, box);
    const withBand = new Float32Array(count);
    for (let c = 0; c < count; c++) withBand[c] = Math.max(negative[c], prior.negative[c]);
    return combine(positive, withBand, nearest, box);
  }

  /**
   * Cells entirely outside the box get probability 0. Only for the preview and the score: the mask is clipped
   * per pixel instead, so zeroed cells do not pull the probabilities of pixels just inside the box down.
   */
  function clearOutsideBox(probability: Float32Array, box: Box): Float32Array {
    const [bx, by, bw, bh] = box;
    const cellWidth = imageWidth / width, cellHeight = imageHeight / height;
    for (let gy = 0; gy < height; gy++) {
      const rowOutside = (gy + 1) * cellHeight <= by || gy * cellHeight >= by + bh;
      for (let gx = 0; gx < width; gx++) {
        if (rowOutside || (gx + 1) * cellWidth <= bx || gx * cellWidth >= bx + bw) probability[gy * width + gx] = 0;
      }
    }
    return probability;
  }

  // The last preview's grid, until a segment(): what prepare() readies the upsampler for.
  let previewed: Float32Array | null = null;

  return {
    segment(clicks: Click[], box?: Box): SegmentOutput {
      previewed = null;
      const probability = probabilities(clicks, box);
      if (!probability) return { mask: createMask(imageWidth, imageHeight), score: 0 };
      const limits: [number, number, number, number] | undefined = box ? [box[0], box[1], box[0] + box[2], box[1] + box[3]] : undefined;
      const mask = upsampler.mask(probability, limits);
      const inside = box ? clearOutsideBox(probability.slice(), box) : probability;
      let sum = 0, cells = 0;
      for (let c = 0; c < count; c++) {
        if (inside[c] > maskThreshold) {
          sum += inside[c];
          cells++;
        }
      }
      return { mask, score: cells ? sum / cells : 0 };
    },
    preview(clicks: Click[], box?: Box): ProbabilityGrid {
      const probability = probabilities(clicks, box);
      previewed = probability?.slice() ?? null;
      if (!probability) return { width, height, data: new Float32Array(count) };
      return { width, height, data: box ? clearOutsideBox(probability, box) : probability };
    },
    prepare(pixels: number): boolean {
      if (previewed && upsampler.prepare(previewed, pixels)) previewed = null;
      return previewed === null && upsampler.prepare(null, pixels);
    },
    release(): void {
      previewed = null;
      engineMemo.clear();
      stepped.clear();
      upsampler.release();
    },
  };
}

