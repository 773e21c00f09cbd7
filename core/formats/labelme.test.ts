import { describe, expect, it } from 'vitest';
import { createMask } from '../mask';
import { decodeRle, encodeRle } from '../rle';
import { FormatError } from './errors';
import { parseLabelme, writeLabelme } from './labelme';

function ringWithHole(): ReturnType<typeof createMask> {
  const m = createMask(5, 4);
  for (let y = 0; y < 3; y++) for (let x = 1; x < 4; x++) m.data[y * 5 + x] = 1;
  m.data[1 * 5 + 2] = 0;
  return m;
}

describe('labelme', () => {
  it('writes a mask shape as labelme does (inclusive box, crop PNG) and reads it back exactly', () => {
    const { text } = writeLabelme('a.png', 5, 4, [{ rle: encodeRle(ringWithHole()), label: 'cat' }]);
    const json = JSON.parse(text);
    expect(json).toMatchObject({ imagePath: 'a.png', imageData: null, imageWidth: 5, imageHeight: 4 });
    expect(json.shapes[0]).toMatchObject({ label: 'cat', shape_type: 'mask', points: [[1, 0], [3, 2]], group_id: null });
    const parsed = parseLabelme(text, 'a.json');
    expect([...decodeRle(parsed.objects[0].rle).data]).toEqual([...ringWithHole().data]);
  });

  it('groups several-part objects with one group_id and reads them back as one object', () => {
    const m = createMask(4, 1);
    m.data[0] = m.data[3] = 1;
    const { text } = writeLabelme('a.png', 4, 1, [{ rle: encodeRle(m), label: 'dog' }, { rle: encodeRle(m), label: 'dog' }]);
    const json = JSON.parse(text);
    expect(json.shapes.map((s: { group_id: number }) => s.group_id)).toEqual([1, 1, 2, 2]);
    const parsed = parseLabelme(text, 'a.json');
    expect(parsed.objects).toHaveLength(2);
    expect([...decodeRle(parsed.objects[0].rle).data]).toEqual([1, 0, 0, 1]);
  });

  it('reads rectangles and circles, skips lines with a warning', () => {
    const text = JSON.stringify({ imagePath: 'a.png', imageWidth: 4, imageHeight: 4, shapes: [
      { label: 'r', points: [[0, 0], [2, 2]], shape_type: 'rectangle' },
      { label: 'c', points: [[2, 2], [3.5, 2]], shape_type: 'circle' },
      { label: 'l', points: [[0, 0], [3, 3]], shape_type: 'line' },
    ] });
    const parsed = parseLabelme(text, 'a.json');
    expect(parsed.objects.map((o) => o.className)).toEqual(['r', 'c']);
    expect([...decodeRle(parsed.objects[0].rle).data]).toEqual([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]); // corners inclusive, as PIL
    expect(parsed.warnings[0]).toMatch(/skipped/);
  });

  it('merges a group of 5000 shapes once, at the end (merging each into the group as it came was quadratic)', () => {
    const shapes = Array.from({ length: 5000 }, (_, i) => {
      const x = (i % 100) * 10, y = Math.floor(i / 100) * 10;
      return { label: 'tile', group_id: 1, shape_type: 'rectangle', points: [[x, y], [x + 4, y + 4]] };
    });
    const started = performance.now();
    const parsed = parseLabelme(JSON.stringify({ imagePath: 'a.png', imageWidth: 1000, imageHeight: 500, shapes }), 'a.json');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(parsed.objects).toHaveLength(1);
    expect(decodeRle(parsed.objects[0].rle).data.reduce((a, b) => a + b, 0)).toBe(5000 * 25);
  });

  it('compares a mask shape\'s PNG size with its box before inflating it', () => {
    const big = JSON.parse(writeLabelme('a', 3000, 3000, [{ rle: encodeRle((() => { const m = createMask(3000, 3000); m.data.fill(1); return m; })()), label: 'x' }], { shapes: 'mask' }).text).shapes[0].mask;
    const root = { imagePath: 'a', imageWidth: 4, imageHeight: 4, shapes: [{ label: 'x', points: [[0, 0], [1, 1]], shape_type: 'mask', mask: big }] };
    expect(() => parseLabelme(JSON.stringify(root), 'a.json')).toThrow(/shapes\[0\]\.mask is 3000x3000 but its box \[0, 0\]-\[1, 1\] is 2x2/);
  });

  it.each([
    ['missing imagePath', { imageWidth: 4, imageHeight: 4, shapes: [] }, /"imagePath" must be a non-empty string/],
    ['unknown shape type', { imagePath: 'a', imageWidth: 4, imageHeight: 4, shapes: [{ label: 'x', points: [], shape_type: 'blob' }] }, /"blob" is not a shape/],
    ['mask PNG of the wrong size', { imagePath: 'a', imageWidth: 4, imageHeight: 4, shapes: [{ label: 'x', points: [[0, 0], [2, 2]], shape_type: 'mask', mask: JSON.parse(writeLabelme('a', 2, 2, [{ rle: encodeRle((() => { const m = createMask(2, 2); m.data.fill(1); return m; })()), label: 'x' }], { shapes: 'mask' }).text).shapes[0].mask }] }, /is 2x2 but its box/],
    ['mask that is not base64 PNG', { imagePath: 'a', imageWidth: 4, imageHeight: 4, shapes: [{ label: 'x', points: [[0, 0], [1, 1]], shape_type: 'mask', mask: 'aGVsbG8=' }] }, /not a readable PNG/],
    ['polygon with two points', { imagePath: 'a', imageWidth: 4, imageHeight: 4, shapes: [{ label: 'x', points: [[0, 0], [1, 1]] }] }, /at least 3 points/],
  ])('rejects %s', (_name, root, message) => {
    expect(() => parseLabelme(JSON.stringify(root), 'a.json')).toThrow(FormatError);
    expect(() => parseLabelme(JSON.stringify(root), 'a.json')).toThrow(message);
  });
});
