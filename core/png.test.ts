import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PngError, decodePng, encodeBitPng, encodePalettePng } from './png';

/** A PNG assembled by hand (so the decoder is not only tested against our own encoder). */
function handmade(width: number, height: number, bitDepth: number, colorType: number, rows: number[][], extra: Array<[string, number[]]> = [], interlace = 0): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const chunk = (type: string, body: number[]) => {
    const bytes = [...type].map((c) => c.charCodeAt(0)).concat(body);
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    c = (c ^ 0xffffffff) >>> 0;
    const be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
    return [...be(body.length), ...bytes, ...be(c)];
  };
  const be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  const ihdr = [...be(width), ...be(height), bitDepth, colorType, 0, 0, interlace];
  const idat = [...zlibSync(new Uint8Array(rows.flat()))];
  return new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, ...chunk('IHDR', ihdr), ...extra.flatMap(([t, b]) => chunk(t, b)), ...chunk('IDAT', idat), ...chunk('IEND', [])]);
}

describe('PNG codec', () => {
  it('round-trips palette indices and palette', () => {
    const indices = new Uint8Array([0, 1, 2, 255, 3, 0]);
    const palette = new Uint8Array(768).map((_, i) => i % 256);
    const png = decodePng(encodePalettePng(3, 2, indices, palette));
    expect(png).toMatchObject({ width: 3, height: 2, channels: 1, colorType: 3, bitDepth: 8 });
    expect([...png.data]).toEqual([...indices]);
    expect(png.palette!.length).toBe(768);
  });

  it('round-trips a 1-bit mask whose width is not a multiple of 8', () => {
    const bits = new Uint8Array(11 * 3).map((_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    expect([...decodePng(encodeBitPng(11, 3, bits)).data]).toEqual([...bits]);
  });

  it('undoes every filter type on a handmade RGB PNG', () => {
    // 2x5 RGB, one row per filter type (0 none, 1 sub, 2 up, 3 average, 4 Paeth); expected pixels worked by hand.
    const png = handmade(2, 5, 8, 2, [
      [0, 10, 20, 30, 40, 50, 60],
      [1, 5, 5, 5, 1, 1, 1], // sub: 5,5,5 then 6,6,6
      [2, 1, 1, 1, 1, 1, 1], // up: 6,6,6 7,7,7
      [3, 4, 4, 4, 0, 0, 0], // average: 3+4=7,7,7 then (7+7)>>1=7 -> 7,7,7
      [4, 1, 1, 1, 1, 1, 1], // Paeth: a=0,b=7,c=0 -> b: 8,8,8; then a=8,b=7,c=7 -> p=8 -> a: 9,9,9
    ]);
    expect([...decodePng(png).data]).toEqual([10, 20, 30, 40, 50, 60, 5, 5, 5, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 9, 9, 9]);
  });

  it('reads 2-bit palette and 16-bit grey images', () => {
    const palette = handmade(5, 1, 2, 3, [[0, 0b00011011, 0b01000000]], [['PLTE', [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]]]);
    expect([...decodePng(palette).data]).toEqual([0, 1, 2, 3, 1]);
    expect([...decodePng(handmade(2, 1, 16, 0, [[0, 0x12, 0x34, 0xff, 0x00]])).data]).toEqual([0x12, 0xff]);
  });

  it.each([
    ['not a PNG', new Uint8Array([1, 2, 3]), /not a PNG/],
    ['corrupt chunk', (() => { const b = encodeBitPng(4, 4, new Uint8Array(16)); b[20] ^= 1; return b; })(), /CRC mismatch/],
    ['truncated file', encodeBitPng(4, 4, new Uint8Array(16)).slice(0, 40), /truncated/],
    ['more data than the header says', handmade(1, 1, 8, 0, [[0, 1], [0, 2], [0, 3]]), /larger than its header/],
    ['interlaced', handmade(1, 1, 8, 0, [[0, 1]], [], 1), /interlaced/],
    ['too many pixels', handmade(100000, 100000, 8, 0, [[0]]), /pixel limit/],
  ])('rejects %s with a PngError', (_name, bytes, message) => {
    expect(() => decodePng(bytes as Uint8Array)).toThrow(PngError);
    expect(() => decodePng(bytes as Uint8Array)).toThrow(message);
  });
});
