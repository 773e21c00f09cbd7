/**
 * Stored embedding maps and the arithmetic on them. A map is a grid of D-dimensional unit vectors covering the
 * whole image; grid cell (gx, gy) covers image pixels [gx * imageWidth / width, (gx + 1) * imageWidth / width).
 */

export interface EmbeddingMap {
  /** Grid size in cells. */
  width: number;
  height: number;
  dim: number;
  /** Size of the image the grid covers, in image pixels. */
  imageWidth: number;
  imageHeight: number;
  /** width * height * dim values, cell-major (HWC): the vector of cell (gx, gy) starts at (gy * width + gx) * dim. */
  data: Float32Array;
}

/** How a map is stored: int8 with one scale (value = q * scale), or float16 bits. */
export type EmbeddingDtype = 'int8' | 'float16';

export interface StoredEmbedding {
  width: number;
  height: number;
  dim: number;
  imageWidth: number;
  imageHeight: number;
  dtype: EmbeddingDtype;
  scale: number;
  bytes: Uint8Array;
}

/** Normalise each cell's vector to unit length in place (zero vectors stay zero). */
export function normalizeCells(data: Float32Array, dim: number): Float32Array {
  for (let offset = 0; offset < data.length; offset += dim) {
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += data[offset + k] * data[offset + k];
    const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < dim; k++) data[offset + k] *= inverse;
  }
  return data;
}

/** Convert a network output (1xDxHxW, channel-major) to cell-major, cropped to `width` x `height`. */
export function chwToHwc(chw: Float32Array, dim: number, fullHeight: number, fullWidth: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * dim);
  const plane = fullHeight * fullWidth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const target = (y * width + x) * dim, source = y * fullWidth + x;
      for (let k = 0; k < dim; k++) out[target + k] = chw[k * plane + source];
    }
  }
  return out;
}

/** Unit vectors fit int8 with scale 1/127: error <= 0.004 per component. */
export function quantize(map: EmbeddingMap, dtype: EmbeddingDtype = 'int8'): StoredEmbedding {
  const { width, height, dim, imageWidth, imageHeight, data } = map;
  if (dtype === 'float16') {
    const half = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) half[i] = toFloat16(data[i]);
    return { width, height, dim, imageWidth, imageHeight, dtype, scale: 1, bytes: new Uint8Array(half.buffer) };
  }
  let max = 0;
  for (let i = 0; i < data.length; i++) max = Math.max(max, Math.abs(data[i]));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = Math.round(data[i] / scale);
  return { width, height, dim, imageWidth, imageHeight, dtype, scale, bytes: new Uint8Array(q.buffer) };
}

export function dequantize(stored: StoredEmbedding): EmbeddingMap {
  const { width, height, dim, imageWidth, imageHeight, dtype, scale, bytes } = stored;
  const count = width * height * dim;
  const expected = dtype === 'int8' ? count : count * 2;
  if (bytes.byteLength !== expected) {
    throw new RangeError(`embedding blob has ${bytes.byteLength} bytes, expected ${expected} for ${width}x${height}x${dim} ${dtype}`);
  }
  const data = new Float32Array(count);
  if (dtype === 'int8') {
    const q = new Int8Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) data[i] = q[i] * scale;
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) data[i] = fromFloat16(view.getUint16(i * 2, true));
  }
  return { width, height, dim, imageWidth, imageHeight, data };
}

/** Grid cell containing image pixel (x, y). */
export function cellAt(map: EmbeddingMap, x: number, y: number): [number, number] {
  const gx = Math.min(map.width - 1, Math.max(0, Math.floor((x * map.width) / map.imageWidth)));
  const gy = Math.min(map.height - 1, Math.max(0, Math.floor((y * map.height) / map.imageHeight)));
  return [gx, gy];
}

/** Bilinearly interpolated, renormalised vector at image pixel (x, y). */
export function vectorAt(map: EmbeddingMap, x: number, y: number): Float32Array {
  const { width, height, dim, data } = map;
  const fx = Math.min(width - 1, Math.max(0, ((x + 0.5) * width) / map.imageWidth - 0.5));
  const fy = Math.min(height - 1, Math.max(0, ((y + 0.5) * height) / map.imageHeight - 0.5));
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(width - 1, x0 + 1), y1 = Math.min(height - 1, y0 + 1);
  const ax = fx - x0, ay = fy - y0;
  const out = new Float32Array(dim);
  const corners: Array<[number, number, number]> = [
    [x0, y0, (1 - ax) * (1 - ay)], [x1, y0, ax * (1 - ay)], [x0, y1, (1 - ax) * ay], [x1, y1, ax * ay],
  ];
  for (const [cx, cy, weight] of corners) {
    const offset = (cy * width + cx) * dim;
    for (let k = 0; k < dim; k++) out[k] += weight * data[offset + k];
  }
  return normalizeCells(out, dim);
}

const floatView = new Float32Array(1);
const intView = new Uint32Array(floatView.buffer);

export function toFloat16(value: number): number {
  floatView[0] = value;
  const bits = intView[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    return sign | ((mantissa | 0x800000) >> (1 - exponent + 13));
  }
  if (exponent >= 31) return sign | 0x7c00;
  return sign | (exponent << 10) | (mantissa >> 13);
}

export function fromFloat16(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}
