/**
 * Windows BMP decoder (uncompressed 1/4/8-bit palette, 16/24/32-bit; BI_BITFIELDS for 16/32). The image
 * library the main side uses (sharp/libvips) cannot read BMP, and labelers do have folders of them.
 */
import type { RgbImage } from './image';

export class BmpError extends Error {
  override name = 'BmpError';
}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

export function decodeBmp(bytes: Uint8Array, maxPixels = 200_000_000): RgbImage {
  if (!isBmp(bytes) || bytes.length < 54) throw new BmpError('not a BMP file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bits = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height <= 0) throw new BmpError(`invalid BMP size ${width}x${rawHeight}`);
  if (width * height > maxPixels) throw new BmpError(`BMP of ${width}x${height} exceeds the ${maxPixels} pixel limit`);
  if (compression !== 0 && compression !== 3) throw new BmpError(`compressed BMP (method ${compression}) is not supported`);
  if (![1, 4, 8, 16, 24, 32].includes(bits)) throw new BmpError(`unsupported BMP bit depth ${bits}`);

  const masks = bitMasks(view, headerSize, bits, compression);
  const paletteOffset = 14 + headerSize;
  const paletteSize = bits <= 8 ? view.getUint32(46, true) || 1 << bits : 0;
  const rowBytes = Math.ceil((width * bits) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) throw new BmpError('BMP file is truncated');

  const out = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const y = topDown ? row : height - 1 - row;
    const start = dataOffset + row * rowBytes;
    for (let x = 0; x < width; x++) {
      const target = (y * width + x) * 3;
      if (bits <= 8) {
        const bitOffset = x * bits;
        const index = (bytes[start + (bitOffset >> 3)] >> (8 - bits - (bitOffset & 7))) & ((1 << bits) - 1);
        if (index >= paletteSize) throw new BmpError(`BMP palette index ${index} out of range`);
        const entry = paletteOffset + index * 4;
        out[target] = bytes[entry + 2];
        out[target + 1] = bytes[entry + 1];
        out[target + 2] = bytes[entry];
      } else if (bits === 24) {
        const p = start + x * 3;
        out[target] = bytes[p + 2];
        out[target + 1] = bytes[p + 1];
        out[target + 2] = bytes[p];
      } else {
        const value = bits === 16 ? view.getUint16(start + x * 2, true) : view.getUint32(start + x * 4, true);
        for (let c = 0; c < 3; c++) out[target + c] = channel(value, masks[c]);
      }
    }
  }
  return { width, height, data: out };
}

function bitMasks(view: DataView, headerSize: number, bits: number, compression: number): number[] {
  if (compression === 3 && headerSize >= 40 && view.byteLength >= 66) {
    return [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  }
  return bits === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
}

function channel(value: number, mask: number): number {
  if (mask === 0) return 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return Math.round((((value & mask) >>> shift) * 255) / max);
}
