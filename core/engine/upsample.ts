/**
 * Grid probabilities to a full-resolution mask. Pixels whose four surrounding cell centres agree (all above or
 * all below the threshold) are decided by bilinear interpolation alone, which cannot cross the threshold there;
 * only pixels in the mixed band get joint-bilateral upsampling (Kopf et al. 2007): a weighted vote of the
 * surrounding 4x4 (or 2x2) cells, weights = spatial Gaussian (cell units) x colour Gaussian between the pixel's colour and
 * the cell's mean colour. The band is a few percent of the image; the vote still costs most of a click at
 * 1024x768, so the upsampler keeps its last output and redoes only what a click changes, and keeps each band
 * pixel's vote weights (see createUpsampler). On large photos the colours are read from a smoothed, smaller guide
 * anyway, and votes are taken at its pixels and read back bilinearly (voteQuadCoarse): at 6000x4500 a vote serves
 * 25 pixels.
 */
import type { RgbImage } from '../image';
import type { Mask } from '../mask';

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
  /**
   * Idle-time work for later mask() calls: the vote weights of up to about `pixels` pixels that have none yet,
   * in the quads that `probability` makes mixed, or with null in every quad, when all of the image's weights fit
   * the cache (`preparesWhole`). True when none is left (or the cache is full). Changes no result, only how long
   * later calls take.
   */
  prepare(probability: Float32Array | null, pixels: number): boolean;
  /** Whether prepare(null) readies the whole image: the weights of all its pixels fit the cache. */
  readonly preparesWhole: boolean;
  /**
   * Hands the kept weights' memory (up to 64 MB) to the next upsampler that needs some, and forgets them; this one
   * still works, working them out again. Call it when done with an image: a fresh allocation per image, and
   * freeing the last one, slowed the first clicks on the next (clicks on prepared images of 21 scenes like those of
   * tests/bench/click-latency.ts, one after the other: p95 13.8 ms without it, 10.0 ms with it).
   */
  release(): void;
}

/** A quad is the square between four neighbouring cell centres (named by its top-left cell); its pixels read the same cells. */
const allBelow = 0, allAbove = 1, mixed = 2;

/**
 * Vote weights are kept for up to this many floats (64 MB: about 990k pixels at radius 2, all of a 1024x768
 * image, so the idle time after an image opens can ready every pixel); quads beyond it work their weights out on
 * each visit (same numbers).
 */
const weightCacheFloats = 1 << 24;
/**
 * Quads of more pixels (cells over 32 px: photos of 4000+ px) keep no weights: writing and reading them back cost
 * more than working them out again (tests/bench/large-image.ts, 6000x4500: first click 270-320 ms, 410-420 when kept).
 */
const keptQuadPixels = 1024;
/** The weight memory of the last released upsampler (Upsampler.release), for the next one to reuse. */
let spare: Float32Array<ArrayBuffer> | null = null;

/**
 * Lookups that depend only on the geometry and the guide are computed once per image. `guide` null: bilinear.
 *
 * The upsampler keeps its last input and output, so a click costs only what it changes (exactly the result of
 * a full pass; see upsample.test.ts). Per quad: one whose corners agree and agreed the same way last time is
 * left alone, one whose corners now agree otherwise is filled; in a mixed quad that was mixed last time, a
 * pixel whose last vote cleared the threshold by more than its support cells moved keeps its decision (a vote is
 * a convex combination of those cells, so it cannot have moved further than they did), and the others vote
 * again. A pixel's vote weights depend on the image alone, so they are worked out once, when its quad first
 * turns mixed or earlier in idle time (prepare), and a vote is then one dot product with the cells' probabilities.
 */
export function createUpsampler(width: number, height: number, imageWidth: number, imageHeight: number, guide: UpsampleGuide | null): Upsampler {
  const columns = axisLookup(imageWidth, width), rows = axisLookup(imageHeight, height);
  const right = width > 1 ? 1 : 0, below = height > 1 ? width : 0;
  // Quads per row and column: (x0, y0) for x0 < quadColumns (one quad on a one-cell-wide grid).
  const quadColumns = Math.max(1, width - 1), quadRows = Math.max(1, height - 1);
  const radius = guide ? Math.max(1, Math.round(guide.radius)) : 1, taps = 2 * radius, support = taps * taps, record = support + 1;
  const columnWeights = guide ? spatialWeights(columns, guide.spatialSigma, radius) : new Float32Array(0);
  const rowWeights = guide ? spatialWeights(rows, guide.spatialSigma, radius) : new Float32Array(0);
  const { table, scale: tableScale } = guide ? colorTable(guide.colorSigma) : { table: new Float32Array(0), scale: 0 };
  const pixels = guide ? guide.image.data : new Uint8Array(0), means = guide ? guide.colors : new Float32Array(0);
  // Where each output pixel reads the guide image: its own pixel when the guide has the output's size, else bilinear.
  const guideWidth = guide ? guide.image.width : 1, guideHeight = guide ? guide.image.height : 1;
  const guideColumns = axisLookup(imageWidth, guideWidth), guideRows = axisLookup(imageHeight, guideHeight);
  const guideRight = guideWidth > 1 ? 3 : 0, guideBelow = guideHeight > 1 ? guideWidth * 3 : 0;
  const color = new Float32Array(3);
  // A guide smaller than the output (cells of 16+ pixels: photos of 2000+ px): pixels vote at the guide's
  // resolution and the output reads those votes back bilinearly (see voteQuadCoarse).
  const coarse = guide !== null && (guideWidth < imageWidth || guideHeight < imageHeight);

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

  // The support of the quad being worked on, cells x0 - r + 1 .. x0 + r and y0 - r + 1 .. y0 + r, row-major:
  // each one's index (-1 where it does not exist), probability and mean colour (0 where it does not exist).
  const supportCells = new Int32Array(support), supportProbability = new Float32Array(support), supportColors = new Float32Array(support * 3);
  function gatherSupport(x0: number, y0: number, probability: Float32Array): void {
    for (let ky = 0, k = 0; ky < taps; ky++) {
      const cy = y0 - radius + 1 + ky;
      for (let kx = 0; kx < taps; kx++, k++) {
        const cx = x0 - radius + 1 + kx, exists = cx >= 0 && cx < width && cy >= 0 && cy < height;
        supportCells[k] = exists ? cy * width + cx : -1;
        supportProbability[k] = exists ? probability[cy * width + cx] : 0;
      }
    }
  }

  /** The gathered support's mean colours (only needed to work out vote weights). */
  function gatherColors(): void {
    for (let k = 0; k < support; k++) {
      const c = supportCells[k];
      for (let channel = 0; channel < 3; channel++) supportColors[k * 3 + channel] = c >= 0 ? means[c * 3 + channel] : 0;
    }
  }

  /**
   * Joint-bilateral weights of pixel (x, y) over the 2r x 2r support cells gathered last: weights[at] = their sum,
   * or -1 when no cell lies within 4 colour sigmas (the pixel then takes the bilinear value), then one weight per
   * support cell, row-major (0 for cells that do not exist). `record` floats in all.
   */
  function voteWeights(x: number, y: number, weights: Float32Array, at: number): void {
    colorAt(x, y);
    const r = color[0], g = color[1], b = color[2];
    let total = 0;
    for (let ky = 0, k = 0; ky < taps; ky++) {
      const wy = rowWeights[y * taps + ky];
      for (let kx = 0; kx < taps; kx++, k++) {
        const dr = r - supportColors[k * 3], dg = g - supportColors[k * 3 + 1], db = b - supportColors[k * 3 + 2];
        const index = ((dr * dr + dg * dg + db * db) * tableScale) | 0;
        const w = supportCells[k] >= 0 && index < colorTableSize ? table[index] * wy * columnWeights[x * taps + kx] : 0;
        weights[at + 1 + k] = w;
        total += w;
      }
    }
    weights[at] = total > 1e-6 ? total : -1;
  }

  function bilinear(probability: Float32Array, x: number, y: number): number {
    const q = rows.lower[y] * width + columns.lower[x], ax = columns.weight[x], ay = rows.weight[y];
    const top = probability[q] * (1 - ax) + probability[q + right] * ax;
    const bottom = probability[q + below] * (1 - ax) + probability[q + below + right] * ax;
    return top * (1 - ay) + bottom * ay;
  }

  // Vote weights per quad, for all of its pixels (row-major within the quad): offset into `pool`, -1 = not kept.
  const quadWeights = new Int32Array(width * height).fill(-1);
  let pool = new Float32Array(0), poolUsed = 0;
  const pixelRecord = new Float32Array(record);

  /** Room for `floats` in `pool`, the weights kept so far copied over; memory a released upsampler left is reused. */
  function reserve(floats: number): void {
    let grown: Float32Array<ArrayBuffer>;
    if (spare && spare.length >= floats) {
      grown = spare;
      spare = null;
    } else grown = new Float32Array(floats);
    grown.set(pool.subarray(0, poolUsed));
    pool = grown;
  }

  /** Offset in `pool` of quad q (x0, y0)'s weights (support gathered), worked out now if need be; -1: not kept. */
  function keptWeights(q: number, x0: number, y0: number): number {
    if (quadWeights[q] >= 0) return quadWeights[q];
    const xs = columns.first[x0], xe = columns.first[x0 + 1], ys = rows.first[y0], ye = rows.first[y0 + 1];
    const pixels = (xe - xs) * (ye - ys), size = pixels * record;
    if (pixels > keptQuadPixels || poolUsed + size > weightCacheFloats) return -1;
    if (poolUsed + size > pool.length) reserve(Math.min(weightCacheFloats, Math.max(1 << 18, 2 * (poolUsed + size))));
    gatherColors();
    for (let y = ys, k = poolUsed; y < ye; y++) {
      for (let x = xs; x < xe; x++, k += record) voteWeights(x, y, pool, k);
    }
    quadWeights[q] = poolUsed;
    poolUsed += size;
    return quadWeights[q];
  }

  // The kept output and, per mixed pixel, how far its last vote cleared the threshold (in 1/marginScale units,
  // rounded down: a byte, as votes lie in 0..1 and the threshold near 0.5); per quad its state in that output.
  const data = new Uint8Array(imageWidth * imageHeight), margins = new Uint8Array(coarse ? 0 : imageWidth * imageHeight);
  const states = new Uint8Array(width * height), lastProbability = new Float32Array(width * height);
  // A fresh output is the empty mask of the whole image (every quad all below the threshold).
  let lastBox = `0,${imageWidth},0,${imageHeight}`;

  // Whether every quad's weights fit the cache (quads too large to keep count as none), and how far prepare(null) got.
  let keptFloats = 0;
  for (let y0 = 0; y0 < quadRows; y0++) {
    for (let x0 = 0; x0 < quadColumns; x0++) {
      const quadPixels = (columns.first[x0 + 1] - columns.first[x0]) * (rows.first[y0 + 1] - rows.first[y0]);
      keptFloats += quadPixels > keptQuadPixels ? 0 : quadPixels * record;
    }
  }
  const preparesWhole = guide !== null && !coarse && keptFloats > 0 && keptFloats <= weightCacheFloats;
  let wholeFrom = 0;

  function stateOf(probability: Float32Array, q: number): number {
    const a = probability[q] > maskThreshold, b = probability[q + right] > maskThreshold;
    const c = probability[q + below] > maskThreshold, d = probability[q + below + right] > maskThreshold;
    return a && b && c && d ? allAbove : !a && !b && !c && !d ? allBelow : mixed;
  }

  /** The largest probability change among the gathered support cells since the last call, in margin units. */
  function drift(): number {
    let most = 0;
    for (let k = 0; k < support; k++) {
      if (supportCells[k] < 0) continue;
      const d = Math.abs(supportProbability[k] - lastProbability[supportCells[k]]);
      if (d > most) most = d;
    }
    return Math.ceil(most * marginScale);
  }

  /** Re-decide the pixels [xs, xe) x [ys, ye) of mixed quad q (x0, y0); `moved` from drift, or -1: all of them. */
  function voteQuad(probability: Float32Array, q: number, x0: number, y0: number, xs: number, xe: number, ys: number, ye: number, moved: number): void {
    const kept = guide ? keptWeights(q, x0, y0) : -1;
    if (guide && kept < 0) gatherColors();
    const quadWidth = columns.first[x0 + 1] - columns.first[x0], quadLeft = columns.first[x0], quadTop = rows.first[y0];
    const kept16 = kept >= 0 && support === 16, weights16 = pool, s = supportProbability;
    // The default 4x4 support written out, same terms in the same order (a click's hot loop: about 10% of its CPU time).
    const s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];
    const s8 = s[8], s9 = s[9], s10 = s[10], s11 = s[11], s12 = s[12], s13 = s[13], s14 = s[14], s15 = s[15];
    for (let y = ys; y < ye; y++) {
      for (let x = xs, i = y * imageWidth + xs; x < xe; x++, i++) {
        if (moved >= 0 && margins[i] > moved) {
          margins[i] -= moved;
          continue;
        }
        let p = 0;
        if (kept16) {
          const w = weights16, a = kept + ((y - quadTop) * quadWidth + (x - quadLeft)) * record;
          if (w[a] < 0) p = bilinear(probability, x, y);
          else {
            p = w[a + 1] * s0 + w[a + 2] * s1 + w[a + 3] * s2 + w[a + 4] * s3 + w[a + 5] * s4 + w[a + 6] * s5 + w[a + 7] * s6
              + w[a + 8] * s7 + w[a + 9] * s8 + w[a + 10] * s9 + w[a + 11] * s10 + w[a + 12] * s11 + w[a + 13] * s12
              + w[a + 14] * s13 + w[a + 15] * s14 + w[a + 16] * s15;
            p /= w[a];
          }
        } else if (!guide) p = bilinear(probability, x, y);
        else {
          let weights = pool, at = kept + ((y - quadTop) * quadWidth + (x - quadLeft)) * record;
          if (kept < 0) {
            voteWeights(x, y, pixelRecord, 0);
            weights = pixelRecord;
            at = 0;
          }
          if (weights[at] < 0) p = bilinear(probability, x, y);
          else {
            for (let k = 0; k < support; k++) p += weights[at + 1 + k] * supportProbability[k];
            p /= weights[at];
          }
        }
        data[i] = p > maskThreshold ? 1 : 0;
        margins[i] = Math.floor(Math.abs(p - maskThreshold) * marginScale);
      }
    }
  }

  // Votes at the guide pixels around the quad being worked on (voteQuadCoarse), row-major.
  let guideVotes = new Float32Array(0);
  const guideScaleX = width / guideWidth, guideScaleY = height / guideHeight, spatialScale = guide ? -1 / (2 * guide.spatialSigma ** 2) : 0;
  // Per quad: offset of its guide pixels' vote weights in `coarsePool` (`record` floats each, as voteWeights
  // writes them), -1 = not worked out yet. They depend on the image alone, like the output pixels' weights.
  const coarseKept = coarse ? new Int32Array(width * height).fill(-1) : new Int32Array(0);
  let coarsePool = new Float32Array(0), coarseUsed = 0;
  const wx = new Float32Array(taps), wy = new Float32Array(taps);

  /** The guide pixels a quad's output pixels read: [gx0, gx1] x [gy0, gy1] around all of the quad's pixels. */
  function guidePatch(x0: number, y0: number): [number, number, number, number] {
    const xs = columns.first[x0], xe = columns.first[x0 + 1], ys = rows.first[y0], ye = rows.first[y0 + 1];
    return [guideColumns.lower[xs], Math.min(guideWidth - 1, guideColumns.lower[xe - 1] + 1),
      guideRows.lower[ys], Math.min(guideHeight - 1, guideRows.lower[ye - 1] + 1)];
  }

  /** Vote weights of the guide pixels of quad (x0, y0)'s patch (support colours gathered) into `into` at `at`. */
  function guideWeights(x0: number, y0: number, into: Float32Array, at: number): void {
    const [gx0, gx1, gy0, gy1] = guidePatch(x0, y0);
    const cellLeft = x0 - radius + 1, cellTop = y0 - radius + 1;
    for (let gy = gy0, o = at; gy <= gy1; gy++) {
      const fy = (gy + 0.5) * guideScaleY - 0.5;
      for (let k = 0; k < taps; k++) wy[k] = Math.exp((cellTop + k - fy) ** 2 * spatialScale);
      for (let gx = gx0; gx <= gx1; gx++, o += record) {
        const fx = (gx + 0.5) * guideScaleX - 0.5, p = (gy * guideWidth + gx) * 3;
        for (let k = 0; k < taps; k++) wx[k] = Math.exp((cellLeft + k - fx) ** 2 * spatialScale);
        const r = pixels[p], g = pixels[p + 1], b = pixels[p + 2];
        let total = 0;
        for (let ky = 0, k = 0; ky < taps; ky++) {
          for (let kx = 0; kx < taps; kx++, k++) {
            const dr = r - supportColors[k * 3], dg = g - supportColors[k * 3 + 1], db = b - supportColors[k * 3 + 2];
            const index = ((dr * dr + dg * dg + db * db) * tableScale) | 0;
            const w = supportCells[k] >= 0 && index < colorTableSize ? table[index] * wy[ky] * wx[kx] : 0;
            into[o + 1 + k] = w;
            total += w;
          }
        }
        into[o] = total > 1e-6 ? total : -1;
      }
    }
  }

  /**
   * voteQuad for a guide smaller than the output: the joint-bilateral vote is taken at the centres of the guide
   * pixels around the quad (its 2r x 2r support, the guide pixel's colour, spatial weights at its position), and
   * each output pixel of [xs, xe) x [ys, ye) reads the vote bilinearly, as it reads its colour. A guide pixel
   * spans guideBlur x the cell size, so at 6000x4500 (47-pixel cells) a vote serves 25 pixels instead of one. The
   * guide pixels' weights are kept per quad (up to weightCacheFloats), so a click costs one dot product per guide
   * pixel; a quad is redone whole whenever its support moved.
   */
  function voteQuadCoarse(probability: Float32Array, q: number, x0: number, y0: number, xs: number, xe: number, ys: number, ye: number): void {
    const [gx0, gx1, gy0, gy1] = guidePatch(x0, y0);
    const patchWidth = gx1 - gx0 + 1, patchHeight = gy1 - gy0 + 1, patch = patchWidth * patchHeight;
    if (guideVotes.length < patch) guideVotes = new Float32Array(patch * 2);
    let weights = coarsePool, at = coarseKept[q];
    if (at < 0) {
      gatherColors();
      if (coarseUsed + patch * record <= weightCacheFloats) {
        if (coarseUsed + patch * record > coarsePool.length) {
          const grown = new Float32Array(Math.min(weightCacheFloats, Math.max(1 << 16, 2 * (coarseUsed + patch * record))));
          grown.set(coarsePool.subarray(0, coarseUsed));
          coarsePool = weights = grown;
        }
        at = coarseKept[q] = coarseUsed;
        coarseUsed += patch * record;
      } else {
        weights = new Float32Array(patch * record);
        at = 0;
      }
      guideWeights(x0, y0, weights, at);
    }
    for (let v = 0, o = at; v < patch; v++, o += record) {
      const total = weights[o];
      if (total < 0) {
        const gy = gy0 + Math.floor(v / patchWidth), gx = gx0 + (v % patchWidth);
        guideVotes[v] = cellBilinear(probability, (gx + 0.5) * guideScaleX - 0.5, (gy + 0.5) * guideScaleY - 0.5);
        continue;
      }
      let vote = 0;
      for (let k = 0; k < support; k++) vote += weights[o + 1 + k] * supportProbability[k];
      guideVotes[v] = vote / total;
    }
    const stepRight = patchWidth > 1 ? 1 : 0, stepBelow = patchHeight > 1 ? patchWidth : 0;
    for (let y = ys; y < ye; y++) {
      const row = (guideRows.lower[y] - gy0) * patchWidth - gx0, ay = guideRows.weight[y];
      for (let x = xs, i = y * imageWidth + xs; x < xe; x++, i++) {
        const v = row + guideColumns.lower[x], ax = guideColumns.weight[x];
        const top = guideVotes[v] * (1 - ax) + guideVotes[v + stepRight] * ax;
        const bottom = guideVotes[v + stepBelow] * (1 - ax) + guideVotes[v + stepBelow + stepRight] * ax;
        data[i] = top * (1 - ay) + bottom * ay > maskThreshold ? 1 : 0;
      }
    }
  }

  /** The grid's bilinear probability at cell coordinates (fx, fy), clamped to the grid. */
  function cellBilinear(probability: Float32Array, fx: number, fy: number): number {
    const cx = Math.min(width - 1, Math.max(0, fx)), cy = Math.min(height - 1, Math.max(0, fy));
    const lx = Math.min(Math.max(0, width - 2), Math.floor(cx)), ly = Math.min(Math.max(0, height - 2), Math.floor(cy));
    const ax = width > 1 ? cx - lx : 0, ay = height > 1 ? cy - ly : 0, q = ly * width + lx;
    const top = probability[q] * (1 - ax) + probability[q + right] * ax;
    const bottom = probability[q + below] * (1 - ax) + probability[q + below + right] * ax;
    return top * (1 - ay) + bottom * ay;
  }

  return {
    mask(probability: Float32Array, box?: [number, number, number, number]): Mask {
      const [bx0, by0, bx1, by1] = box ?? [0, 0, imageWidth, imageHeight];
      const xStart = Math.max(0, Math.floor(bx0)), xEnd = Math.min(imageWidth, Math.ceil(bx1));
      const yStart = Math.max(0, Math.floor(by0)), yEnd = Math.min(imageHeight, Math.ceil(by1));
      const boxKey = `${xStart},${xEnd},${yStart},${yEnd}`;
      if (boxKey !== lastBox) {
        // An empty mask is what quads all below the threshold show: only the others need work.
        data.fill(0);
        states.fill(allBelow);
        lastBox = boxKey;
      }
      for (let y0 = 0; y0 < quadRows; y0++) {
        const ys = Math.max(yStart, rows.first[y0]), ye = Math.min(yEnd, rows.first[y0 + 1]);
        if (ys >= ye) continue;
        for (let x0 = 0; x0 < quadColumns; x0++) {
          const xs = Math.max(xStart, columns.first[x0]), xe = Math.min(xEnd, columns.first[x0 + 1]);
          if (xs >= xe) continue;
          const q = y0 * width + x0;
          const state = stateOf(probability, q), before = states[q];
          states[q] = state;
          if (state !== mixed) {
            if (state === before) continue;
            for (let y = ys; y < ye; y++) data.fill(state, y * imageWidth + xs, y * imageWidth + xe);
            continue;
          }
          gatherSupport(x0, y0, probability);
          const moved = before === mixed ? drift() : -1;
          if (moved === 0) continue;
          if (coarse) voteQuadCoarse(probability, q, x0, y0, xs, xe, ys, ye);
          else voteQuad(probability, q, x0, y0, xs, xe, ys, ye, moved);
        }
      }
      lastProbability.set(probability);
      return { width: imageWidth, height: imageHeight, data: data.slice() };
    },
    prepare(probability: Float32Array | null, pixels: number): boolean {
      if (!guide || coarse || (!probability && !preparesWhole)) return true;
      // Only the support's existence and colours enter the weights: any grid will do for gathering it.
      const grid = probability ?? lastProbability;
      // All of the pool will be filled: one allocation, not a doubling series.
      if (!probability && pool.length < keptFloats) reserve(keptFloats);
      let left = pixels;
      for (let q0 = probability ? 0 : wholeFrom; q0 < quadRows * quadColumns; q0++) {
        const y0 = Math.floor(q0 / quadColumns), x0 = q0 - y0 * quadColumns, q = y0 * width + x0;
        if (quadWeights[q] >= 0) continue;
        if (probability && stateOf(probability, q) !== mixed) continue;
        if (left <= 0) {
          if (!probability) wholeFrom = q0;
          return false;
        }
        gatherSupport(x0, y0, grid);
        if (keptWeights(q, x0, y0) < 0) return true; // the cache is full, or the image keeps none
        left -= (columns.first[x0 + 1] - columns.first[x0]) * (rows.first[y0 + 1] - rows.first[y0]);
      }
      if (!probability) wholeFrom = quadRows * quadColumns;
      return true;
    },
    preparesWhole,
    release(): void {
      if (!spare || spare.length < pool.length) spare = pool;
      pool = new Float32Array(0);
      poolUsed = 0;
      quadWeights.fill(-1);
    },
  };
}
