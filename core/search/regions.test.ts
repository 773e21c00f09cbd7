import { describe, expect, it } from 'vitest';
import { type RegionSet, computeRegions, regionCount, regionVector } from './regions';
import { TopHits, scanChunk, toInt8 } from './scan';
import { randomUnit, seededRandom, syntheticMap } from './synthetic';
import { denseMatch } from './dense';
import { quantize } from '../embedding';
import { gridMaskToImage, poolMask } from './pooling';

/** Region-grid mask (gridWidth * gridHeight, 0/1) of one region: the leaves it contains. */
function regionGridMask(set: RegionSet, region: number): Uint8Array {
  const inside = new Uint8Array(set.leafCount);
  for (let leaf = 0; leaf < set.leafCount; leaf++) {
    for (let node = leaf; node >= 0; node = set.parents[node]) {
      if (node === region) {
        inside[leaf] = 1;
        break;
      }
    }
  }
  const out = new Uint8Array(set.labels.length);
  for (let cell = 0; cell < out.length; cell++) out[cell] = inside[set.labels[cell]];
  return out;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, k) => sum + value * b[k], 0);

describe('computeRegions', () => {
  const random = seededRandom(7);
  const background: [Float32Array, Float32Array] = [randomUnit(16, random), randomUnit(16, random)];
  const object = { vector: randomUnit(16, random), x: 40, y: 20, width: 30, height: 24 };
  const map = syntheticMap({ width: 128, height: 96, dim: 16, background, objects: [object], random });
  const set = computeRegions(map);

  it('builds a consistent tree over a pooled grid', () => {
    expect([set.gridWidth, set.gridHeight]).toEqual([64, 48]);
    expect(set.leafCount).toBeGreaterThan(10);
    expect(regionCount(set)).toBe(2 * set.leafCount - 2);
    for (let region = 0; region < regionCount(set); region++) {
      const parent = set.parents[region];
      expect(parent === -1 || (parent > region && parent < regionCount(set))).toBe(true);
    }
    // Cells of a merged region are the sum of its children's.
    const children = new Map<number, number>();
    for (let region = 0; region < regionCount(set); region++) {
      const parent = set.parents[region];
      if (parent >= 0) children.set(parent, (children.get(parent) ?? 0) + set.boxes[region * 5 + 4]);
    }
    for (const [parent, cells] of children) expect(set.boxes[parent * 5 + 4]).toBe(cells);
  });

  it('has a region that is the planted object, with its vector', () => {
    let bestIou = 0, bestRegion = -1;
    const truth = new Uint8Array(set.gridWidth * set.gridHeight);
    for (let y = object.y / 2; y < (object.y + object.height) / 2; y++) truth.fill(1, y * 64 + object.x / 2, y * 64 + (object.x + object.width) / 2);
    for (let region = 0; region < regionCount(set); region++) {
      const mask = regionGridMask(set, region);
      let inter = 0, union = 0;
      for (let i = 0; i < mask.length; i++) {
        inter += mask[i] & truth[i];
        union += mask[i] | truth[i];
      }
      if (inter / union > bestIou) [bestIou, bestRegion] = [inter / union, region];
    }
    expect(bestIou).toBeGreaterThan(0.85);
    expect(dot(regionVector(set, bestRegion), object.vector)).toBeGreaterThan(0.95);
  });

  it('finds the object again densely: peak, component and pooled vector', () => {
    const match = denseMatch(quantize(map), [object.vector]);
    const [px, py] = match.peak;
    expect(px / 4).toBeGreaterThanOrEqual(object.x);
    expect(px / 4).toBeLessThan(object.x + object.width);
    expect(py / 4).toBeGreaterThanOrEqual(object.y);
    expect(match.objectScore).toBeGreaterThan(0.95);
    const mask = gridMaskToImage(match.component, match.width, match.height, map.imageWidth, map.imageHeight);
    const pooled = poolMask(map, mask);
    expect(dot(pooled, object.vector)).toBeGreaterThan(0.95);
    const [x, y, w, h] = match.bbox;
    expect(Math.abs(x - object.x * 4)).toBeLessThanOrEqual(8);
    expect(Math.abs(y - object.y * 4)).toBeLessThanOrEqual(8);
    expect(Math.abs(w - object.width * 4)).toBeLessThanOrEqual(16);
    expect(Math.abs(h - object.height * 4)).toBeLessThanOrEqual(16);
  });
});

describe('scanChunk', () => {
  it('scores each image by its best region and keeps the best images', () => {
    const random = seededRandom(3);
    const query = randomUnit(8, random);
    const images = 50, perImage = 5;
    const vectors = new Int8Array(images * perImage * 8);
    const planted = new Map([[7, 0.9], [21, 0.8], [42, 0.7]]);
    for (let image = 0; image < images; image++) {
      for (let region = 0; region < perImage; region++) {
        let vector = randomUnit(8, random);
        // Keep random regions clearly below the planted ones.
        if (dot(vector, query) > 0.5) vector = vector.map((value) => -value);
        if (planted.has(image) && region === 3) {
          const other = randomUnit(8, random), cos = planted.get(image)!;
          const mixed = query.map((value, k) => cos * value + Math.sqrt(1 - cos * cos) * other[k]);
          vector = mixed.map((value) => value / Math.hypot(...mixed));
        }
        vectors.set(toInt8(vector), (image * perImage + region) * 8);
      }
    }
    const chunk = {
      dim: 8, imageIds: Int32Array.from({ length: images }, (_, i) => i + 1),
      offsets: Int32Array.from({ length: images + 1 }, (_, i) => i * perImage), vectors,
    };
    const top = new TopHits(3);
    scanChunk(chunk, [toInt8(query)], top);
    const hits = top.sorted();
    expect(hits.map((hit) => hit.imageId)).toEqual([8, 22, 43]);
    expect(hits.every((hit) => hit.region === 3)).toBe(true);
    expect(hits[0].score).toBeGreaterThan(0.6);

    const excluded = new TopHits(2);
    scanChunk(chunk, [toInt8(query)], excluded, new Set([8]));
    expect(excluded.sorted().map((hit) => hit.imageId)).toEqual([22, 43]);
  });
});
