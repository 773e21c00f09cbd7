/**
 * Interop check: our COCO polygons rasterised the way pycocotools does it (core/formats/coco-polygon is a port of
 * cocoapi `maskApi.c` rleFrPoly, checked line by line against the C source; pycocotools itself is not installed
 * here). Exact outlines must come back as the same pixels; simplified ones close.
 */
import { describe, expect, it } from 'vitest';
import { ringFromFile, ringToFile } from '../../core/formats/coords';
import { type Mask, maskIou } from '../../core/mask';
import { maskToPolygons, polygonsToMask, ringsToMask } from '../../core/polygon';
import { cocoPolygonsToRle } from '../../core/formats/coco-polygon';
import { decodeRle } from '../../core/rle';
import { borderFrame, donutWithIsland, masksEqual, noise, randomBlobs, thinParts } from './masks';

const pycocotoolsUnion = (rings: number[][], width: number, height: number) => decodeRle(cocoPolygonsToRle(rings, width, height));

const holesFilled = (mask: Mask) => polygonsToMask(maskToPolygons(mask).map((p) => ({ outer: p.outer, holes: [] })), mask.width, mask.height);

describe('our COCO polygons in pycocotools', () => {
  it.each([
    ['donut', donutWithIsland(64, 48)],
    ['thin parts on the border', thinParts(50, 40)],
    ['frame on all borders', borderFrame(33, 21)],
    ['blobs', randomBlobs(80, 60, 7)],
    ['noise', noise(23, 19, 5, 0.4)],
  ])('exact outlines of %s come back as the same pixels (holes filled: COCO polygons cannot cut holes)', (_name, mask) => {
    const rings = maskToPolygons(mask).map((p) => ringToFile(p.outer));
    expect(masksEqual(pycocotoolsUnion(rings, mask.width, mask.height), holesFilled(mask))).toBe(true);
  });

  it('simplified outlines (0.5 px) stay exact for us and within IoU 0.98 in pycocotools (its 1/5 px grid on diagonals)', () => {
    for (let seed = 0; seed < 10; seed++) {
      const mask = randomBlobs(120, 90, seed);
      const rings = maskToPolygons(mask, { tolerance: 0.5 }).map((p) => ringToFile(p.outer));
      expect(masksEqual(ringsToMask(rings.map(ringFromFile), 120, 90), holesFilled(mask)), `seed ${seed}`).toBe(true);
      expect(maskIou(pycocotoolsUnion(rings, 120, 90), holesFilled(mask)), `seed ${seed}`).toBeGreaterThanOrEqual(0.98);
    }
  });
});
