/**
 * Minimal PNG codec for label images, in pure TS (zlib by fflate): palette PNGs (VOC SegmentationClass/Object),
 * 1-bit greyscale (labelme 'mask' shapes). Decoding accepts every non-interlaced PNG (greyscale, RGB, palette,
 * grey+alpha, RGBA; 1-16 bits), because label images from other tools come in all of them.
 */
import { Unzlib, zlibSync } from 'fflate';

export class PngError extends Error {
  override name = 'PngError';
}

export interface DecodedPng {
  width: number;
  height: number;
  /** 1 (grey or palette index), 2 (grey+alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** width * height * channels bytes, row-major; 16-bit samples are reduced to their high byte; 1-4 bit greys are NOT rescaled. */
  data: Uint8Array;
  /** RGB triplets when the PNG is palette-based (data then holds palette indices). */
  palette?: Uint8Array;
  bitDepth: number;
  colorType: number;
}

const signature = [137, 80, 78, 71, 13, 10, 26, 10];

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out, 4, 8 + body.length));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function encode(width: number, height: number, bitDepth: number, colorType: number, rows: Uint8Array, extra: Uint8Array[]): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = bitDepth;
  header[9] = colorType;
  return concat([new Uint8Array(signature), chunk('IHDR', header), ...extra, chunk('IDAT', zlibSync(rows, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

/** 8-bit palette PNG. `indices`: width * height bytes, row-major; `palette`: RGB triplets (at most 256). */
export function encodePalettePng(width: number, height: number, indices: Uint8Array, palette: Uint8Array): Uint8Array {
  if (indices.length !== width * height) throw new PngError(`expected ${width * height} indices, got ${indices.length}`);
  const rows = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) rows.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return encode(width, height, 8, 3, rows, [chunk('PLTE', palette)]);
}

/** 1-bit greyscale PNG of a 0/1 mask (what labelme writes for 'mask' shapes: PIL mode "1"). */
export function encodeBitPng(width: number, height: number, bits: Uint8Array): Uint8Array {
  const rowBytes = Math.ceil(width / 8);
  const rows = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const base = y * (rowBytes + 1) + 1;
    for (let x = 0; x < width; x++) if (bits[y * width + x]) rows[base + (x >> 3)] |= 0x80 >> (x & 7);
  }
  return encode(width, height, 1, 0, rows, []);
}

const channelsOf: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const allowedDepths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/** Decodes a PNG; `maxPixels` guards against decompression bombs (the inflated size is checked while inflating). */
export function decodePng(bytes: Uint8Array, maxPixels = 150_000_000): DecodedPng {
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) throw new PngError('not a PNG file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8, width = 0, height = 0, bitDepth = 0, colorType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (offset + 12 <= bytes.length && !ended) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const end = offset + 8 + length;
    if (end + 4 > bytes.length) throw new PngError(`PNG is truncated inside the ${type} chunk`);
    if (crc32(bytes, offset + 4, end) !== view.getUint32(end)) throw new PngError(`PNG ${type} chunk is corrupt (CRC mismatch)`);
    const body = bytes.subarray(offset + 8, end);
    if (type === 'IHDR') {
      if (length !== 13) throw new PngError('PNG header has the wrong length');
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      bitDepth = body[8];
      colorType = body[9];
      if (body[12] !== 0) throw new PngError('interlaced PNGs are not supported; save the image without interlacing');
    } else if (type === 'PLTE') {
      palette = body.slice();
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      ended = true;
    }
    offset = end + 4;
  }
  if (colorType < 0) throw new PngError('PNG has no header');
  if (!ended) throw new PngError('PNG is truncated (no IEND chunk)');
  const channels = channelsOf[colorType];
  if (!channels || !allowedDepths[colorType].includes(bitDepth)) throw new PngError(`unsupported PNG colour type ${colorType} at ${bitDepth} bits`);
  if (width <= 0 || height <= 0) throw new PngError(`invalid PNG size ${width}x${height}`);
  if (width * height > maxPixels) throw new PngError(`PNG of ${width}x${height} exceeds the ${maxPixels} pixel limit`);
  if (colorType === 3 && !palette) throw new PngError('palette PNG has no palette');
  const bitsPerPixel = channels * bitDepth;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const raw = inflateExactly(idat, (rowBytes + 1) * height);
  const unfiltered = unfilter(raw, rowBytes, height, Math.max(1, bitsPerPixel >> 3));
  return { width, height, channels, data: unpack(unfiltered, width, height, channels, bitDepth, rowBytes), palette, bitDepth, colorType };
}

function inflateExactly(parts: Uint8Array[], expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let filled = 0;
  const inflater = new Unzlib((data) => {
    if (filled + data.length > expected) throw new PngError('PNG image data is larger than its header says');
    out.set(data, filled);
    filled += data.length;
  });
  try {
    parts.forEach((part, i) => inflater.push(part, i === parts.length - 1));
    if (!parts.length) throw new PngError('PNG has no image data');
  } catch (error) {
    if (error instanceof PngError) throw error;
    throw new PngError(`PNG image data is corrupt (${error instanceof Error ? error.message : String(error)})`);
  }
  if (filled !== expected) throw new PngError(`PNG image data is truncated (${filled} of ${expected} bytes)`);
  return out;
}

function unfilter(raw: Uint8Array, rowBytes: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)];
    const src = y * (rowBytes + 1) + 1, dst = y * rowBytes, prev = dst - rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? out[dst + i - bpp] : 0;
      const b = y > 0 ? out[prev + i] : 0;
      const c = y > 0 && i >= bpp ? out[prev + i - bpp] : 0;
      let value = raw[src + i];
      if (filter === 1) value += a;
      else if (filter === 2) value += b;
      else if (filter === 3) value += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new PngError(`PNG row ${y} has an invalid filter type ${filter}`);
      out[dst + i] = value & 0xff;
    }
  }
  return out;
}

function unpack(rows: Uint8Array, width: number, height: number, channels: number, bitDepth: number, rowBytes: number): Uint8Array {
  if (bitDepth === 8) return rows;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const base = y * rowBytes;
    if (bitDepth === 16) {
      for (let i = 0; i < width * channels; i++) out[y * width * channels + i] = rows[base + 2 * i];
    } else {
      const mask = (1 << bitDepth) - 1;
      for (let x = 0; x < width; x++) {
        const bit = x * bitDepth;
        out[y * width + x] = (rows[base + (bit >> 3)] >> (8 - bitDepth - (bit & 7))) & mask;
      }
    }
  }
  return out;
}
