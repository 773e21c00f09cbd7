/**
 * A search hit's mask from the click engine (core/engine), seeded at the hit: positive clicks at the proposed
 * region's most similar cells (the dense match's smoothed heat), optionally inside a box around the proposed
 * region, and negative clicks where the engine's mask runs far outside that region's box. The region itself
 * (its cells upsampled along the image's colour edges) is the fallback when the engine gives nothing.
 *
 * Computed once per hit (service.ts keeps it with the hit's region): the preview, the editor proposal and accept
 * use the same bits. Options were chosen on training data only (tests/bench/retrieval-eval.ts hitmask on
 * ../shared/data/train/VOC_coseg); see docs/comparison.md for the numbers.
 */
import { type StoredEmbedding, dequantize } from '../../core/embedding';
import { type Box, type Click, createSegmenter } from '../../core/engine';
import type { RgbImage } from '../../core/image';
import { type Mask, maskBbox } from '../../core/mask';
import type { DenseMatch } from '../../core/search/dense';
import { gridMaskToImage } from '../../core/search/pooling';

export interface HitMaskOptions {
  /**
   * Positive clicks: the region's highest-heat cells, at least `seedSpacing` heat cells apart (1 = the peak only;
   * 0 = no engine, the region's own mask, as before: for comparisons).
   */
  seeds: number;
  seedSpacing: number;
  /**
   * Where the positive clicks go: 'heat' = the most query-like cells, 'interior' = the cells deepest inside the
   * region (as the click protocol's first click), 'box' = no clicks: the engine's box prior picks its own seed.
   */
  seedRule: 'heat' | 'interior' | 'box';
  /** Box prior around the region's bbox, padded by this share of its size on each side (negative = no box). */
  boxPad: number;
  /** Negative clicks added, one at a time, where the mask leaks outside the region's bbox padded by `leakPad`. */
  negatives: number;
  leakPad: number;
  /** Use the engine only when its mask and the region overlap at least this much (IoU); else the region. */
  minAgreement: number;
}

export const defaultHitMaskOptions: HitMaskOptions = { seeds: 1, seedSpacing: 3, seedRule: 'heat', boxPad: -1, negatives: 0, leakPad: 0.5, minAgreement: 0 };

/** The region's cells upsampled to the image (along colour edges when the image is given): the old hit mask. */
export function regionMask(match: DenseMatch, mapWidth: number, mapHeight: number, imageWidth: number, imageHeight: number, image: RgbImage | null): Mask {
  const grid = new Uint8Array(mapWidth * mapHeight);
  for (let y = 0; y < mapHeight; y++) {
    const row = Math.floor(y / match.step) * match.width;
    for (let x = 0; x < mapWidth; x++) grid[y * mapWidth + x] = match.component[row + Math.floor(x / match.step)];
  }
  const mask = gridMaskToImage(grid, mapWidth, mapHeight, imageWidth, imageHeight, image ?? undefined);
  // A region of a cell or two can lose every pixel to the colour edges: then it is the cells themselves.
  return mask.data.includes(1) || !image ? mask : gridMaskToImage(grid, mapWidth, mapHeight, imageWidth, imageHeight);
}

/** Heat-grid cell centre in image pixels. */
function cellCentre(match: DenseMatch, cell: number, stored: StoredEmbedding): [number, number] {
  const x = cell % match.width, y = Math.floor(cell / match.width);
  const sx = (match.step * stored.imageWidth) / stored.width, sy = (match.step * stored.imageHeight) / stored.height;
  return [Math.min(stored.imageWidth - 1, (x + 0.5) * sx), Math.min(stored.imageHeight - 1, (y + 0.5) * sy)];
}

/**
 * Up to `count` region cells by falling heat (or depth inside the region), each at least `spacing` cells
 * (Chebyshev) from those picked.
 */
function seedCells(match: DenseMatch, count: number, spacing: number, rule: 'heat' | 'interior'): number[] {
  const cells: number[] = [];
  for (let cell = 0; cell < match.component.length; cell++) if (match.component[cell]) cells.push(cell);
  const rank = rule === 'heat' ? match.heat : depth(match.component, match.width, match.height);
  cells.sort((a, b) => rank[b] - rank[a] || match.heat[b] - match.heat[a]);
  const picked: number[] = [];
  for (const cell of cells) {
    if (picked.length >= count) break;
    const x = cell % match.width, y = Math.floor(cell / match.width);
    if (picked.every((other) => Math.max(Math.abs(other % match.width - x), Math.abs(Math.floor(other / match.width) - y)) >= spacing)) picked.push(cell);
  }
  return picked;
}

/** Chebyshev distance of each inside cell to the nearest outside cell (the grid's border counts as outside). */
function depth(inside: Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(inside.length);
  for (let cell = 0; cell < inside.length; cell++) out[cell] = inside[cell] ? width + height : 0;
  const relax = (cell: number, x: number, y: number) => {
    if (!out[cell]) return;
    let best = out[cell];
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx, yy = y + dy;
        const value = xx < 0 || yy < 0 || xx >= width || yy >= height ? 0 : out[yy * width + xx];
        best = Math.min(best, value + 1);
      }
    }
    out[cell] = best;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) relax(y * width + x, x, y);
  for (let y = height - 1; y >= 0; y--) for (let x = width - 1; x >= 0; x--) relax(y * width + x, x, y);
  return out;
}

function padBox(bbox: [number, number, number, number], pad: number, width: number, height: number): Box {
  const [x, y, w, h] = bbox;
  const x0 = Math.max(0, x - pad * w), y0 = Math.max(0, y - pad * h);
  const x1 = Math.min(width, x + w + pad * w), y1 = Math.min(height, y + h + pad * h);
  return [x0, y0, x1 - x0, y1 - y0];
}

function overlapIou(a: Mask, b: Mask): number {
  let both = 0, either = 0;
  for (let i = 0; i < a.data.length; i++) {
    both += a.data[i] & b.data[i];
    either += a.data[i] | b.data[i];
  }
  return either ? both / either : 0;
}

/**
 * The engine's mask for a hit (image pixels, the stored map's image size). `image` gives the engine its colour
 * guide; without it the mask follows the grid only.
 */
export function engineHitMask(stored: StoredEmbedding, match: DenseMatch, image: RgbImage | null, options: Partial<HitMaskOptions> = {}): Mask {
  const settings = { ...defaultHitMaskOptions, ...options };
  const { imageWidth, imageHeight } = stored;
  const region = regionMask(match, stored.width, stored.height, imageWidth, imageHeight, image);
  if (settings.seeds <= 0) return region;
  const box = settings.boxPad >= 0 ? padBox(match.bbox, settings.boxPad, imageWidth, imageHeight) : undefined;
  const seeds = settings.seedRule === 'box' && box ? [] : seedCells(match, settings.seeds, settings.seedSpacing, settings.seedRule === 'interior' ? 'interior' : 'heat');
  const segmenter = createSegmenter(dequantize(stored), image);
  try {
    const clicks: Click[] = seeds.map((cell) => {
      const [x, y] = cellCentre(match, cell, stored);
      return { x, y, positive: true };
    });
    let mask = segmenter.segment(clicks, box).mask;
    const [lx, ly, lw, lh] = padBox(match.bbox, settings.leakPad, imageWidth, imageHeight);
    for (let round = 0; round < settings.negatives; round++) {
      // The leaked pixel farthest from the padded box gets a negative click.
      let best = -1, bestDistance = 0;
      const [mx, my, mw, mh] = maskBbox(mask);
      for (let y = my; y < my + mh; y++) {
        for (let x = mx; x < mx + mw; x++) {
          if (!mask.data[y * imageWidth + x]) continue;
          const distance = Math.max(lx - x, x - (lx + lw), ly - y, y - (ly + lh));
          if (distance > bestDistance) {
            bestDistance = distance;
            best = y * imageWidth + x;
          }
        }
      }
      if (best < 0) break;
      clicks.push({ x: best % imageWidth, y: Math.floor(best / imageWidth), positive: false });
      mask = segmenter.segment(clicks, box).mask;
    }
    if (!mask.data.includes(1) || overlapIou(mask, region) < settings.minAgreement) return region;
    return mask;
  } finally {
    segmenter.release?.();
  }
}
