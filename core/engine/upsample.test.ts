/** The upsampler's incremental path (only pixels whose cell support changed are redone) against a full pass. */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../random';
import { cellColors, createUpsampler, downsampleImage } from './upsample';

/** A smooth random probability field: a few Gaussian bumps through a sigmoid, like the engine's output. */
function field(width: number, height: number, next: () => number): Float32Array {
  const bumps = Array.from({ length: 4 }, () => ({ x: next() * width, y: next() * height, r: 2 + next() * width * 0.3, s: next() * 2 - 1 }));
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const logit = bumps.reduce((sum, b) => sum + 8 * b.s * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.r * b.r)), -1);
      out[y * width + x] = 1 / (1 + Math.exp(-logit));
    }
  }
  return out;
}

/** `base` with the cells of one random rectangle replaced from `other` (a click changes one region). */
function patch(base: Float32Array, other: Float32Array, width: number, height: number, next: () => number): Float32Array {
  const out = base.slice();
  const x0 = Math.floor(next() * width), y0 = Math.floor(next() * height);
  const x1 = Math.min(width, x0 + 1 + Math.floor(next() * width * 0.4)), y1 = Math.min(height, y0 + 1 + Math.floor(next() * height * 0.4));
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out[y * width + x] = other[y * width + x];
  return out;
}

describe('upsampler', () => {
  const cases: Array<[string, number, number, number, number, number, number]> = [
    // name, grid w, h, image w, h, bilateral radius (0 = bilinear), guide block size (1 = the image itself)
    ['bilateral r2, stride 4', 40, 30, 160, 120, 2, 1],
    ['bilateral r1, stride 8, odd sizes', 17, 11, 133, 91, 1, 1],
    ['bilinear, stride 4', 24, 16, 96, 64, 0, 1],
    ['bilateral r2, one-cell-wide grid', 1, 12, 5, 48, 2, 1],
    ['bilateral r2, stride 20, votes at a guide of 5-pixel blocks', 16, 12, 320, 240, 2, 5],
    ['bilateral r2, stride 19, odd sizes, guide of 3-pixel blocks', 9, 7, 171, 133, 2, 3],
  ];
  for (const [name, width, height, imageWidth, imageHeight, radius, block] of cases) {
    it(`redoes only changed regions and matches a full pass exactly: ${name}`, () => {
      const next = seededRandom(width * 31 + height);
      const image = { width: imageWidth, height: imageHeight, data: Uint8Array.from({ length: imageWidth * imageHeight * 3 }, () => Math.floor(next() * 256)) };
      const guide = radius ? { image: downsampleImage(image, block), colors: cellColors(image, width, height), colorSigma: 20, spatialSigma: 1, radius } : null;
      const incremental = createUpsampler(width, height, imageWidth, imageHeight, guide);
      let probability = field(width, height, next);
      for (let step = 0; step < 25; step++) {
        // Local rewrites (a click), no change at all, and small changes everywhere (the colour model moving).
        probability = step % 5 === 4 ? probability.slice()
          : step % 3 === 2 ? probability.map((p) => Math.min(1, Math.max(0, p + (next() - 0.5) * 0.04)))
          : patch(probability, field(width, height, next), width, height, next);
        const box: [number, number, number, number] | undefined = step % 7 === 6 ? [3, 2, imageWidth - 5, imageHeight - 9] : undefined;
        const full = createUpsampler(width, height, imageWidth, imageHeight, guide).mask(probability, box);
        const got = incremental.mask(probability, box);
        let differing = 0;
        for (let i = 0; i < got.data.length; i++) if (got.data[i] !== full.data[i]) differing++;
        expect(differing).toBe(0);
      }
    });
  }

  /** A 40 x 30 grid over a random 160 x 120 image: an upsampler to prepare and a plain one to compare with. */
  function preparedPair(seed: number) {
    const width = 40, height = 30, imageWidth = 160, imageHeight = 120;
    const next = seededRandom(seed);
    const image = { width: imageWidth, height: imageHeight, data: Uint8Array.from({ length: imageWidth * imageHeight * 3 }, () => Math.floor(next() * 256)) };
    const guide = { image, colors: cellColors(image, width, height), colorSigma: 20, spatialSigma: 1, radius: 2 };
    const prepared = createUpsampler(width, height, imageWidth, imageHeight, guide);
    const plain = createUpsampler(width, height, imageWidth, imageHeight, guide);
    return { width, height, imageWidth, imageHeight, next, guide, prepared, plain };
  }

  it('prepares the boundary a preview shows in slices, and a prepared upsampler gives the same masks', () => {
    const { width, height, imageWidth, imageHeight, next, prepared, plain } = preparedPair(7);
    for (let step = 0; step < 6; step++) {
      const probability = field(width, height, next);
      // One quad is 4 x 4 pixels here: a budget of 16 pixels readies one quad per call.
      let slices = 1;
      while (!prepared.prepare(probability, 16)) slices++;
      if (step === 0) expect(slices).toBeGreaterThan(1); // later fields share quads readied before
      expect(prepared.prepare(probability, 16)).toBe(true); // nothing left once done
      expect(Array.from(prepared.mask(probability).data)).toEqual(Array.from(plain.mask(probability).data));
    }
    expect(createUpsampler(width, height, imageWidth, imageHeight, null).prepare(field(width, height, next), 1)).toBe(true);
  });

  it('prepares the whole image in slices where it fits, and the masks stay the same', () => {
    const { width, height, imageWidth, imageHeight, next, guide, prepared, plain } = preparedPair(8);
    expect(prepared.preparesWhole).toBe(true);
    let slices = 1;
    while (!prepared.prepare(null, 160)) slices++;
    // 19,200 pixels, slices of 160 that end at a quad's end (quads are 4 x 4, up to 6 x 6 at the edges).
    expect(slices).toBeGreaterThanOrEqual(Math.floor(19200 / (160 + 36)));
    expect(slices).toBeLessThanOrEqual(19200 / 160);
    expect(prepared.prepare(null, 160)).toBe(true);
    for (let step = 0; step < 4; step++) {
      const probability = field(width, height, next);
      expect(prepared.prepare(probability, 16)).toBe(true); // every quad is ready
      expect(Array.from(prepared.mask(probability).data)).toEqual(Array.from(plain.mask(probability).data));
    }
    // Nothing to ready: no guide, or one quad too large to keep (a 2 x 2 grid over 100 x 100 pixels).
    expect(createUpsampler(width, height, imageWidth, imageHeight, null).preparesWhole).toBe(false);
    const coarse = { ...guide, image: { width: 100, height: 100, data: new Uint8Array(30000) }, colors: new Float32Array(12) };
    const single = createUpsampler(2, 2, 100, 100, coarse);
    expect(single.preparesWhole).toBe(false);
    expect(single.prepare(null, 1)).toBe(true);
    // Released, its memory goes to the next upsampler (whose weights overwrite it); both still give the same masks.
    prepared.release();
    const next2 = createUpsampler(width, height, imageWidth, imageHeight, { ...guide, colorSigma: 35 });
    const plain2 = createUpsampler(width, height, imageWidth, imageHeight, { ...guide, colorSigma: 35 });
    while (!next2.prepare(null, 4096));
    for (let step = 0; step < 3; step++) {
      const probability = field(width, height, next);
      expect(Array.from(next2.mask(probability).data)).toEqual(Array.from(plain2.mask(probability).data));
      expect(Array.from(prepared.mask(probability).data)).toEqual(Array.from(plain.mask(probability).data));
    }
  });

  it('votes at a smaller guide\'s pixels and reads them back bilinearly: the mask of per-pixel votes, up to a thin seam', () => {
    // A 16 x 12 grid over 320 x 240 pixels (20-pixel cells) and a guide of 5-pixel blocks, as a 6000 x 4500 photo
    // gets. Per-pixel votes: the same guide colours interpolated to every pixel, given to the upsampler as a
    // full-size guide. Both read the same colours; only where the vote is taken differs.
    const width = 16, height = 12, imageWidth = 320, imageHeight = 240, next = seededRandom(5);
    const blocks = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3) };
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 64; x++) {
        // Two colour regions with a wavy border, plus noise: the vote's colour term decides the boundary.
        const inside = x + 6 * Math.sin(y / 4) < 30 + y * 0.2;
        for (let c = 0; c < 3; c++) blocks.data[(y * 64 + x) * 3 + c] = (inside ? [200, 80, 60][c] : [50, 90, 170][c]) + Math.floor(next() * 20);
      }
    }
    const full = { width: imageWidth, height: imageHeight, data: new Uint8Array(imageWidth * imageHeight * 3) };
    const sample = (p: number, pixels: number, cells: number) => Math.min(cells - 1, Math.max(0, ((p + 0.5) * cells) / pixels - 0.5));
    for (let y = 0; y < imageHeight; y++) {
      const fy = sample(y, imageHeight, 48), y0 = Math.min(46, Math.floor(fy)), ay = fy - y0;
      for (let x = 0; x < imageWidth; x++) {
        const fx = sample(x, imageWidth, 64), x0 = Math.min(62, Math.floor(fx)), ax = fx - x0;
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => blocks.data[(yy * 64 + xx) * 3 + c];
          const top = at(y0, x0) * (1 - ax) + at(y0, x0 + 1) * ax, bottom = at(y0 + 1, x0) * (1 - ax) + at(y0 + 1, x0 + 1) * ax;
          full.data[(y * imageWidth + x) * 3 + c] = Math.round(top * (1 - ay) + bottom * ay);
        }
      }
    }
    const colors = cellColors(full, width, height);
    const probability = field(width, height, next);
    const coarse = createUpsampler(width, height, imageWidth, imageHeight, { image: blocks, colors, colorSigma: 30, spatialSigma: 1, radius: 2 }).mask(probability);
    const exact = createUpsampler(width, height, imageWidth, imageHeight, { image: full, colors, colorSigma: 30, spatialSigma: 1, radius: 2 }).mask(probability);
    let both = 0, either = 0;
    for (let i = 0; i < exact.data.length; i++) {
      both += exact.data[i] & coarse.data[i];
      either += exact.data[i] | coarse.data[i];
    }
    expect(either).toBeGreaterThan(5000);
    expect(both / either).toBeGreaterThan(0.99);
  });

  it('averages blocks for the smoothed guide, partial blocks at the right and bottom edges included', () => {
    const image = { width: 5, height: 3, data: Uint8Array.from({ length: 45 }, (_, i) => (i % 3 === 0 ? Math.floor(i / 3) * 10 : 7)) };
    const small = downsampleImage(image, 2);
    expect([small.width, small.height]).toEqual([3, 2]);
    // Red channel = 10 x pixel index: block (0, 0) holds pixels 0, 1, 5, 6; block (2, 0) pixels 4 and 9; block (2, 1) only pixel 14.
    expect(Array.from(small.data.filter((_, i) => i % 3 === 0))).toEqual([30, 50, 65, 105, 125, 140]);
    expect(small.data.filter((_, i) => i % 3 !== 0).every((v) => v === 7)).toBe(true);
    expect(downsampleImage(image, 1)).toBe(image);
  });

  it('hands out a fresh mask each call, so a caller may keep or edit the previous one', () => {
    const upsampler = createUpsampler(4, 4, 16, 16, null);
    const probability = new Float32Array(16).fill(1);
    const first = upsampler.mask(probability);
    first.data.fill(0);
    expect(upsampler.mask(probability).data.every((v) => v === 1)).toBe(true);
  });
});
