import { describe, expect, it } from 'vitest';
import { createMask } from '../mask';
import { decodeCounts, encodeCounts, encodeRle } from '../rle';
import { noise, prng } from '../../tests/formats/masks';
import { cropCounts, unionCounts } from './runs';

describe('unionCounts', () => {
  it('is the RLE of the masks OR-ed together, for 1 to 4 random masks', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed);
      const width = 1 + Math.floor(random() * 20), height = 1 + Math.floor(random() * 20);
      const masks = Array.from({ length: 1 + (seed % 4) }, (_, k) => noise(width, height, seed * 10 + k, random() * 0.6));
      const union = createMask(width, height);
      for (const mask of masks) for (let i = 0; i < union.data.length; i++) union.data[i] |= mask.data[i];
      const counts = unionCounts(masks.map((m) => decodeCounts(encodeRle(m).counts)), width * height);
      expect(encodeCounts(counts), `seed ${seed}`).toBe(encodeRle(union).counts);
    }
  });
});

describe('cropCounts', () => {
  it('is the RLE of the crop placed in the image', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = prng(seed);
      const width = 1 + Math.floor(random() * 20), height = 1 + Math.floor(random() * 20);
      const cropWidth = 1 + Math.floor(random() * width), cropHeight = 1 + Math.floor(random() * height);
      const left = Math.floor(random() * (width - cropWidth + 1)), top = Math.floor(random() * (height - cropHeight + 1));
      const crop = noise(cropWidth, cropHeight, seed, 0.5);
      const placed = createMask(width, height);
      for (let r = 0; r < cropHeight; r++) for (let c = 0; c < cropWidth; c++) placed.data[(top + r) * width + left + c] = crop.data[r * cropWidth + c];
      const counts = cropCounts((c, r) => crop.data[r * cropWidth + c] !== 0, left, top, cropWidth, cropHeight, width, height);
      expect(encodeCounts(counts), `seed ${seed}`).toBe(encodeRle(placed).counts);
    }
  });
});
