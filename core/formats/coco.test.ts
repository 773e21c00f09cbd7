import { describe, expect, it } from 'vitest';
import { createMask } from '../mask';
import { encodeRle } from '../rle';
import { parseCoco, writeCoco } from './coco';
import { FormatError } from './errors';
import type { Dataset } from './types';

/**
 * Fixed vectors worked out by hand from the pycocotools algorithm (column-major runs starting with zeros; 5-bit
 * groups + 48; from the fourth count on, the difference to the count two places back):
 *  - 3x2 mask rows "011" / "010": columns give 0 0 | 1 1 | 1 0 -> counts [2, 3, 1] -> "231".
 *  - 6x8 mask, column 0 rows 0-4 and column 5 rows 5-7 set: counts [0, 5, 40, 3];
 *    0 -> "0"; 5 -> "5"; 40 = 8 + 1*32 -> chars 8|0x20 = 40 ("X") then 1 ("1");
 *    3 - 5 = -2 -> low 5 bits 30 with the sign bit set and nothing left -> 30 ("N"). String "05X1N".
 */
function smallMask(): ReturnType<typeof createMask> {
  const m = createMask(3, 2);
  m.data.set([0, 1, 1, 0, 1, 0]);
  return m;
}

function twoColumns(): ReturnType<typeof createMask> {
  const m = createMask(6, 8);
  for (let y = 0; y < 5; y++) m.data[y * 6] = 1;
  for (let y = 5; y < 8; y++) m.data[y * 6 + 5] = 1;
  return m;
}

describe('COCO fixed vectors', () => {
  it('encodes the hand-worked masks to the hand-worked strings', () => {
    expect(encodeRle(smallMask())).toEqual({ size: [2, 3], counts: '231' });
    expect(encodeRle(twoColumns())).toEqual({ size: [8, 6], counts: '05X1N' });
  });

  it('writes ids, categories 1..N by class id, RLE, bbox and area', () => {
    const dataset: Dataset = {
      images: [{ id: 42, name: 'b.png', width: 6, height: 8 }, { id: 7, name: 'a.png', width: 3, height: 2 }],
      classes: [{ id: 9, name: 'zebra', color: '#000000' }, { id: 3, name: 'ant', color: '#ffffff' }],
      annotations: [
        { id: 100, imageId: 42, classId: 9, rle: encodeRle(twoColumns()), order: 0, score: null },
        { id: 5, imageId: 7, classId: 3, rle: encodeRle(smallMask()), order: 0, score: 0.5 },
        { id: 6, imageId: 7, classId: null, rle: encodeRle(smallMask()), order: 1, score: null },
      ],
    };
    const { text, warnings } = writeCoco(dataset);
    const json = JSON.parse(text);
    expect(json.categories).toEqual([{ id: 1, name: 'ant', supercategory: '' }, { id: 2, name: 'zebra', supercategory: '' }]);
    expect(json.images).toEqual([{ id: 7, file_name: 'a.png', width: 3, height: 2 }, { id: 42, file_name: 'b.png', width: 6, height: 8 }]);
    expect(json.annotations).toEqual([
      { id: 5, image_id: 7, category_id: 1, segmentation: { size: [2, 3], counts: '231' }, area: 3, bbox: [1, 0, 2, 2], iscrowd: 0, score: 0.5 },
      { id: 100, image_id: 42, category_id: 2, segmentation: { size: [8, 6], counts: '05X1N' }, area: 8, bbox: [0, 0, 6, 8], iscrowd: 0 },
    ]);
    expect(warnings).toEqual(['1 object(s) without a class were not exported (COCO needs a category)']);
  });

  it('writes polygons with pixel centres at integers (edges at .5) and keeps objects with holes as RLE', () => {
    const ring = createMask(3, 3);
    ring.data.fill(1);
    ring.data[4] = 0;
    const dataset: Dataset = {
      images: [{ id: 1, name: 'a.png', width: 3, height: 3 }],
      classes: [{ id: 1, name: 'x', color: '#000000' }],
      annotations: [
        { id: 1, imageId: 1, classId: 1, rle: encodeRle(centrePixel()), order: 0, score: null },
        { id: 2, imageId: 1, classId: 1, rle: encodeRle(ring), order: 1, score: null },
      ],
    };
    const json = JSON.parse(writeCoco(dataset, { segmentation: 'polygon' }).text);
    expect(json.annotations[0].segmentation).toEqual([[0.5, 0.5, 1.5, 0.5, 1.5, 1.5, 0.5, 1.5]]);
    expect(json.annotations[1].segmentation).toEqual({ size: [3, 3], counts: encodeRle(ring).counts });
    const filled = JSON.parse(writeCoco(dataset, { segmentation: 'polygon', holes: 'fill' }).text);
    expect(filled.annotations[1].segmentation).toEqual([[0, 0, 2.5, 0, 2.5, 2.5, 0, 2.5]]); // clamped at the image edge
  });
});

const base = () => ({
  images: [{ id: 1, file_name: 'sub/a.png', width: 6, height: 8 }],
  categories: [{ id: 4, name: 'cat' }],
  annotations: [] as unknown[],
});

describe('parseCoco', () => {
  it('reads compressed RLE, uncompressed RLE and polygons to the same compressed RLE', () => {
    const root = base();
    root.annotations = [
      { id: 1, image_id: 1, category_id: 4, segmentation: { size: [8, 6], counts: '05X1N' } },
      { id: 2, image_id: 1, category_id: 4, segmentation: { size: [8, 6], counts: [0, 5, 40, 3] }, iscrowd: 1 },
      { id: 3, image_id: 1, category_id: 4, segmentation: [[0, 0, 1, 0, 1, 5, 0, 5], [5, 5, 6, 5, 6, 8, 5, 8]] },
      { id: 4, image_id: 1, category_id: 4, bbox: [0, 0, 1, 5] },
    ];
    const parsed = parseCoco(JSON.stringify(root), 'x.json');
    expect(parsed.images).toEqual([{ name: 'sub/a.png', width: 6, height: 8, source: 'x.json' }]);
    expect(parsed.annotations.map((a) => a.rle.counts)).toEqual(['05X1N', '05X1N', '05X1N', encodeRle((() => { const m = createMask(6, 8); for (let y = 0; y < 5; y++) m.data[y * 6] = 1; return m; })()).counts]);
    expect(parsed.annotations.map((a) => a.order)).toEqual([0, 1, 2, 3]);
    expect(parsed.warnings.join('\n')).toMatch(/only a bbox.*\n.*crowd/);
  });

  const cases: Array<[string, (root: ReturnType<typeof base>) => unknown, RegExp]> = [
    ['malformed JSON', () => '{"images": [', /not valid JSON/],
    ['missing images', (r) => ({ ...r, images: undefined }), /"images" must be an array, got nothing/],
    ['image without file_name', (r) => ({ ...r, images: [{ id: 1, width: 6, height: 8 }] }), /images\[0\]\.file_name must be a non-empty string/],
    ['escaping file name', (r) => ({ ...r, images: [{ id: 1, file_name: '../../etc/passwd', width: 6, height: 8 }] }), /points outside the dataset folder/],
    ['absolute file name', (r) => ({ ...r, images: [{ id: 1, file_name: '/etc/passwd', width: 6, height: 8 }] }), /points outside/],
    ['duplicate image id', (r) => ({ ...r, images: [...r.images, { id: 1, file_name: 'b.png', width: 1, height: 1 }] }), /used by more than one image/],
    ['unknown image', (r) => ({ ...r, annotations: [{ id: 9, image_id: 2, category_id: 4, segmentation: [[0, 0, 1, 0, 1, 1]] }] }), /annotations\[0\] \(id 9\)\.image_id 2 is not in "images"/],
    ['unknown category', (r) => ({ ...r, annotations: [{ id: 9, image_id: 1, category_id: 5, segmentation: [[0, 0, 1, 0, 1, 1]] }] }), /category_id 5 is not in "categories"/],
    ['mask of the wrong size', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4, segmentation: { size: [6, 8], counts: '05X1N' } }] }), /mask is 8x6 but its image is 6x8/],
    ['counts not covering the image', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4, segmentation: { size: [8, 6], counts: [1, 2] } }] }), /cover 3 pixels, but the image has 48/],
    ['bad RLE string', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4, segmentation: { size: [8, 6], counts: '05X1N~~~' } }] }), /not a valid compressed RLE string/],
    ['short polygon', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4, segmentation: [[0, 0, 1, 1]] }] }), /at least 3 x,y pairs/],
    ['string coordinate', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4, segmentation: [[0, 0, '1', 0, 1, 1]] }] }), /segmentation\[0\]\[2\] must be a number/],
    ['nothing to draw', (r) => ({ ...r, annotations: [{ image_id: 1, category_id: 4 }] }), /neither "segmentation" nor "bbox"/],
    ['huge image', (r) => ({ ...r, images: [{ id: 1, file_name: 'a.png', width: 100000, height: 100000 }] }), /pixel limit/],
  ];
  it.each(cases)('rejects %s with a FormatError naming the file', (_name, mutate, message) => {
    const value = mutate(base());
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    let caught: unknown;
    try {
      parseCoco(text, 'instances.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).file).toBe('instances.json');
    expect((caught as FormatError).message).toMatch(message);
  });
});

function centrePixel(): ReturnType<typeof createMask> {
  const m = createMask(3, 3);
  m.data[4] = 1;
  return m;
}

describe('parseCoco with absurd polygons', () => {
  it('refuses coordinates far outside any image instead of filling garbage', () => {
    const root = base();
    root.annotations = [{ image_id: 1, category_id: 4, segmentation: [[0, 0, 1e300, 0, 1, -1e300]] }];
    expect(() => parseCoco(JSON.stringify(root), 'big.json')).toThrow(/big\.json: polygon coordinate far outside the 6x8 image/);
  });
});
