/**
 * What a box says before any click: the object is inside it, the box's edge runs over background, and the object
 * is what inside looks least like that edge. On the embedding grid:
 *  - the band: the ring of cells just inside the box plus the ring just outside it (where the image goes on);
 *  - a cell's similarity to the band: the cosine that `bandShare` of the band's (up to 64) samples reach, not the
 *    maximum, because the object reaches into the few band cells where it touches the box;
 *  - band evidence per cell: that similarity - bandOffset, joined to the negative clicks' evidence;
 *  - candidate seeds: interior cells ranked by distinctness (1 - similarity to the band) x centrality, spread
 *    apart, and the box's centre when it is distinct too. Cells of low distinctness stay candidates (on the
 *    training sets dropping them cost 0.03 IoU: objects often look like part of the band), but only a distinct
 *    one may stand in when a negative click has claimed the best, so a "not this" never selects the band.
 * The segmenter tries each candidate as a positive seed against the band evidence and keeps the one whose mask
 * best fits the box (boxFit). A box over uniform ground (nothing distinct inside) keeps the old rule: the box's
 * centre as the seed and no band evidence, so the box itself comes back.
 *
 * Measured (tests/bench/eval-clicks.ts --box, ground-truth box + 5 px, pixelwise-unet-s, int8), before -> after:
 *   training (tuned there: bandOffset 0.1-0.3, bandShare 1/64-0.7, bandPenalty 0.5-3, 3-12 candidates; a
 *   geodesic fade of the band evidence and the plain maximum were worse):
 *     VOC_coseg, every 3rd image        0.520 -> 0.563
 *     COCO128_panoptic, 149 objects     0.456 -> 0.503
 *   eval (never tuned on): GrabCut 0.671 -> 0.769 (images below 0.5: 12 -> 4; banana1 0.00 -> 0.71, llama 0.58 ->
 *   0.67), COCO_MVal first 100 0.504 -> 0.526. A first version tuned on VOC_coseg alone scored 0.767 on GrabCut
 *   but 0.490 on COCO_MVal, which is why COCO128's cluttered scenes joined the training benchmark.
 */
import type { Box } from './types';

export interface BoxPriorOptions {
  /** Subtracted from the band evidence, so a click's own evidence beats the band's near it. */
  bandOffset: number;
  /** Share of the band's samples whose cosine counts as a cell's similarity to the band (see createBoxPrior). */
  bandShare: number;
  /** Candidate seeds tried per box. */
  boxCandidates: number;
  /** Below this distinctness (1 - cos to the band) nothing inside counts as an object: the box comes back whole. */
  minDistinct: number;
  /** Weight of the band cells a mask covers in boxFit. */
  bandPenalty: number;
}

/** Grid cells of a box: [x0, y0, x1, y1) whose centres lie inside it (at least one cell). */
export interface CellBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface BoxPrior {
  cells: CellBox;
  /** Band cell indices (inner ring + outer ring). */
  band: Int32Array;
  /** Per-cell band evidence (-Infinity where none), or null when the box keeps the old rule. */
  negative: Float32Array | null;
  /** Candidate seed cells, best first (at least one: the box's centre cell). */
  candidates: number[];
  /** Per candidate, whether it is unlike the band (distinctness >= minDistinct). */
  distinct: boolean[];
}

export function cellBox(box: Box, width: number, height: number, imageWidth: number, imageHeight: number): CellBox {
  const cellWidth = imageWidth / width, cellHeight = imageHeight / height;
  const clamp = (value: number, limit: number) => Math.min(limit, Math.max(0, value));
  let x0 = clamp(Math.ceil(box[0] / cellWidth - 0.5), width - 1), x1 = clamp(Math.floor((box[0] + box[2]) / cellWidth - 0.5), width - 1) + 1;
  let y0 = clamp(Math.ceil(box[1] / cellHeight - 0.5), height - 1), y1 = clamp(Math.floor((box[1] + box[3]) / cellHeight - 0.5), height - 1) + 1;
  // A box thinner than a cell: the cell under its centre line.
  if (x1 <= x0) {
    x0 = clamp(Math.floor((box[0] + box[2] / 2) / cellWidth), width - 1);
    x1 = x0 + 1;
  }
  if (y1 <= y0) {
    y0 = clamp(Math.floor((box[1] + box[3] / 2) / cellHeight), height - 1);
    y1 = y0 + 1;
  }
  return { x0, y0, x1, y1 };
}

/** Inner ring of the cell box (when it has an interior) and the ring just outside it, inside the grid. */
function bandCells(cells: CellBox, width: number, height: number): Int32Array {
  const { x0, y0, x1, y1 } = cells;
  const out: number[] = [];
  const hasInterior = x1 - x0 >= 3 && y1 - y0 >= 3;
  for (let y = Math.max(0, y0 - 1); y < Math.min(height, y1 + 1); y++) {
    for (let x = Math.max(0, x0 - 1); x < Math.min(width, x1 + 1); x++) {
      const outside = x < x0 || x >= x1 || y < y0 || y >= y1;
      const edge = x === x0 || x === x1 - 1 || y === y0 || y === y1 - 1;
      if (outside || (edge && hasInterior)) out.push(y * width + x);
    }
  }
  return Int32Array.from(out);
}

/** Up to `limit` band cells, evenly spread, whose vectors stand for the band. */
function prototypes(band: Int32Array, limit: number): Int32Array {
  if (band.length <= limit) return band;
  const out = new Int32Array(limit);
  for (let i = 0; i < limit; i++) out[i] = band[Math.floor((i * band.length) / limit)];
  return out;
}

/**
 * `data`: unit vectors, cell-major (width * height * dim). `distanceWeight` as in the engine.
 */
export function createBoxPrior(box: Box, data: Float32Array, dim: number, width: number, height: number, imageWidth: number,
  imageHeight: number, options: BoxPriorOptions): BoxPrior {
  const count = width * height;
  const cells = cellBox(box, width, height, imageWidth, imageHeight);
  const band = bandCells(cells, width, height);
  const centre = Math.floor((cells.y0 + cells.y1 - 1) / 2) * width + Math.floor((cells.x0 + cells.x1 - 1) / 2);
  if (!band.length) return { cells, band, negative: null, candidates: [centre], distinct: [true] };
  const samples = prototypes(band, 64);
  // Per cell in and around the box, the cosine that a `bandShare` of the band's samples reach (the rest stays
  // -Infinity). Not the maximum: the object itself reaches into a few band cells where it touches the box.
  const bandSimilarity = new Float32Array(count).fill(-Infinity);
  const rank = Math.min(samples.length, Math.max(1, Math.round(options.bandShare * samples.length)));
  const scratch = new Float32Array(samples.length);
  for (let y = Math.max(0, cells.y0 - 1); y < Math.min(height, cells.y1 + 1); y++) {
    for (let x = Math.max(0, cells.x0 - 1); x < Math.min(width, cells.x1 + 1); x++) {
      const c = y * width + x, offset = c * dim;
      for (let s = 0; s < samples.length; s++) {
        let dot = 0;
        for (let k = 0, other = samples[s] * dim; k < dim; k++) dot += data[offset + k] * data[other + k];
        scratch[s] = -dot;
      }
      scratch.sort();
      bandSimilarity[c] = -scratch[rank - 1];
    }
  }
  const distinct = rankCandidates(cells, width, bandSimilarity, options);
  if (!distinct.length) return { cells, band, negative: null, candidates: [centre], distinct: [true] };
  // The centre is a candidate too when it is unlike the band: on most boxes it is on the object, and boxFit decides.
  const candidates = 1 - bandSimilarity[centre] >= options.minDistinct ? [centre, ...distinct.filter((cell) => cell !== centre)] : distinct;
  const negative = new Float32Array(count);
  for (let c = 0; c < count; c++) negative[c] = bandSimilarity[c] - options.bandOffset;
  return { cells, band, negative, candidates, distinct: candidates.map((cell) => 1 - bandSimilarity[cell] >= options.minDistinct) };
}

/** Interior cells by distinctness x centrality, at least a fifth of the box apart; empty when nothing is distinct. */
function rankCandidates(cells: CellBox, width: number, bandSimilarity: Float32Array, options: BoxPriorOptions): number[] {
  const { x0, y0, x1, y1 } = cells;
  if (x1 - x0 < 3 || y1 - y0 < 3) return [];
  const cx = (x0 + x1 - 1) / 2, cy = (y0 + y1 - 1) / 2, hx = (x1 - x0) / 2, hy = (y1 - y0) / 2;
  const scored: Array<{ cell: number; x: number; y: number; score: number }> = [];
  let mostDistinct = 0;
  for (let y = y0 + 1; y < y1 - 1; y++) {
    for (let x = x0 + 1; x < x1 - 1; x++) {
      const c = y * width + x;
      const distinct = 1 - bandSimilarity[c];
      if (distinct > mostDistinct) mostDistinct = distinct;
      const centrality = 1 - Math.max(Math.abs(x - cx) / hx, Math.abs(y - cy) / hy);
      scored.push({ cell: c, x, y, score: distinct * (0.25 + centrality) });
    }
  }
  if (mostDistinct < options.minDistinct) return [];
  scored.sort((a, b) => b.score - a.score);
  const spacingX = (x1 - x0) / 5, spacingY = (y1 - y0) / 5;
  const chosen: typeof scored = [];
  for (const item of scored) {
    if (chosen.length >= options.boxCandidates) break;
    if (chosen.every((other) => Math.abs(other.x - item.x) > spacingX || Math.abs(other.y - item.y) > spacingY)) chosen.push(item);
  }
  return chosen.map((item) => item.cell);
}

/**
 * How well a grid probability fits as the box's object: the IoU of the mask's bounding box (p > 0.5, inside the
 * box) with the box's inner cells, minus `bandPenalty` times the share of the inner ring it covers.
 */
export function boxFit(probability: Float32Array, prior: BoxPrior, width: number, bandPenalty: number): number {
  const { x0, y0, x1, y1 } = prior.cells;
  let mx0 = Infinity, my0 = Infinity, mx1 = -Infinity, my1 = -Infinity, ring = 0, ringCovered = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const on = probability[y * width + x] > 0.5;
      const edge = x === x0 || x === x1 - 1 || y === y0 || y === y1 - 1;
      if (edge) {
        ring++;
        if (on) ringCovered++;
        continue;
      }
      if (!on) continue;
      if (x < mx0) mx0 = x;
      if (x > mx1) mx1 = x;
      if (y < my0) my0 = y;
      if (y > my1) my1 = y;
    }
  }
  if (mx1 < mx0) return -1;
  const innerArea = Math.max(1, (x1 - x0 - 2) * (y1 - y0 - 2));
  const fit = ((mx1 - mx0 + 1) * (my1 - my0 + 1)) / innerArea;
  return fit - bandPenalty * (ring ? ringCovered / ring : 0);
}
