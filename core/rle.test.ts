/**
 * COCO RLE against fixed vectors. The expected strings, counts and boxes were computed by hand-checked
 * re-implementation of cocoapi `maskApi.c` (rleEncode, rleToString, rleFrString, rleToBbox), kept here so the
 * vectors can be regenerated without pycocotools:
 *
 *   def encode(rows):                       # rows: '0'/'1' strings, row-major; runs are column-major
 *       h, w = len(rows), len(rows[0]); cnts, p, c = [], 0, 0
 *       for x in range(w):
 *           for y in range(h):
 *               v = int(rows[y][x])
 *               if v != p: cnts.append(c); c = 0; p = v
 *               c += 1
 *       return cnts + [c]
 *   def to_string(cnts):
 *       s = ''
 *       for i, x in enumerate(cnts):
 *           if i > 2: x -= cnts[i - 2]
 *           more = 1
 *           while more:
 *               c = x & 0x1f; x >>= 5; more = (x != -1) if (c & 0x10) else (x != 0)
 *               if more: c |= 0x20
 *               s += chr(c + 48)
 *       return s
 *   def bbox(cnts, h, w):
 *       m = len(cnts) // 2 * 2; xs, ys, xe, ye, cc = w, h, 0, 0, 0
 *       if m == 0: return [0, 0, 0, 0]
 *       for j in range(m):
 *           cc += cnts[j]; t = cc - j % 2; y = t % h; x = (t - y) // h
 *           if j % 2 == 0: xp = x
 *           elif xp < x: ys, ye = 0, h - 1
 *           xs, xe, ys, ye = min(xs, x), max(xe, x), min(ys, y), max(ye, y)
 *       return [xs, ys, xe - xs + 1, ye - ys + 1]
 *
 * 'small' was also worked by hand: columns read 000|110|101|001 -> runs [3,2,1,1,1,1,2,1]; from the fourth count
 * on the string stores differences (1-2 = -1 -> 31 with the sign bit, 'O').
 */
import { describe, expect, it } from 'vitest';
import { type Mask, createMask, maskArea, maskBbox } from './mask';
import { seededRandom } from './random';
import { RleError, countsToMask, decodeCounts, decodeRle, encodeCounts, encodeRle, maskToCounts, rleArea, rleBbox } from './rle';

function maskFromRows(rows: string[]): Mask {
  const height = rows.length, width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((row, y) => [...row].forEach((bit, x) => { data[y * width + x] = bit === '1' ? 1 : 0; }));
  return { width, height, data };
}

/** 40 rows x 50 columns: a 40x34 block with a 6x21 hole, plus two pixels in the last column (long runs, negative deltas). */
function bigRows(): string[] {
  const rows: string[] = [];
  for (let y = 0; y < 40; y++) {
    let row = '';
    for (let x = 0; x < 50; x++) {
      const block = x >= 5 && x <= 44 && y >= 3 && y <= 36 && !(x >= 20 && x <= 25 && y >= 10 && y <= 30);
      row += block || (x === 49 && y < 2) ? '1' : '0';
    }
    rows.push(row);
  }
  return rows;
}

const vectors: Array<{ name: string; rows: string[]; counts?: number[]; string: string; bbox: [number, number, number, number]; area: number }> = [
  { name: 'small', rows: ['0110', '0100', '0011'], counts: [3, 2, 1, 1, 1, 1, 2, 1], string: '321O0010', bbox: [1, 0, 3, 3], area: 5 },
  { name: 'starts with one', rows: ['1000', '1000', '0001'], counts: [0, 2, 9, 1], string: '029O', bbox: [0, 0, 4, 3], area: 3 },
  { name: 'empty', rows: ['000', '000'], counts: [6], string: '6', bbox: [0, 0, 0, 0], area: 0 },
  { name: 'full', rows: ['11', '11', '11'], counts: [0, 6], string: '06', bbox: [0, 0, 2, 3], area: 6 },
  {
    name: 'big', rows: bigRows(),
    string: '[6R160000000000000000000000000000UO?OA1?OA1?OA1?OA1?OA1?OAl0000000000000000000000000000000000000m4POSL',
    bbox: [5, 0, 45, 37], area: 1236,
  },
];

describe('COCO RLE (pycocotools-compatible)', () => {
  for (const vector of vectors) {
    it(`encodes, decodes and measures '${vector.name}'`, () => {
      const mask = maskFromRows(vector.rows);
      if (vector.counts) expect(maskToCounts(mask)).toEqual(vector.counts);
      const rle = encodeRle(mask);
      expect(rle).toEqual({ size: [mask.height, mask.width], counts: vector.string });
      expect(decodeRle(rle)).toEqual(mask);
      expect(rleArea(rle)).toBe(vector.area);
      expect(maskArea(mask)).toBe(vector.area);
      expect(rleBbox(rle)).toEqual(vector.bbox);
      expect(maskBbox(mask)).toEqual(vector.bbox);
    });
  }

  it('encodes the 5-bit groups of large and negative numbers like rleToString', () => {
    // 203 = 6 * 32 + 11 -> '[' (11 | 0x20) then '6'; -40 -> 24 | 0x20 = 'h', then -2 & 0x1f = 30 -> 'N'.
    expect(encodeCounts([203])).toBe('[6');
    expect(encodeCounts([0, 0, 0, -40])).toBe('000hN');
    expect(decodeCounts('000hN')).toEqual([0, 0, 0, -40]);
    expect(decodeCounts('[6')).toEqual([203]);
    expect(decodeCounts(encodeCounts([1_000_000, 5, 2_000_000, 3]))).toEqual([1_000_000, 5, 2_000_000, 3]);
  });

  it('rejects strings and counts that do not describe the mask', () => {
    expect(() => decodeCounts('[')).toThrow(RleError);
    expect(() => decodeCounts('3 ')).toThrow(RleError);
    expect(() => countsToMask([3, 2], 2, 2)).toThrow(/run past the 4 pixels of its size \[2, 2\]: the counts belong to a larger mask/);
    expect(() => countsToMask([1, 2], 2, 2)).toThrow(/cover 3 of the 4 pixels of its size \[2, 2\]: the counts belong to a smaller mask/);
    expect(() => countsToMask([1, -1], 2, 2)).toThrow(RleError);
  });

  it('counts word-aligned masks (four or eight pixels at a time) exactly like the pixel-by-pixel walk', () => {
    const next = seededRandom(5);
    for (const [width, height] of [[4, 1], [8, 3], [12, 7], [64, 48]]) {
      for (let trial = 0; trial < 20; trial++) {
        const aligned = createMask(width, height);
        const blobs = Array.from({ length: 3 }, () => [next() * width, next() * height, next() * width * 0.4]);
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            // Any non-zero byte is "in" (255 as well as 1); one pixel in 50 is flipped to break up the runs.
            const inside = blobs.some(([bx, by, r]) => (x - bx) ** 2 + (y - by) ** 2 < r * r) !== next() < 0.02;
            aligned.data[y * width + x] = inside ? (next() < 0.5 ? 1 : 255) : 0;
          }
        }
        // The same pixels one byte off a word boundary take the pixel-by-pixel path, four bytes off the
        // four-pixel path (widths 8 and 64 take the eight-pixel one when aligned).
        const shifted = (by: number) => {
          const data = new Uint8Array(width * height + by).subarray(by);
          data.set(aligned.data);
          return { width, height, data };
        };
        const counts = maskToCounts(aligned);
        expect(counts).toEqual(maskToCounts(shifted(1)));
        expect(counts).toEqual(maskToCounts(shifted(4)));
        expect(countsToMask(counts, height, width).data).toEqual(aligned.data.map((value) => (value ? 1 : 0)));
      }
    }
  });
});
