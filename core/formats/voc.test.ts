import { describe, expect, it } from 'vitest';
import { createMask } from '../mask';
import { decodePng } from '../png';
import { decodeRle, encodeRle } from '../rle';
import { FormatError } from './errors';
import { parseVocClassNames, parseVocImage, parseVocLabelmap, vocColormap, writeVocLabelmap, writeVocMasks } from './voc';

describe('VOC', () => {
  it('has the standard colormap', () => {
    const map = vocColormap();
    expect([...map.subarray(0, 12)]).toEqual([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]);
    expect([...map.subarray(15 * 3, 16 * 3)]).toEqual([192, 128, 128]); // person
    expect([...map.subarray(255 * 3)]).toEqual([224, 224, 192]); // void
  });

  it('writes palette PNGs where the later object wins, and reads objects and classes back', () => {
    const a = createMask(4, 2), b = createMask(4, 2);
    a.data.set([1, 1, 1, 0, 0, 0, 0, 0]);
    b.data.set([0, 0, 1, 1, 0, 0, 0, 1]);
    const { classPng, objectPng } = writeVocMasks('x', 4, 2, [{ rle: encodeRle(a), classIndex: 2 }, { rle: encodeRle(b), classIndex: 1 }]);
    expect([...decodePng(objectPng).data]).toEqual([1, 1, 2, 2, 0, 0, 0, 2]);
    expect([...decodePng(classPng).data]).toEqual([2, 2, 1, 1, 0, 0, 0, 1]);
    const classes = parseVocLabelmap(writeVocLabelmap(['dog', 'cat']), 'labelmap.txt');
    expect(classes.names).toEqual(['dog', 'cat']);
    const parsed = parseVocImage({ image: 'x.jpg', objectPng: { file: 'o.png', bytes: objectPng }, classPng: { file: 'c.png', bytes: classPng } }, classes);
    expect(parsed.annotations.map((o) => o.className)).toEqual(['cat', 'dog']);
    expect([...decodeRle(parsed.annotations[0].rle).data]).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('marks the outermost pixels of objects void when asked (not along the image edge)', () => {
    const a = createMask(4, 4);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) a.data[y * 4 + x] = 1;
    const { objectPng, classPng } = writeVocMasks('x', 4, 4, [{ rle: encodeRle(a), classIndex: 1 }], { voidBorder: true });
    expect([...decodePng(objectPng).data]).toEqual([1, 1, 255, 0, 1, 1, 255, 0, 255, 255, 255, 0, 0, 0, 0, 0]);
    expect(decodePng(classPng).data[2]).toBe(255);
  });

  it('reads class_names.txt with background first, and refuses bad class lists', () => {
    expect(parseVocClassNames('_background_\ncat\n', 'class_names.txt', []).names).toEqual(['cat']);
    const warnings: string[] = [];
    expect(parseVocClassNames('cat\ndog\n', 'class_names.txt', warnings).names).toEqual(['cat', 'dog']);
    expect(warnings[0]).toMatch(/not "background"/);
    expect(() => parseVocLabelmap('background:0,0,0::\ncat:300,0,0::', 'labelmap.txt')).toThrow(/line 2 must read/);
    expect(() => parseVocLabelmap('cat:1,0,0::', 'labelmap.txt')).toThrow(/background/);
  });

  it('refuses a class index beyond the class list and too many objects', () => {
    const a = createMask(2, 1);
    a.data[0] = 1;
    const { classPng, objectPng } = writeVocMasks('x', 2, 1, [{ rle: encodeRle(a), classIndex: 9 }]);
    const classes = parseVocLabelmap(writeVocLabelmap(['dog']), 'labelmap.txt');
    expect(() => parseVocImage({ image: 'x', objectPng: { file: 'o.png', bytes: objectPng }, classPng: { file: 'c.png', bytes: classPng } }, classes)).toThrow(/class index 9/);
    const many = Array.from({ length: 255 }, () => ({ rle: encodeRle(a), classIndex: 1 }));
    expect(() => writeVocMasks('x', 2, 1, many)).toThrow(FormatError);
  });
});
