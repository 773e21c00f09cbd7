/**
 * Between image-pixel masks and grid masks, and the query vector of a mask: the mean embedding under it.
 * Grids of any size cover the whole image the way core/embedding describes (cell (x, y) covers image pixels
 * [x * imageWidth / width, (x + 1) * imageWidth / width)).
 */
import { type EmbeddingMap, normalizeCells } from '../embedding';
import type { Mask } from '../mask';
import type { RgbImage } from '../image';
import { defaultEngineOptions } from '../engine/segmenter';
import { createUpsampler, upsampleGuide } from '../engine/upsample';

export class SearchInputError extends Error {
  override name = 'SearchInputError';
}

/** Fraction of each grid cell covered by the mask: width * height floats in [0, 1]. */
export function maskCoverage(mask: Mask, width: number, height: number): Float32Array {
  const coverage = new Float32Array(width * height);
  const totals = new Float32Array(width * height);
  const columns = new Int32Array(mask.width);
  for (let x = 0; x < mask.width; x++) columns[x] = Math.min(width - 1, Math.floor((x * width) / mask.width));
  for (let y = 0; y < mask.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / mask.height)) * width;
    const offset = y * mask.width;
    for (let x = 0; x < mask.width; x++) {
      const cell = row + columns[x];
      totals[cell]++;
      if (mask.data[offset + x]) coverage[cell]++;
    }
  }
  for (let cell = 0; cell < coverage.length; cell++) if (totals[cell] > 0) coverage[cell] /= totals[cell];
  return coverage;
}

/**
 * Query vector of a mask on its image's map: unit-length mean of the cell vectors weighted by mask coverage.
 * Throws SearchInputError when the mask does not match the map's image size or is empty.
 */
export function poolMask(map: EmbeddingMap, mask: Mask): Float32Array {
  if (mask.width !== map.imageWidth || mask.height !== map.imageHeight) {
    throw new SearchInputError(`mask is ${mask.width}x${mask.height} but the embedding covers a ${map.imageWidth}x${map.imageHeight} image`);
  }
  return poolWeights(map, maskCoverage(mask, map.width, map.height));
}

/** Unit-length weighted mean of the map's cell vectors; weights are per map cell. */
export function poolWeights(map: EmbeddingMap, weights: Float32Array): Float32Array {
  const { dim, data } = map;
  const out = new Float32Array(dim);
  let total = 0;
  for (let cell = 0; cell < weights.length; cell++) {
    const weight = weights[cell];
    if (weight <= 0) continue;
    total += weight;
    for (let k = 0, offset = cell * dim; k < dim; k++) out[k] += weight * data[offset + k];
  }
  if (total === 0) throw new SearchInputError('the query mask is empty');
  return normalizeCells(out, dim);
}

/**
 * Grid mask (0/1 per cell) to an image-size mask: bilinear interpolation of the indicator — or, with the image
 * (imageWidth x imageHeight), the click engine's edge-aware upsampling: pixels near the mask's edge take the value
 * of the cells whose mean colour they match, so a coarse grid's staircase follows the object's colour edges.
 */
export function gridMaskToImage(grid: Uint8Array, width: number, height: number, imageWidth: number, imageHeight: number, image?: RgbImage): Mask {
  const guide = upsampleGuide(image, width, height, defaultEngineOptions);
  return createUpsampler(width, height, imageWidth, imageHeight, guide).mask(Float32Array.from(grid));
}

/** Image-pixel box [x, y, w, h] of a grid box [x, y, w, h] in cells. */
export function gridBoxToImage(box: ArrayLike<number>, width: number, height: number, imageWidth: number, imageHeight: number): [number, number, number, number] {
  const x0 = Math.floor((box[0] * imageWidth) / width), y0 = Math.floor((box[1] * imageHeight) / height);
  const x1 = Math.ceil(((box[0] + box[2]) * imageWidth) / width), y1 = Math.ceil(((box[1] + box[3]) * imageHeight) / height);
  return [x0, y0, x1 - x0, y1 - y0];
}
