/**
 * Grid probabilities to a full-resolution mask. Pixels whose four surrounding cell centres agree (all above or
 * all below the threshold) are decided by bilinear interpolation alone, which cannot cross the threshold there;
 * only pixels in the mixed band get joint-bilateral upsampling (Kopf et al. 2007): a weighted vote of the
 * surrounding 4x4 cells, weights = spatial Gaussian (cell units) x colour Gaussian between the pixel's colour and
 * the cell's mean colour. The band is a few percent of the image, so this stays within a couple of milliseconds.
 */
import type { RgbImage } from '../image';
import { type Mask, createMask } from '../mask';

export const maskThreshold = 0.49;

/** Mean RGB of the image pixels each grid cell covers: width * height * 3 floats. */
export function cellColors(image: RgbImage, width: number, height: number): Float32Array {
  const sums = new Float64Array(width * height * 4);
  const columnCell = new Int32Array(image.width);
  for (let x = 0; x < image.width; x++) columnCell[x] = Math.min(width - 1, Math.floor((x * width) / image.width));
  for (let y = 0; y < image.height; y++) {
    const rowCell = Math.min(height - 1, Math.floor((y * height) / image.height)) * width;
    for (let x = 0, p = y * image.width * 3; x < image.width; x++, p += 3) {
      const s = (rowCell + columnCell[x]) * 4;
      sums[s] += image.data[p];
      sums[s + 1] += image.data[p + 1];
      sums[s + 2] += image.data[p + 2];
      sums[s + 3]++;
    }
  }
  const colors = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const n = Math.max(1, sums[i * 4 + 3]);
    for (let c = 0; c < 3; c++) colors[i * 3 + c] = sums[i * 4 + c] / n;
  }
  return colors;
}

export interface UpsampleGuide {
  image: RgbImage;
  /** From `cellColors`. */
  colors: Float32Array;
  /** Colour Gaussian sigma, RGB units. */
  colorSigma: number;
  /** Spatial Gaussian sigma, cell units. */
  spatialSigma: number;
}

/** Pixel-centre to grid-coordinate lookups along one axis: lower cell index and weight of the upper one. */
function axisLookup(pixels: number, cells: number): { lower: Int32Array; weight: Float32Array } {
  const lower = new Int32Array(pixels), weight = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const f = Math.min(cells - 1, Math.max(0, ((p + 0.5) * cells) / pixels - 0.5));
    const low = Math.min(Math.max(0, cells - 2), Math.floor(f));
    lower[p] = low;
    weight[p] = cells > 1 ? f - low : 0;
  }
  return { lower, weight };
}

/**
 * `probability`: width * height grid; the mask is imageWidth x imageHeight. `guide` null: bilinear only.
 * `box` ([x0, y0, x1, y1) in pixels) limits the pixels that may be set.
 */
export function upsampleMask(probability: Float32Array, width: number, height: number, imageWidth: number, imageHeight: number,
  guide: UpsampleGuide | null, box?: [number, number, number, number]): Mask {
  const mask = createMask(imageWidth, imageHeight);
  const columns = axisLookup(imageWidth, width), rows = axisLookup(imageHeight, height);
  const right = width > 1 ? 1 : 0, below = height > 1 ? width : 0;
  const last = width * height - 1;
  const [bx0, by0, bx1, by1] = box ?? [0, 0, imageWidth, imageHeight];
  const xStart = Math.max(0, Math.floor(bx0)), xEnd = Math.min(imageWidth, Math.ceil(bx1));
  const yStart = Math.max(0, Math.floor(by0)), yEnd = Math.min(imageHeight, Math.ceil(by1));
  if (xStart >= xEnd || yStart >= yEnd) return mask;
  // Pixel columns [spanStart[q], spanStart[q + 1]) share lower cell column q (clipped to the box).
  const spanStart = new Int32Array(width + 1).fill(xEnd);
  for (let x = xEnd - 1; x >= xStart; x--) spanStart[columns.lower[x]] = x;
  for (let q = width - 1; q >= 0; q--) spanStart[q] = Math.min(spanStart[q], spanStart[q + 1]);
  const template = new Uint8Array(imageWidth);
  const mixed: number[] = [];
  const colorScale = guide ? -1 / (2 * guide.colorSigma * guide.colorSigma) : 0;
  const spatialScale = guide ? -1 / (2 * guide.spatialSigma * guide.spatialSigma) : 0;
  let templateRow = -1;
  for (let y = yStart; y < yEnd; y++) {
    const y0 = rows.lower[y], ay = rows.weight[y], quadRow = y0 * width, out = y * imageWidth;
    if (y0 !== templateRow) {
      // Quads whose four corners agree are the same for every pixel row of this cell row: build them once.
      templateRow = y0;
      mixed.length = 0;
      for (let x0 = 0; x0 < width; x0++) {
        const from = spanStart[x0], to = spanStart[x0 + 1];
        if (from >= to) continue;
        const q = quadRow + x0;
        const a = probability[q] > maskThreshold, b = probability[Math.min(last, q + right)] > maskThreshold;
        const c = probability[Math.min(last, q + below)] > maskThreshold, d = probability[Math.min(last, q + below + right)] > maskThreshold;
        if (a === b && a === c && a === d) template.fill(a ? 1 : 0, from, to);
        else mixed.push(x0);
      }
    }
    mask.data.set(template.subarray(xStart, xEnd), out + xStart);
    for (const x0 of mixed) {
      const q = quadRow + x0;
      for (let x = spanStart[x0]; x < spanStart[x0 + 1]; x++) {
        let p: number;
        if (guide) {
          const fx = x0 + columns.weight[x], fy = y0 + ay;
          const pixel = (out + x) * 3, r = guide.image.data[pixel], g = guide.image.data[pixel + 1], b = guide.image.data[pixel + 2];
          let sum = 0, total = 0;
          for (let cy = Math.max(0, y0 - 1); cy <= Math.min(height - 1, y0 + 2); cy++) {
            for (let cx = Math.max(0, x0 - 1); cx <= Math.min(width - 1, x0 + 2); cx++) {
              const c = cy * width + cx, k = c * 3;
              const dr = r - guide.colors[k], dg = g - guide.colors[k + 1], db = b - guide.colors[k + 2];
              const dx = cx - fx, dy = cy - fy;
              const w = Math.exp((dr * dr + dg * dg + db * db) * colorScale + (dx * dx + dy * dy) * spatialScale);
              sum += w * probability[c];
              total += w;
            }
          }
          p = total > 0 ? sum / total : 0;
        } else {
          const ax = columns.weight[x];
          const top = probability[q] * (1 - ax) + probability[q + right] * ax;
          const bottom = probability[q + below] * (1 - ax) + probability[q + below + right] * ax;
          p = top * (1 - ay) + bottom * ay;
        }
        mask.data[out + x] = p > maskThreshold ? 1 : 0;
      }
    }
  }
  return mask;
}
