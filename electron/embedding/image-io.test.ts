/** Decoder failures as reasons a labeler can act on, including libvips's bare "Unknown error" under concurrency. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, failureReason } from './image-io';

const image = { create: { width: 40, height: 30, channels: 3 as const, background: '#c04020' } };

describe('image decoding failures', () => {
  it('names truncated, empty and foreign files', async () => {
    const jpeg = await sharp(image).jpeg().toBuffer(), png = await sharp(image).png().toBuffer();
    for (const cut of [jpeg.subarray(0, jpeg.length >> 1), png.subarray(0, png.length - 20)]) {
      await expect(decodeImage(cut)).rejects.toThrow(/truncated/);
    }
    await expect(decodeImage(new Uint8Array(0))).rejects.toThrow(/empty/);
    await expect(decodeImage(Buffer.from('plain text, not pixels'))).rejects.toThrow(/not an image/);
    expect((await decodeImage(jpeg)).width).toBe(40);
  });

  it('tells a truncated file from a damaged one when the decoder only says "Unknown error"', async () => {
    const jpeg = await sharp(image).jpeg().toBuffer();
    const unknown = new Error('Unknown error');
    expect(failureReason(unknown, jpeg.subarray(0, jpeg.length - 40))).toMatch(/truncated/);
    expect(failureReason(unknown, jpeg)).toMatch(/damaged/);
    expect(failureReason(unknown)).toMatch(/damaged/);
  });
});
