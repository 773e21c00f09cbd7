import { describe, expect, it } from 'vitest';
import { discover, pickGridMask } from './discovery';
import { computeRegions, type RegionSet } from './regions';
import { type PlantedObject, nearby, randomUnit, seededRandom, syntheticMap } from './synthetic';

/** Share of the mask inside the box, and share of the box the mask covers (64-cell-wide grid). */
function placement(mask: Uint8Array, box: PlantedObject): { precision: number; recall: number } {
  let inside = 0, total = 0;
  mask.forEach((value, cell) => {
    if (!value) return;
    total++;
    const x = cell % 64, y = Math.floor(cell / 64);
    if (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height) inside++;
  });
  return { precision: total ? inside / total : 0, recall: inside / (box.width * box.height) };
}

describe('discover', () => {
  it('finds the object planted in most images, one mask per image, on the object', () => {
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
      const { precision, recall } = placement(pickGridMask(sets[pick.imageId - 100], pick), planted);
      if (precision > 0.8 && recall > 0.6) onObject++;
    }
    expect(onObject).toBeGreaterThanOrEqual(9);
    // Images without the object are not counted as covered.
    expect(best.picks.filter((pick) => pick.imageId >= 110 && pick.covered)).toHaveLength(0);
  });

  it('does not pick a background that is in every image but touches the border', () => {
    const random = seededRandom(5);
    const dim = 16;
    const sky = randomUnit(dim, random), frequent = randomUnit(dim, random);
    const truth: PlantedObject[] = [];
    const sets: RegionSet[] = Array.from({ length: 10 }, (_, image) => {
      // The same sky over the top third of every image (three borders), larger than the object; the object sits
      // below it, away from the border, in all of them.
      const planted = { vector: nearby(frequent, 0.97, random), x: 14 + 2 * image, y: 22, width: 18, height: 14 };
      truth.push(planted);
      const band = { vector: nearby(sky, 0.99, random), x: 0, y: 0, width: 64, height: 16 };
      const background: [Float32Array, Float32Array] = [randomUnit(dim, random), randomUnit(dim, random)];
      return computeRegions(syntheticMap({ width: 64, height: 48, dim, background, objects: [band, planted], random }));
    });
    const [best] = discover(sets, sets.map((_, i) => i));
    const placements = best.picks.map((pick, image) => placement(pickGridMask(sets[image], pick), truth[image]));
    expect(placements.filter(({ precision, recall }) => precision > 0.8 && recall > 0.6).length).toBeGreaterThanOrEqual(9);
  });
});
