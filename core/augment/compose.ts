/**
 * Putting a decoded edit into the source photo. The decoder loses detail (16 numbers per 4x4 cell), so a variant
 * is the source plus what the edit changed in decoded space: out = source + alpha * (decode(edited) -
 * decode(original)), with alpha the object mask softened inward (1 deep inside, falling to 0 at the boundary, 0
 * outside). Pixels outside every edited mask stay exactly the source's, and the masks stay valid for the variant.
 */
import type { RgbImage } from '../image';
import type { Mask } from '../mask';

/** Mask times its box-blurred self (radius in pixels): soft inside the boundary, exactly 0 outside the mask. */
export function innerFeather(mask: Mask, radius: number): Float32Array {
  const { width, height, data } = mask;
  const alpha = new Float32Array(width * height);
  if (radius < 1) {
    for (let i = 0; i < alpha.length; i++) alpha[i] = data[i];
    return alpha;
  }
  // Separable running-sum box blur; edges clamp.
  const rows = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    let sum = 0;
    const at = (x: number) => data[y * width + Math.min(width - 1, Math.max(0, x))];
    for (let x = -radius; x <= radius; x++) sum += at(x);
    for (let x = 0; x < width; x++) {
      rows[y * width + x] = sum;
      sum += at(x + radius + 1) - at(x - radius);
    }
  }
  const area = (2 * radius + 1) * (2 * radius + 1);
  for (let x = 0; x < width; x++) {
    let sum = 0;
    const at = (y: number) => rows[Math.min(height - 1, Math.max(0, y)) * width + x];
    for (let y = -radius; y <= radius; y++) sum += at(y);
    for (let y = 0; y < height; y++) {
      const i = y * width + x;
      alpha[i] = data[i] ? sum / area : 0;
      sum += at(y + radius + 1) - at(y - radius);
    }
  }
  return alpha;
}

/** source + alpha * (edited - original), per pixel and channel, clamped to bytes. All images the same size. */
export function composeEdit(source: RgbImage, original: RgbImage, edited: RgbImage, alpha: Float32Array): RgbImage {
  const { width, height } = source;
  for (const image of [original, edited]) {
    if (image.width !== width || image.height !== height) throw new RangeError(`decoded image is ${image.width}x${image.height}, the source ${width}x${height}`);
  }
  if (alpha.length !== width * height) throw new RangeError('alpha does not cover the image');
  const data = new Uint8Array(source.data);
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i];
    if (a <= 0) continue;
    for (let c = 0; c < 3; c++) {
      const j = i * 3 + c;
      data[j] = Math.max(0, Math.min(255, Math.round(source.data[j] + a * (edited.data[j] - original.data[j]))));
    }
  }
  return { width, height, data };
}
