/**
 * Non-learned baseline engine: every pixel takes the label of its nearest click in colour + position space
 * (RGB / 255 and x, y / max(width, height), position scaled by `positionWeight`). Reads the image only, no map;
 * the benchmark's reference row for "what do embeddings add".
 */
import type { RgbImage } from '../image';
import { createMask } from '../mask';
import type { Box, Click, SegmentOutput, Segmenter } from './types';

export function createColorPositionSegmenter(image: RgbImage, positionWeight = 1): Segmenter {
  const { width, height, data } = image;
  const scale = positionWeight / Math.max(width, height);
  return {
    segment(clicks: Click[], box?: Box): SegmentOutput {
      const mask = createMask(width, height);
      if (!clicks.some((click) => click.positive)) return { mask, score: 0 };
      const seeds = clicks.map((click) => {
        const x = Math.min(width - 1, Math.max(0, Math.round(click.x))), y = Math.min(height - 1, Math.max(0, Math.round(click.y)));
        const p = (y * width + x) * 3;
        return { r: data[p] / 255, g: data[p + 1] / 255, b: data[p + 2] / 255, x: x * scale, y: y * scale, positive: click.positive };
      });
      const [bx, by, bw, bh] = box ?? [0, 0, width, height];
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (x < bx || x >= bx + bw || y < by || y >= by + bh) continue;
          const p = (y * width + x) * 3, r = data[p] / 255, g = data[p + 1] / 255, b = data[p + 2] / 255;
          let best = Infinity, label = 0;
          for (const seed of seeds) {
            const dr = r - seed.r, dg = g - seed.g, db = b - seed.b, dx = x * scale - seed.x, dy = y * scale - seed.y;
            const distance = dr * dr + dg * dg + db * db + dx * dx + dy * dy;
            if (distance < best) {
              best = distance;
              label = seed.positive ? 1 : 0;
            }
          }
          mask.data[y * width + x] = label;
        }
      }
      return { mask, score: 1 };
    },
  };
}
