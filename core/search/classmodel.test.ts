import { describe, expect, it } from 'vitest';
import { classScore, fitClassModel } from './classmodel';
import { type RegionChunk, TopHits, scanChunk, toInt8 } from './scan';
import { nearby, randomUnit, seededRandom } from './synthetic';

/**
 * A generated project of 300 images x 12 random regions. The class has two looks (a dog from the side and from
 * the front: vectors near SIDE or near FRONT, which are far apart): images 1-15 hold a side view, 16-30 a front
 * view. Images 31-45 hold a lookalike of the side view that is not of the class (near LOOKALIKE, at cosine 0.9 to
 * SIDE: a side example finds them as readily as the class).
 */
const dim = 16, images = 300, perImage = 12;
const random = seededRandom(11);
const SIDE = randomUnit(dim, random), FRONT = randomUnit(dim, random), LOOKALIKE = nearby(SIDE, 0.9, random);
const kindOf = (image: number) => (image <= 15 ? 'side' : image <= 30 ? 'front' : image <= 45 ? 'lookalike' : 'other');
const vectors: Float32Array[] = [];
for (let image = 1; image <= images; image++) {
  const kind = kindOf(image);
  for (let region = 0; region < perImage; region++) {
    const planted = region === 5 && kind !== 'other';
    vectors.push(planted ? nearby(kind === 'side' ? SIDE : kind === 'front' ? FRONT : LOOKALIKE, kind === 'lookalike' ? 0.97 : 0.9, random) : randomUnit(dim, random));
  }
}
const chunk: RegionChunk = {
  dim, imageIds: Int32Array.from({ length: images }, (_, i) => i + 1),
  offsets: Int32Array.from({ length: images + 1 }, (_, i) => i * perImage),
  vectors: (() => {
    const out = new Int8Array(vectors.length * dim);
    vectors.forEach((vector, i) => out.set(toInt8(vector), i * dim));
    return out;
  })(),
};
/** The planted region's vector on an image (what a labeler's annotation or accepted hit there pools to). */
const planted = (image: number) => vectors[(image - 1) * perImage + 5];

/** Best 30 images not in `exclude`, by the model (stage 1). */
function top30(model: ReturnType<typeof fitClassModel>, exclude: number[]): number[] {
  const top = new TopHits(30);
  scanChunk(chunk, model.queries.slice(0, model.scanQueries).map(toInt8), top, new Set(exclude), { vectors: model.negatives.map(toInt8), weight: model.negativeWeight });
  return top.sorted().map((hit) => hit.imageId);
}
const ofClass = (ids: number[]) => ids.filter((id) => id <= 30).length;

describe('class model', () => {
  it('with one example is the example\'s cosine', () => {
    const model = fitClassModel({ positives: [planted(1)], negatives: [] });
    expect(model.queries).toHaveLength(1);
    for (let k = 0; k < dim; k++) expect(model.queries[0][k]).toBeCloseTo(planted(1)[k], 5);
    expect(classScore(model, planted(1))).toBeCloseTo(1, 5);
  });

  it('finds both looks of a class from the labeler\'s annotations, where one example finds one look', () => {
    const one = top30(fitClassModel({ positives: [planted(1)], negatives: [] }), [1]);
    // One side example: the other side views and the lookalikes, not the front views.
    expect(one.filter((id) => kindOf(id) === 'front').length).toBeLessThanOrEqual(1);
    expect(ofClass(one)).toBeLessThanOrEqual(16);
    const annotated = [1, 2, 16, 17];
    // (Four exemplars in stage 1: one per annotated object; the default's two newest would be both front views here.)
    const learned = top30(fitClassModel({ positives: annotated.map(planted), negatives: [] }, { exemplars: 4, scanExemplars: 4 }), annotated);
    expect(learned.filter((id) => kindOf(id) === 'front').length).toBeGreaterThanOrEqual(12);
    expect(ofClass(learned)).toBeGreaterThanOrEqual(22);
  });

  it('rejected lookalikes push down their kind, not the class', () => {
    const annotated = [1, 2, 16, 17];
    const before = top30(fitClassModel({ positives: annotated.map(planted), negatives: [] }, { exemplars: 4, scanExemplars: 4 }), annotated);
    expect(before.filter((id) => kindOf(id) === 'lookalike').length).toBeGreaterThanOrEqual(5);
    // The labeler rejects two lookalikes: the other lookalikes drop out, the class does not.
    const model = fitClassModel({ positives: annotated.map(planted), negatives: [planted(31), planted(32)] }, { exemplars: 4, scanExemplars: 4 });
    const after = top30(model, [...annotated, 31, 32]);
    expect(after.filter((id) => kindOf(id) === 'lookalike').length).toBeLessThanOrEqual(2);
    expect(ofClass(after)).toBeGreaterThanOrEqual(ofClass(before));
    expect(classScore(model, planted(33))).toBeLessThan(classScore(model, planted(3)));
  });

  it('refuses a class without examples and mixed dimensions, in words', () => {
    expect(() => fitClassModel({ positives: [], negatives: [] })).toThrow(/no examples yet/);
    expect(() => fitClassModel({ positives: [planted(1)], negatives: [new Float32Array(8)] })).toThrow(/8 and 16 dimensions cannot be mixed/);
  });
});
