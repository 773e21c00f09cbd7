/**
 * Edits on stored embedding maps, for Augment: move an object's vectors and decode the map back to pixels.
 *
 * Every edit changes cells only where the object is: each cell's weight is the share of its pixels inside the
 * object's mask times that share smoothed over the 3x3 neighbourhood, so the weight is 1 deep inside, falls off
 * over the boundary cells (a feathered edge) and is exactly 0 on cells the mask does not touch. An edited cell is
 * v' = normalize(v + strength * weight * delta), with delta per edit:
 * - jitter: one random offset for the whole object drawn within its own spread (per-dimension standard deviation
 *   of its vectors, times 2), so the object changes colour/texture the way its own parts already vary;
 * - swap: donor mean - object mean, shifting the object toward the other object's embeddings (content transfer)
 *   while keeping its own internal variation; each variant takes a random 60-100% of the move;
 * - interpolate: the donor's vector at the same relative position of its box (shifted by a random phase and
 *   mirrored at random, so variants differ) minus the cell's own vector, so at strength 1 the object takes the
 *   donor's layout of texture (mixing between the two at lower strengths).
 * Maps stay unit length per cell, as the studio stores them.
 */
import type { EmbeddingMap } from '../embedding';
import type { Mask } from '../mask';

export const augmentEdits = ['jitter', 'swap', 'interpolate'] as const;
export type AugmentEdit = (typeof augmentEdits)[number];

/** An object on a map: its per-cell weights (feathered mask) and box in cells. */
export interface MapObject {
  map: EmbeddingMap;
  weights: Float32Array;
  /** [x0, y0, x1, y1) in cells; empty objects have x1 <= x0. */
  box: [number, number, number, number];
}

export interface EditResult {
  map: EmbeddingMap;
  /** The requested change per cell (before renormalising), HWC like the map: for measuring what a decode kept. */
  requested: Float32Array;
}

/** Share of each cell's pixels inside the mask (the grid covers the image as in core/embedding.ts). */
export function cellCoverage(map: EmbeddingMap, mask: Mask): Float32Array {
  const { width, height } = map;
  const inside = new Float32Array(width * height), total = new Float32Array(width * height);
  const columns = new Int32Array(mask.width);
  for (let x = 0; x < mask.width; x++) columns[x] = Math.min(width - 1, Math.floor((x * width) / mask.width));
  for (let y = 0; y < mask.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / mask.height)) * width;
    for (let x = 0; x < mask.width; x++) {
      const cell = row + columns[x];
      total[cell]++;
      inside[cell] += mask.data[y * mask.width + x];
    }
  }
  for (let i = 0; i < inside.length; i++) inside[i] = total[i] ? inside[i] / total[i] : 0;
  return inside;
}

/** Coverage times its 3x3 mean: 1 deep inside, soft over the boundary cells, 0 where the mask is absent. */
export function featheredWeights(map: EmbeddingMap, mask: Mask): Float32Array {
  const { width, height } = map;
  const coverage = cellCoverage(map, mask);
  const weights = new Float32Array(coverage.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const own = coverage[y * width + x];
      if (own === 0) continue;
      let sum = 0, count = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          sum += coverage[ny * width + nx];
          count++;
        }
      }
      weights[y * width + x] = own * (sum / count);
    }
  }
  return weights;
}

export function mapObject(map: EmbeddingMap, mask: Mask): MapObject {
  if (mask.width !== map.imageWidth || mask.height !== map.imageHeight) {
    throw new RangeError(`the mask is ${mask.width}x${mask.height} but the map covers a ${map.imageWidth}x${map.imageHeight} image`);
  }
  const weights = featheredWeights(map, mask);
  let x0 = map.width, y0 = map.height, x1 = 0, y1 = 0;
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      if (weights[y * map.width + x] <= 0) continue;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1);
    }
  }
  return { map, weights, box: [x0, y0, x1, y1] };
}

/** Weighted mean and per-dimension standard deviation of the object's vectors. */
export function objectStats(object: MapObject): { mean: Float32Array; std: Float32Array; weight: number } {
  const { map, weights } = object;
  const { dim, data } = map;
  const mean = new Float32Array(dim), square = new Float32Array(dim);
  let weight = 0;
  for (let cell = 0; cell < weights.length; cell++) {
    const w = weights[cell];
    if (w <= 0) continue;
    weight += w;
    for (let k = 0; k < dim; k++) {
      const v = data[cell * dim + k];
      mean[k] += w * v;
      square[k] += w * v * v;
    }
  }
  const std = new Float32Array(dim);
  for (let k = 0; k < dim; k++) {
    mean[k] = weight ? mean[k] / weight : 0;
    std[k] = weight ? Math.sqrt(Math.max(0, square[k] / weight - mean[k] * mean[k])) : 0;
  }
  return { mean, std, weight };
}

/** Standard normal from a uniform generator (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * Applies `edit` to `object` with `strength` (0 = no change, 1 = the full move; up to 2 extrapolates). swap and
 * interpolate need a donor object (another object, possibly on another image's map of the same model).
 */
export function editMap(edit: AugmentEdit, object: MapObject, strength: number, random: () => number, donor?: MapObject): EditResult {
  if (!(strength >= 0 && strength <= 2)) throw new RangeError(`strength must be between 0 and 2, not ${strength}`);
  const { map, weights } = object;
  const { dim, width } = map;
  if ((edit === 'swap' || edit === 'interpolate') && !donor) throw new RangeError(`${edit} needs a second object to take from`);
  if (donor && donor.map.dim !== dim) throw new RangeError(`the two maps have ${dim} and ${donor.map.dim} dimensions`);
  const own = objectStats(object);
  if (own.weight === 0) throw new RangeError('the object covers no cell of the map');
  let shift: Float32Array | null = null;
  if (edit === 'jitter') {
    shift = new Float32Array(dim);
    for (let k = 0; k < dim; k++) shift[k] = 2 * own.std[k] * gaussian(random);
  } else if (edit === 'swap') {
    const other = objectStats(donor!);
    if (other.weight === 0) throw new RangeError('the second object covers no cell of its map');
    shift = new Float32Array(dim);
    const share = 0.6 + 0.4 * random();
    for (let k = 0; k < dim; k++) shift[k] = share * (other.mean[k] - own.mean[k]);
  }
  const phaseX = random(), phaseY = random(), mirror = random() < 0.5;
  const data = new Float32Array(map.data);
  const requested = new Float32Array(map.data.length);
  const [ox0, oy0, ox1, oy1] = object.box;
  for (let cell = 0; cell < weights.length; cell++) {
    const w = weights[cell] * strength;
    if (w <= 0) continue;
    const offset = cell * dim;
    let source: number | null = null;
    if (edit === 'interpolate') {
      // The donor cell at the same relative position of the donor's box.
      const x = cell % width, y = Math.floor(cell / width);
      const [dx0, dy0, dx1, dy1] = donor!.box;
      if (dx1 <= dx0) throw new RangeError('the second object covers no cell of its map');
      const relative = (x - ox0 + 0.5) / Math.max(1, ox1 - ox0);
      const u = ((mirror ? 1 - relative : relative) + phaseX) % 1, v = ((y - oy0 + 0.5) / Math.max(1, oy1 - oy0) + phaseY) % 1;
      const sx = Math.min(dx1 - 1, dx0 + Math.floor(u * (dx1 - dx0))), sy = Math.min(dy1 - 1, dy0 + Math.floor(v * (dy1 - dy0)));
      source = (sy * donor!.map.width + sx) * dim;
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) {
      const delta = shift ? shift[k] : donor!.map.data[source! + k] - map.data[offset + k];
      requested[offset + k] = w * delta;
      const value = map.data[offset + k] + w * delta;
      data[offset + k] = value;
      norm += value * value;
    }
    const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < dim; k++) data[offset + k] *= inverse;
  }
  return { map: { ...map, data }, requested };
}

/**
 * How much of a requested edit a decoded image kept: `achieved` is the mean over the object's cells of the
 * projection of (re-embedded edited image - re-embedded source) onto the requested change, divided by the
 * requested change's length (1 = all of it); `leak` is the mean change length outside the object (cells with
 * weight 0) relative to the mean requested length inside.
 */
export function editFidelity(before: EmbeddingMap, after: EmbeddingMap, requested: Float32Array, weights: Float32Array): { achieved: number; leak: number } {
  const { dim } = before;
  let projected = 0, wanted = 0, leak = 0, outside = 0, inside = 0;
  for (let cell = 0; cell < weights.length; cell++) {
    const offset = cell * dim;
    let dot = 0, length = 0, change = 0;
    for (let k = 0; k < dim; k++) {
      const moved = after.data[offset + k] - before.data[offset + k];
      dot += moved * requested[offset + k];
      length += requested[offset + k] * requested[offset + k];
      change += moved * moved;
    }
    if (weights[cell] > 0.5 && length > 0) {
      projected += dot / Math.sqrt(length);
      wanted += Math.sqrt(length);
      inside++;
    } else if (weights[cell] === 0) {
      leak += Math.sqrt(change);
      outside++;
    }
  }
  const meanWanted = inside ? wanted / inside : 0;
  return { achieved: wanted ? projected / wanted : 0, leak: outside && meanWanted ? leak / outside / meanWanted : 0 };
}
