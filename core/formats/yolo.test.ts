import { describe, expect, it } from 'vitest';
import { createMask } from '../mask';
import { decodeRle, encodeRle } from '../rle';
import { parseYoloDataYaml, parseYoloLabels, writeYoloDataYaml, writeYoloLabels } from './yolo';

describe('YOLO', () => {
  it('writes one normalised line per outer ring (pixel centres at integers, clamped at 0) and fills holes', () => {
    const m = createMask(4, 4);
    m.data.fill(1);
    m.data[5] = 0;
    m.data[15] = 0;
    const two = createMask(4, 2);
    two.data[0] = two.data[7] = 1;
    const { text, holesFilled, split } = writeYoloLabels(4, 4, [{ rle: encodeRle(m), classIndex: 1 }], 0);
    expect(text).toBe('1 0 0 0.875 0 0.875 0.625 0.625 0.625 0.625 0.875 0 0.875\n');
    expect(holesFilled).toBe(1);
    expect(split).toBe(0);
    expect(writeYoloLabels(4, 2, [{ rle: encodeRle(two), classIndex: 0 }], 0).text).toBe('0 0 0 0.125 0 0.125 0.25 0 0.25\n0 0.625 0.25 0.875 0.25 0.875 0.75 0.625 0.75\n');
  });

  it('reads its own data.yaml and the usual variants', () => {
    expect(parseYoloDataYaml(writeYoloDataYaml(['a b', 'c:"d"'], 'images/train'), 'data.yaml')).toEqual({ names: ['a b', 'c:"d"'], path: '.', train: ['images/train'], val: ['images/train'] });
    expect(parseYoloDataYaml("train: ../train/images # comment\nnames: ['cat', \"dog\", bird]\n", 'd.yaml').names).toEqual(['cat', 'dog', 'bird']);
    expect(parseYoloDataYaml('names:\n  - cat\n  - dog\ntrain:\n  - a\n  - b\n', 'd.yaml')).toMatchObject({ names: ['cat', 'dog'], train: ['a', 'b'] });
    expect(() => parseYoloDataYaml('names:\n  0: a\n  2: b\n', 'd.yaml')).toThrow(/skips an index/);
    expect(() => parseYoloDataYaml('train: x\n', 'd.yaml')).toThrow(/no "names"/);
    expect(() => parseYoloDataYaml('names: [a, a]\n', 'd.yaml')).toThrow(/twice/);
  });

  it('reads polygons and boxes, and names the line of a bad one', () => {
    const { annotations, warnings } = parseYoloLabels('0 0 0 0.5 0 0.5 1 0 1\n\n1 0.75 0.5 0.5 1\n', 'a.txt', 'a.png', 4, 2, ['x', 'y']);
    expect([...decodeRle(annotations[0].rle).data]).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect([...decodeRle(annotations[1].rle).data]).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(annotations.map((a) => a.className)).toEqual(['x', 'y']);
    expect(warnings[0]).toMatch(/box/);
    expect(() => parseYoloLabels('0 0 0 1 0 1\n5 0 0 1 0 1 1\n', 'a.txt', 'a.png', 4, 2, ['x'])).toThrow(/a.txt: line 1: expected/);
    expect(() => parseYoloLabels('5 0 0 1 0 1 1', 'a.txt', 'a.png', 4, 2, ['x'])).toThrow(/line 1: class "5"/);
    expect(() => parseYoloLabels('0 0 0 2 0 1 1', 'a.txt', 'a.png', 4, 2, ['x'])).toThrow(/outside 0..1/);
  });
});
