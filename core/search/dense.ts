/**
 * Stage 2 of search: the query against every cell of one image's stored map. The similarity heatmap is smoothed
 * (3x3 mean), its peak found, and the connected component of cells above an adaptive threshold around the peak
 * becomes the candidate object; its mean vector gives the object-level score.
 */
import { type StoredEmbedding, dequantize, normalizeCells, quantize } from '../embedding';
import { toInt8 } from './scan';

export interface DenseOptions {
  /** Max cells * dim multiply-adds per image before the heatmap is computed on every 2nd (3rd...) cell. */
  budget: number;
  /** Component threshold = median + relative * (peak - median) of the smoothed heatmap. */
  relative: number;
}

export const defaultDenseOptions: DenseOptions = { budget: 600_000, relative: 0.6 };

export interface DenseMatch {
  /** Heat grid: the map's grid subsampled by `step` (cell (x, y) is map cell (x * step, y * step)). */
  width: number;
  height: number;
  step: number;
  /** width * height smoothed cosines. */
  heat: Float32Array;
  /** width * height, 1 inside the candidate object. */
  component: Uint8Array;
  /** Peak in image pixels (centre of the peak cell). */
  peak: [number, number];
  peakScore: number;
  /** Cosine of the query with the component's mean vector. */
  objectScore: number;
  /** Unit mean vector of the component (the hit's vector for relevance feedback). */
  vector: Float32Array;
  /** Component box in image pixels [x, y, w, h]. */
  bbox: [number, number, number, number];
}

export function denseMatch(stored: StoredEmbedding, queries: Float32Array[], options: Partial<DenseOptions> = {}): DenseMatch {
  const settings = { ...defaultDenseOptions, ...options };
  const { width: mapWidth, height: mapHeight, dim } = stored;
  // Integer kernel on the stored int8 bytes (float16 maps are re-quantised once): no per-image float copy.
  const int8 = stored.dtype === 'int8' ? stored : quantize(dequantize(stored));
  const values = new Int8Array(int8.bytes.buffer, int8.bytes.byteOffset, mapWidth * mapHeight * dim);
  const scale = int8.scale / 127;
  const step = Math.max(1, Math.ceil(Math.sqrt((mapWidth * mapHeight * dim * queries.length) / settings.budget)));
  const width = Math.ceil(mapWidth / step), height = Math.ceil(mapHeight / step), count = width * height;
  const raw = new Float32Array(count).fill(-Infinity);
  for (const query of queries) {
    const q = toInt8(query);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const offset = (y * step * mapWidth + x * step) * dim;
        let sum = 0;
        for (let k = 0; k < dim; k++) sum += values[offset + k] * q[k];
        const cell = y * width + x;
        if (sum * scale > raw[cell]) raw[cell] = sum * scale;
      }
    }
  }
  const heat = boxMean(raw, width, height);
  let peak = 0;
  for (let cell = 1; cell < count; cell++) if (heat[cell] > heat[peak]) peak = cell;
  // Median from a strided sample: the threshold need not be exact, a full sort cost as much as the dot products.
  const sampleStep = Math.max(1, Math.floor(count / 1024));
  const sample = new Float32Array(Math.ceil(count / sampleStep));
  for (let i = 0, cell = 0; cell < count; i++, cell += sampleStep) sample[i] = heat[cell];
  const median = sample.sort()[sample.length >> 1];
  const threshold = median + settings.relative * (heat[peak] - median);
  const component = grow(heat, width, height, peak, threshold);

  const vector = new Float32Array(dim);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let cell = 0; cell < count; cell++) {
    if (!component[cell]) continue;
    const x = cell % width, y = Math.floor(cell / width);
    const offset = (y * step * mapWidth + x * step) * dim;
    for (let k = 0; k < dim; k++) vector[k] += values[offset + k];
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  normalizeCells(vector, dim);
  let objectScore = -Infinity;
  for (const query of queries) {
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += vector[k] * query[k];
    objectScore = Math.max(objectScore, dot);
  }
  const toX = (x: number) => (x * step * stored.imageWidth) / mapWidth, toY = (y: number) => (y * step * stored.imageHeight) / mapHeight;
  const px = Math.floor(toX(x0)), py = Math.floor(toY(y0));
  const bbox: [number, number, number, number] = [px, py,
    Math.min(stored.imageWidth, Math.ceil(toX(x1 + 1))) - px, Math.min(stored.imageHeight, Math.ceil(toY(y1 + 1))) - py];
  const peakX = peak % width, peakY = Math.floor(peak / width);
  return {
    width, height, step, heat, component, vector, objectScore, peakScore: heat[peak], bbox,
    peak: [Math.min(stored.imageWidth - 1, toX(peakX + 0.5)), Math.min(stored.imageHeight - 1, toY(peakY + 0.5))],
  };
}

/** 3x3 mean with edge cells averaging what exists. */
function boxMean(values: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0, n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          sum += values[yy * width + xx];
          n++;
        }
      }
      out[y * width + x] = sum / n;
    }
  }
  return out;
}

/** 4-connected flood fill from `seed` over cells >= threshold. */
export function grow(values: Float32Array, width: number, height: number, seed: number, threshold: number): Uint8Array {
  const inside = new Uint8Array(values.length);
  const queue = new Int32Array(values.length);
  let head = 0, tail = 0;
  queue[tail++] = seed;
  inside[seed] = 1;
  while (head < tail) {
    const cell = queue[head++], x = cell % width, y = (cell - x) / width;
    if (x > 0) visit(cell - 1);
    if (x < width - 1) visit(cell + 1);
    if (y > 0) visit(cell - width);
    if (y < height - 1) visit(cell + width);
  }
  return inside;

  function visit(cell: number) {
    if (inside[cell] || values[cell] < threshold) return;
    inside[cell] = 1;
    queue[tail++] = cell;
  }
}
