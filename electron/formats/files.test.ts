import { describe, expect, it } from 'vitest';
import { closeSync, openSync, writeSync } from 'node:fs';
import { describeFileError, exportNames, isInside, joinInside } from './files';

describe('export names', () => {
  it('keeps file names, prefixes the image id where stems clash (across folders and extensions)', () => {
    const names = exportNames([
      { id: 1, path: 'a/cat.png' }, { id: 2, path: 'b/cat.jpg' }, { id: 3, path: 'dog.png' }, { id: 4, path: '1_cat.png' }, { id: 5, path: 'C:/x/we:ird?.png' },
    ]);
    expect([...names.values()]).toEqual(['1_cat.png', '2_cat.jpg', 'dog.png', '4_1_cat.png', 'we_ird_.png']);
  });
});

describe('paths inside a folder', () => {
  it('accepts names inside and refuses names that climb out', () => {
    expect(isInside('/data/set', '/data/set/images/a.png')).toBe(true);
    expect(isInside('/data/set', '/data/setx/a.png')).toBe(false);
    expect(joinInside('/data/set', 'images/a.png', 'f')).toBe('/data/set/images/a.png');
    expect(() => joinInside('/data/set', '../other/a.png', 'list.txt')).toThrow(/list\.txt: "\.\.\/other\/a\.png" points outside the dataset folder/);
  });
});

describe('file errors in words', () => {
  it('says the disk is full for a real ENOSPC (a write to /dev/full)', () => {
    const fd = openSync('/dev/full', 'w');
    let caught: unknown;
    try {
      writeSync(fd, Buffer.alloc(16));
    } catch (error) {
      caught = error;
    } finally {
      closeSync(fd);
    }
    expect((caught as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(describeFileError(caught)).toBe('the disk is full');
  });
});
