import { describe, expect, it } from 'vitest';
import { discover } from './discovery';
import { computeRegions, regionGridMask } from './regions';
import { type PlantedObject, nearby, randomUnit, seededRandom, syntheticMap } from './synthetic';

describe('discover', () => {
  it('finds the object planted in most images, one region per image, on the object', () => {
    const random = seededRandom(11);
    const dim = 16;
    const frequent = randomUnit(dim, random);
    const truth: Array<PlantedObject | null> = [];
    const sets = Array.from({ length: 12 }, (_, image) => {
      const background: [Float32Array, Float32Array] = [randomUnit(dim, random), randomUnit(dim, random)];
      // A distractor unique to each image, and the frequent object (slightly varied) in 10 of the 12.
      const objects: PlantedObject[] = [{ vector: randomUnit(dim, random), x: 4 + image, y: 30, width: 12, height: 10 }];
      const planted = image < 10
        ? { vector: nearby(frequent, 0.97, random), x: 20 + 2 * image, y: 6 + image, width: 16, height: 14 }
        : null;
      if (planted) objects.push(planted);
      truth.push(planted);
      return computeRegions(syntheticMap({ width: 64, height: 48, dim, background, objects, random }));
    });
    const imageIds = sets.map((_, i) => 100 + i);
    const [best] = discover(sets, imageIds);
    expect(best.coverage).toBeGreaterThanOrEqual(9);
    let onObject = 0;
    for (const pick of best.picks) {
      const planted = truth[pick.imageId - 100];
      if (!planted || !pick.covered) continue;
      const mask = regionGridMask(sets[pick.imageId - 100], pick.region);
      let inside = 0, total = 0;
      mask.forEach((value, cell) => {
        if (!value) return;
        total++;
        const x = cell % 64, y = Math.floor(cell / 64);
        if (x >= planted.x && x < planted.x + planted.width && y >= planted.y && y < planted.y + planted.height) inside++;
      });
      if (inside / total > 0.8 && inside > 0.6 * planted.width * planted.height) onObject++;
    }
    expect(onObject).toBeGreaterThanOrEqual(9);
    // Images without the object are not counted as covered.
    expect(best.picks.filter((pick) => pick.imageId >= 110 && pick.covered)).toHaveLength(0);
  });
});
