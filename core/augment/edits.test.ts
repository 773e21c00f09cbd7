import { describe, expect, it } from 'vitest';
import type { EmbeddingMap } from '../embedding';
import { createMask } from '../mask';
import { seededRandom } from '../random';
import { composeEdit, innerFeather } from './compose';
import { editFidelity, editMap, mapObject, objectStats } from './edits';

/** 8x6 grid of 4-d unit vectors over a 32x24 image: left half one direction, right half another, plus noise. */
function makeMap(): EmbeddingMap {
  const random = seededRandom(5);
  const width = 8, height = 6, dim = 4;
  const data = new Float32Array(width * height * dim);
  for (let cell = 0; cell < width * height; cell++) {
    const left = cell % width < 4;
    const base = left ? [1, 0.2, 0, 0] : [0, 0.2, 1, 0];
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (data[cell * dim + k] = base[k] + 0.1 * (random() - 0.5)) ** 2;
    for (let k = 0; k < dim; k++) data[cell * dim + k] /= Math.sqrt(norm);
  }
  return { width, height, dim, imageWidth: 32, imageHeight: 24, data };
}

function boxMask(x0: number, y0: number, x1: number, y1: number) {
  const mask = createMask(32, 24);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask.data[y * 32 + x] = 1;
  return mask;
}

describe('embedding map edits', () => {
  const map = makeMap();
  const object = mapObject(map, boxMask(0, 2, 16, 24)); // the left half, less the top edge
  const donor = mapObject(map, boxMask(18, 2, 30, 20)); // inside the right half

  it('feathers weights inside the mask and leaves every other cell exactly as it was', () => {
    expect(object.weights.every((w) => w >= 0 && w <= 1)).toBe(true);
    for (const edit of ['jitter', 'swap', 'interpolate'] as const) {
      const { map: edited } = editMap(edit, object, 1, seededRandom(1), donor);
      for (let cell = 0; cell < map.width * map.height; cell++) {
        const same = [0, 1, 2, 3].every((k) => edited.data[cell * 4 + k] === map.data[cell * 4 + k]);
        if (object.weights[cell] === 0) expect(same).toBe(true);
        const norm = Math.hypot(...edited.data.subarray(cell * 4, cell * 4 + 4));
        expect(norm).toBeCloseTo(1, 5);
      }
    }
  });

  it('strength 0 changes nothing; swap moves the object toward the donor in proportion to strength', () => {
    expect(editMap('swap', object, 0, seededRandom(1), donor).map.data).toEqual(map.data);
    const target = objectStats(donor).mean;
    const cosineToDonor = (strength: number) => {
      // Deep inside (weight 1) the full move applies; the feathered edge moves less.
      const interior = object.weights.map((w) => (w >= 0.999 ? 1 : 0));
      const moved = objectStats({ ...object, weights: interior, map: editMap('swap', object, strength, seededRandom(1), donor).map }).mean;
      let dot = 0, a = 0, b = 0;
      for (let k = 0; k < 4; k++) {
        dot += moved[k] * target[k]; a += moved[k] ** 2; b += target[k] ** 2;
      }
      return dot / Math.sqrt(a * b);
    };
    expect(cosineToDonor(0.5)).toBeGreaterThan(cosineToDonor(0));
    expect(cosineToDonor(1)).toBeGreaterThan(cosineToDonor(0.5));
    expect(cosineToDonor(1)).toBeGreaterThan(0.95);
  });

  it('refuses what it cannot do, in words', () => {
    expect(() => editMap('swap', object, 1, seededRandom(1))).toThrow(/second object/);
    expect(() => editMap('jitter', object, 3, seededRandom(1))).toThrow(/strength/);
    expect(() => mapObject(map, createMask(10, 10))).toThrow(/mask is 10x10/);
  });

  it('measures the share of a requested shift a result kept, and its leak outside', () => {
    const { map: edited, requested } = editMap('swap', object, 1, seededRandom(1), donor);
    const full = editFidelity(map, edited, requested, object.weights);
    expect(full.achieved).toBeGreaterThan(0.5);
    expect(full.leak).toBe(0);
    expect(editFidelity(map, map, requested, object.weights).achieved).toBe(0);
  });

  it('composes a decoded change only inside the mask', () => {
    const mask = boxMask(4, 4, 20, 16);
    const alpha = innerFeather(mask, 2);
    const plain = (value: number) => ({ width: 32, height: 24, data: new Uint8Array(32 * 24 * 3).fill(value) });
    const out = composeEdit(plain(100), plain(50), plain(150), alpha);
    for (let i = 0; i < 32 * 24; i++) {
      if (!mask.data[i]) expect(out.data[i * 3]).toBe(100);
    }
    expect(out.data[(10 * 32 + 12) * 3]).toBe(200); // deep inside: the full +100 change
  });
});
