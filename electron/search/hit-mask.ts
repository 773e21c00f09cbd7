/**
 * A search hit's mask from the click engine (core/engine), seeded at the hit: positive clicks at the proposed
 * region's most query-like cells (the dense match's smoothed heat; up to 3, spread apart), on the image's pixels
 * when given (the engine's colour guide). The region itself (its cells upsampled along the image's colour edges)
 * is the fallback when the engine gives nothing. Tried on VOC_coseg and dropped (no gain, or a loss): a box prior
 * around the region (alone, or with the clicks), clicks at the region's most interior cells, negative clicks
 * where the mask leaks out of the region's padded box, falling back to the region when the two disagree.
 *
 * Computed once per hit (service.ts keeps it with the hit's region): the preview, the editor proposal and accept
 * use the same bits. Options were chosen on training data only (tests/bench/retrieval-eval.ts hitmask on
 * ../shared/data/train/VOC_coseg); see docs/comparison.md for the numbers.
 */
import { type StoredEmbedding, dequantize } from '../../core/embedding';
import { type Box, type Click, createSegmenter } from '../../core/engine';
import type { RgbImage } from '../../core/image';
import type { Mask } from '../../core/mask';
import type { DenseMatch } from '../../core/search/dense';
import { gridMaskToImage } from '../../core/search/pooling';

export interface HitMaskOptions {
  /**
   * Positive clicks: the region's most query-like cells (highest smoothed heat), at least `seedSpacing` heat cells
   * apart (1 = the peak only; 0 = no engine, the region's own mask, as before: for comparisons).
   */
  seeds: number;
  seedSpacing: number;
  /** Box prior around the region's bbox, padded by this share of its size on each side (negative = no box). */
  boxPad: number;
}

export const defaultHitMaskOptions: HitMaskOptions = { seeds: 3, seedSpacing: 3, boxPad: -1 };

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

/** Up to `count` region cells by falling heat, each at least `spacing` cells (Chebyshev) from those picked. */
function seedCells(match: DenseMatch, count: number, spacing: number): number[] {
  const cells: number[] = [];
  for (let cell = 0; cell < match.component.length; cell++) if (match.component[cell]) cells.push(cell);
  cells.sort((a, b) => match.heat[b] - match.heat[a]);
  const picked: number[] = [];
  for (const cell of cells) {
    if (picked.length >= count) break;
    const x = cell % match.width, y = Math.floor(cell / match.width);
    if (picked.every((other) => Math.max(Math.abs(other % match.width - x), Math.abs(Math.floor(other / match.width) - y)) >= spacing)) picked.push(cell);
  }
  return picked;
}

function padBox(bbox: [number, number, number, number], pad: number, width: number, height: number): Box {
  const [x, y, w, h] = bbox;
  const x0 = Math.max(0, x - pad * w), y0 = Math.max(0, y - pad * h);
  const x1 = Math.min(width, x + w + pad * w), y1 = Math.min(height, y + h + pad * h);
  return [x0, y0, x1 - x0, y1 - y0];
}

/**
 * The engine's mask for a hit (image pixels, the stored map's image size). `image` gives the engine its colour
 * guide; without it the mask follows the grid only.
 */
export function engineHitMask(stored: StoredEmbedding, match: DenseMatch, image: RgbImage | null, options: Partial<HitMaskOptions> = {}): Mask {
  const settings = { ...defaultHitMaskOptions, ...options };
  const { imageWidth, imageHeight } = stored;
  const region = () => regionMask(match, stored.width, stored.height, imageWidth, imageHeight, image);
  const seeds = seedCells(match, settings.seeds, settings.seedSpacing);
  if (seeds.length === 0) return region();
  const box = settings.boxPad >= 0 ? padBox(match.bbox, settings.boxPad, imageWidth, imageHeight) : undefined;
  // The engine's own formula: the seed rule was chosen with it (VOC_coseg), and the learned click step, trained on a
  // labeler's click rounds, did worse from search's seeds (IoU 0.23 on a planted scene of hit-mask.test.ts where the
  // formula gets over 0.85).
  const segmenter = createSegmenter(dequantize(stored), image, {}, { weights: null });
  try {
    const clicks: Click[] = seeds.map((cell) => {
      const [x, y] = cellCentre(match, cell, stored);
      return { x, y, positive: true };
    });
    const { mask } = segmenter.segment(clicks, box);
    return mask.data.includes(1) ? mask : region();
  } finally {
    segmenter.release?.();
  }
}
