/**
 * Grid probabilities to a full-resolution mask. Pixels whose four surrounding cell centres agree (all above or
 * all below the threshold) are decided by bilinear interpolation alone, which cannot cross the threshold there;
 * only pixels in the mixed band get joint-bilateral upsampling (Kopf et al. 2007): a weighted vote of the
 * surrounding 4x4 (or 2x2) cells, weights = spatial Gaussian (cell units) x colour Gaussian between the pixel's colour and
 * the cell's mean colour. The band is a few percent of the image; the vote still costs most of a click at
 * 1024x768, so the upsampler keeps its last input and output and redoes only the pixels near changed cells.
 */
import type { RgbImage } from '../image';
import { type Mask, createMask } from '../mask';

export const maskThreshold = 0.49;
/** Vote margins are kept in bytes of 1/500: |vote - 0.49| <= 0.51 fits in 0..255. */
const marginScale = 500;

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

/**
 * `image` (HWC uint8) averaged over blocks of factor x factor pixels (partial blocks at the right and bottom
 * edges): ceil(width / factor) x ceil(height / factor). One pass over the image; the image itself for factor 1.
 */
export function downsampleImage(image: RgbImage, factor: number): RgbImage {
  if (factor <= 1) return image;
  const { width, height, data } = image;
  const outWidth = Math.ceil(width / factor), outHeight = Math.ceil(height / factor);
  const out = new Uint8Array(outWidth * outHeight * 3), sums = new Uint32Array(outWidth * 3), block = new Int32Array(width);
  for (let x = 0; x < width; x++) block[x] = Math.floor(x / factor) * 3;
  for (let by = 0; by < outHeight; by++) {
    sums.fill(0);
    const yEnd = Math.min(height, (by + 1) * factor);
    for (let y = by * factor; y < yEnd; y++) {
      for (let x = 0, p = y * width * 3; x < width; x++, p += 3) {
        const s = block[x];
        sums[s] += data[p];
        sums[s + 1] += data[p + 1];
        sums[s + 2] += data[p + 2];
      }
    }
    const rows = yEnd - by * factor;
    for (let bx = 0; bx < outWidth; bx++) {
      const n = rows * (Math.min(width, (bx + 1) * factor) - bx * factor);
      for (let c = 0; c < 3; c++) out[(by * outWidth + bx) * 3 + c] = Math.round(sums[bx * 3 + c] / n);
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

export interface UpsampleGuide {
  /**
   * The pixel colours the vote compares with the cells': the image, or a smaller copy of it (`downsampleImage`)
   * that each output pixel reads by bilinear interpolation, which smooths the image at the copy's block size.
   */
  image: RgbImage;
  /** From `cellColors`. */
  colors: Float32Array;
  /** Colour Gaussian sigma, RGB units. */
  colorSigma: number;
  /** Spatial Gaussian sigma, cell units. */
  spatialSigma: number;
  /** Cells voting per axis: 2 * radius around the pixel (1: the bilinear 2x2, 2: 4x4). */
  radius: number;
}

export interface GuideOptions {
  /** Colour sigma (RGB units, 0 = no guide: plain bilinear) and spatial sigma (cells) of the joint-bilateral vote. */
  colorSigma: number;
  spatialSigma: number;
  /** Cells voting per axis in the joint-bilateral step: 2 * radius (1: 2x2, 2: 4x4). */
  bilateralRadius: number;
  /**
   * Pixels compare a smoothed colour with the cells': the image averaged over blocks of guideBlur x the cell size
   * (rounded down; cells under 1 / guideBlur pixels use the image as is), read back by bilinear interpolation.
   * Without it each pixel of a wide boundary band votes alone: on a 6000x4500 photo (47-pixel cells) sensor noise
   * turned one click into ~1,800 specks and as many holes.
   */
  guideBlur: number;
}

/** The guide for an image whose map is width x height cells, or null for plain bilinear upsampling. */
export function upsampleGuide(image: RgbImage | null | undefined, width: number, height: number, options: GuideOptions): UpsampleGuide | null {
  if (!image || options.colorSigma <= 0) return null;
  const cellSize = Math.min(image.width / width, image.height / height);
  return {
    image: downsampleImage(image, Math.floor(options.guideBlur * cellSize)), colors: cellColors(image, width, height), colorSigma: options.colorSigma,
    spatialSigma: options.spatialSigma, radius: options.bilateralRadius,
  };
}

interface AxisLookup {
  /** Per pixel: the lower of the two cells around its centre, and the upper cell's weight. */
  lower: Int32Array;
  weight: Float32Array;
  /** Per cell index k in 0..cells: the first pixel whose lower cell is >= k (pixels for k = cells). */
  first: Int32Array;
}

function axisLookup(pixels: number, cells: number): AxisLookup {
  const lower = new Int32Array(pixels), weight = new Float32Array(pixels), first = new Int32Array(cells + 1).fill(pixels);
  for (let p = 0; p < pixels; p++) {
    const f = Math.min(cells - 1, Math.max(0, ((p + 0.5) * cells) / pixels - 0.5));
    const low = Math.min(Math.max(0, cells - 2), Math.floor(f));
    lower[p] = low;
    weight[p] = cells > 1 ? f - low : 0;
  }
  for (let p = 0, k = 0; p < pixels; p++) {
    while (k <= lower[p]) first[k++] = p;
  }
  return { lower, weight, first };
}

/**
 * |after - before| per cell into `change`, and the bounding box [x0, x1, y0, y1] (inclusive) of the cells that
 * differ, or null when none does.
 */
function changedCells(before: Float32Array, after: Float32Array, width: number, change: Float32Array): [number, number, number, number] | null {
  let x0 = width, x1 = -1, y0 = -1, y1 = -1;
  for (let c = 0; c < after.length; c++) {
    const d = after[c] - before[c];
    change[c] = d < 0 ? -d : d;
    if (d === 0) continue;
    const y = (c / width) | 0, x = c - y * width;
    if (y0 < 0) y0 = y;
    y1 = y;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
  }
  return x1 < 0 ? null : [x0, x1, y0, y1];
}

/** Spatial weights of the 2r cells lower - r + 1 .. lower + r around each pixel along one axis (2r per pixel). */
function spatialWeights(lookup: AxisLookup, sigma: number, radius: number): Float32Array {
  const taps = 2 * radius, weights = new Float32Array(lookup.lower.length * taps);
  for (let p = 0; p < lookup.lower.length; p++) {
    for (let k = 0; k < taps; k++) {
      const offset = k - (radius - 1) - lookup.weight[p];
      weights[p * taps + k] = Math.exp(-(offset * offset) / (2 * sigma * sigma));
    }
  }
  return weights;
}

/** Colour weight exp(-d2 / 2 sigma^2) tabulated over d2 in [0, (4 sigma)^2]; 0 beyond. */
const colorTableSize = 2048;
function colorTable(sigma: number): { table: Float32Array; scale: number } {
  const limit = 16 * sigma * sigma, table = new Float32Array(colorTableSize + 1);
  for (let i = 0; i < colorTableSize; i++) table[i] = Math.exp(-((i / colorTableSize) * limit) / (2 * sigma * sigma));
  return { table, scale: colorTableSize / limit };
}

export interface Upsampler {
  /** `probability`: the width x height grid. `box` ([x0, y0, x1, y1) in pixels) limits the pixels that may be set. */
  mask(probability: Float32Array, box?: [number, number, number, number]): Mask;
}

/** Lookups that depend only on the geometry and the guide are computed once per image. `guide` null: bilinear. */
export function createUpsampler(width: number, height: number, imageWidth: number, imageHeight: number, guide: UpsampleGuide | null): Upsampler {
  const columns = axisLookup(imageWidth, width), rows = axisLookup(imageHeight, height);
  const right = width > 1 ? 1 : 0, below = height > 1 ? width : 0;
  const radius = guide ? Math.max(1, Math.round(guide.radius)) : 1, taps = 2 * radius;
  const columnWeights = guide ? spatialWeights(columns, guide.spatialSigma, radius) : null;
  const rowWeights = guide ? spatialWeights(rows, guide.spatialSigma, radius) : null;
  const colors = guide ? colorTable(guide.colorSigma) : null;
  const quadState = new Uint8Array(width);
  const template = new Uint8Array(imageWidth);
  const mixed = new Int32Array(imageWidth);

  /** Joint-bilateral vote of the 2r x 2r cells around pixel (x, y); -1 when no cell is within 4 colour sigmas. */
  const pixels = guide ? guide.image.data : new Uint8Array(0), means = guide ? guide.colors : new Float32Array(0);
  const table = colors ? colors.table : new Float32Array(0), tableScale = colors ? colors.scale : 0;
  // Where each output pixel reads the guide image: its own pixel when the guide has the output's size, else bilinear.
  const guideWidth = guide ? guide.image.width : 1, guideHeight = guide ? guide.image.height : 1;
  const guideColumns = axisLookup(imageWidth, guideWidth), guideRows = axisLookup(imageHeight, guideHeight);
  const guideRight = guideWidth > 1 ? 3 : 0, guideBelow = guideHeight > 1 ? guideWidth * 3 : 0;
  const color = new Float32Array(3);

  /** The guide colour at output pixel (x, y), into `color`. */
  const colorAt = guideWidth === imageWidth && guideHeight === imageHeight
    ? (x: number, y: number): void => {
      const p = (y * imageWidth + x) * 3;
      color[0] = pixels[p];
      color[1] = pixels[p + 1];
      color[2] = pixels[p + 2];
    }
    : (x: number, y: number): void => {
      const p = (guideRows.lower[y] * guideWidth + guideColumns.lower[x]) * 3, ax = guideColumns.weight[x], ay = guideRows.weight[y];
      for (let c = 0; c < 3; c++) {
        const top = pixels[p + c] * (1 - ax) + pixels[p + guideRight + c] * ax;
        const bottom = pixels[p + guideBelow + c] * (1 - ax) + pixels[p + guideBelow + guideRight + c] * ax;
        color[c] = top * (1 - ay) + bottom * ay;
      }
    };

  function bilateral(probability: Float32Array, x: number, y: number): number {
    if (!columnWeights || !rowWeights) return -1;
    const x0 = columns.lower[x], y0 = rows.lower[y];
    colorAt(x, y);
    const r = color[0], g = color[1], b = color[2];
    const xFirst = Math.max(0, x0 - radius + 1), xLast = Math.min(width - 1, x0 + radius);
    const yFirst = Math.max(0, y0 - radius + 1), yLast = Math.min(height - 1, y0 + radius);
    const columnBase = x * taps - (x0 - radius + 1), rowBase = y * taps - (y0 - radius + 1);
    let sum = 0, total = 0;
    for (let cy = yFirst; cy <= yLast; cy++) {
      const wy = rowWeights[rowBase + cy];
      for (let cx = xFirst, c = cy * width + xFirst; cx <= xLast; cx++, c++) {
        const i = c * 3, dr = r - means[i], dg = g - means[i + 1], db = b - means[i + 2];
        const index = ((dr * dr + dg * dg + db * db) * tableScale) | 0;
        if (index >= colorTableSize) continue;
        const w = table[index] * wy * columnWeights[columnBase + cx];
        sum += w * probability[c];
        total += w;
      }
    }
    return total > 1e-6 ? sum / total : -1;
  }

  function bilinear(probability: Float32Array, x: number, y: number): number {
    const q = rows.lower[y] * width + columns.lower[x], ax = columns.weight[x], ay = rows.weight[y];
    const top = probability[q] * (1 - ax) + probability[q + right] * ax;
    const bottom = probability[q + below] * (1 - ax) + probability[q + below + right] * ax;
    return top * (1 - ay) + bottom * ay;
  }

  /** Decide the pixels in [xStart, xEnd) x [yStart, yEnd) of `out` (all of them are written, 0 or 1). */
  /**
   * Decide the pixels in [xStart, xEnd) x [yStart, yEnd) of `out` (all of them are written, 0 or 1). With `drift`
   * (per quad, the largest probability change among its support cells since the last call, in margin units), a
   * mixed pixel whose last vote cleared the threshold by more than that keeps its last decision: a vote is a
   * convex combination of its support cells, so it cannot have moved further than they did.
   */
  function fill(out: Uint8Array, probability: Float32Array, xStart: number, xEnd: number, yStart: number, yEnd: number,
    drift: Uint8Array | null): void {
    let templateRow = -1, mixedCount = 0;
    for (let y = yStart; y < yEnd; y++) {
      const y0 = rows.lower[y], row = y * imageWidth, quadRow = y0 * width;
      if (y0 !== templateRow) {
        // Quads whose four corners agree are the same for every pixel row of this cell row: build them once.
        templateRow = y0;
        for (let x0 = columns.lower[xStart]; x0 <= Math.min(columns.lower[xEnd - 1], Math.max(0, width - 2)); x0++) {
          const q = quadRow + x0;
          const a = probability[q] > maskThreshold, b = probability[q + right] > maskThreshold;
          const c = probability[q + below] > maskThreshold, d = probability[q + below + right] > maskThreshold;
          quadState[x0] = a && b && c && d ? 1 : !a && !b && !c && !d ? 0 : 2;
          quadWasMixed[x0] = wasMixed[q];
          wasMixed[q] = quadState[x0] === 2 ? 1 : 0;
        }
        mixedCount = 0;
        for (let x = xStart; x < xEnd; x++) {
          const state = quadState[columns.lower[x]];
          template[x] = state & 1;
          if (state === 2) mixed[mixedCount++] = x;
        }
      }
      out.set(template.subarray(xStart, xEnd), row + xStart);
      for (let m = 0; m < mixedCount; m++) {
        const x = mixed[m], i = row + x, x0 = columns.lower[x];
        if (drift && quadWasMixed[x0]) {
          const left = margins[i] - drift[quadRow + x0];
          if (left > 0) {
            margins[i] = left;
            out[i] = last.data[i];
            continue;
          }
        }
        let p = bilateral(probability, x, y);
        if (p < 0) p = bilinear(probability, x, y);
        out[i] = p > maskThreshold ? 1 : 0;
        margins[i] = Math.floor(Math.abs(p - maskThreshold) * marginScale);
      }
    }
  }

  const change = new Float32Array(width * height), across = new Float32Array(width * height), driftUnits = new Uint8Array(width * height);
  /**
   * Per quad: the largest |change| (changedCells' per-cell differences) of the cells in its pixels' support
   * (2r x 2r from lower - r + 1), in margin units rounded up.
   */
  function drift(): Uint8Array {
    // A separable running maximum: along rows into `across`, then down columns.
    for (let y = 0, row = 0; y < height; y++, row += width) {
      for (let x = 0; x < width; x++) {
        const first = x - radius + 1 < 0 ? 0 : x - radius + 1, last = x + radius < width ? x + radius : width - 1;
        let most = 0;
        for (let k = row + first; k <= row + last; k++) if (change[k] > most) most = change[k];
        across[row + x] = most;
      }
    }
    for (let y = 0; y < height; y++) {
      const first = y - radius + 1 < 0 ? 0 : y - radius + 1, last = y + radius < height ? y + radius : height - 1;
      for (let x = 0; x < width; x++) {
        let most = 0;
        for (let k = first * width + x; k <= last * width + x; k += width) if (across[k] > most) most = across[k];
        const units = Math.ceil(most * marginScale);
        driftUnits[y * width + x] = units > 255 ? 255 : units;
      }
    }
    return driftUnits;
  }

  // The last call's input and output: a labeler adds one click at a time, and a click changes the probability
  // of a few regions only, so the next call redoes only the pixels whose 2r x 2r cell support holds a changed
  // cell and copies the rest (exactly the same result as a full pass; see upsample.test.ts).
  const last = { probability: new Float32Array(width * height), box: '', data: new Uint8Array(imageWidth * imageHeight) };
  // Per mixed pixel: how far its last vote cleared the threshold, in 1/marginScale units rounded down (a byte:
  // votes lie in 0..1 and the threshold near 0.5); per quad: whether it was mixed in the last call, i.e. whether
  // its pixels' margins are current.
  const margins = new Uint8Array(imageWidth * imageHeight), wasMixed = new Uint8Array(width * height);
  const quadWasMixed = new Uint8Array(width);

  return {
    mask(probability: Float32Array, box?: [number, number, number, number]): Mask {
      const mask = createMask(imageWidth, imageHeight);
      const [bx0, by0, bx1, by1] = box ?? [0, 0, imageWidth, imageHeight];
      const xStart = Math.max(0, Math.floor(bx0)), xEnd = Math.min(imageWidth, Math.ceil(bx1));
      const yStart = Math.max(0, Math.floor(by0)), yEnd = Math.min(imageHeight, Math.ceil(by1));
      if (xStart >= xEnd || yStart >= yEnd) return mask;
      const boxKey = `${xStart},${xEnd},${yStart},${yEnd}`;
      if (last.box !== boxKey) {
        fill(mask.data, probability, xStart, xEnd, yStart, yEnd, null);
      } else {
        const changed = changedCells(last.probability, probability, width, change);
        mask.data.set(last.data);
        if (changed) {
          // Pixels whose lower cell lies within `radius` cells of the change (their support reaches it).
          const [cx0, cx1, cy0, cy1] = changed;
          const x0 = Math.max(xStart, columns.first[Math.max(0, cx0 - radius)]);
          const x1 = Math.min(xEnd, columns.first[Math.min(width, cx1 + radius)]);
          const y0 = Math.max(yStart, rows.first[Math.max(0, cy0 - radius)]);
          const y1 = Math.min(yEnd, rows.first[Math.min(height, cy1 + radius)]);
          if (x0 < x1 && y0 < y1) fill(mask.data, probability, x0, x1, y0, y1, drift());
        }
      }
      last.probability.set(probability);
      last.data.set(mask.data);
      last.box = boxKey;
      return mask;
    },
  };
}
