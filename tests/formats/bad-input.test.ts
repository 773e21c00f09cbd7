/**
 * Bad datasets against real projects: every failure is a FormatError naming the file and the problem, and the
 * project's rows are exactly as before (all-or-nothing, including images added before the failure).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../core/formats/errors';
import type { Project } from '../../db/project';
import { exportBundle, exportDataset, importDataset, openBundle } from '../../electron/formats/index';
import type { ImportOptions } from '../../electron/formats/index';
import { addImageTo, createProject, populate, rowCounts, tempDir } from './fixture';

let work: ReturnType<typeof tempDir>;
let source: Project;
let target: Project;

beforeAll(async () => {
  work = tempDir();
  source = createProject(join(work.dir, 'source'));
  await populate(source, join(work.dir, 'source', 'images'));
  for (const format of ['coco', 'voc', 'yolo', 'labelme'] as const) await exportDataset(source, format, join(work.dir, 'valid', format));
  await exportBundle(source, join(work.dir, 'valid', 'bundle.zip'));
  target = createProject(join(work.dir, 'target'));
});

afterAll(() => {
  source?.close();
  target?.close();
  work?.cleanup();
});

let copies = 0;
/** A fresh copy of a valid exported dataset to break. */
function copyOf(format: string): string {
  const dir = join(work.dir, `broken-${copies++}`);
  cpSync(join(work.dir, 'valid', format), dir, { recursive: true });
  return dir;
}

async function expectFormatError(run: () => Promise<unknown>, file: RegExp, message: RegExp): Promise<FormatError> {
  const before = rowCounts(target);
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'should fail').toBeInstanceOf(FormatError);
  expect((caught as FormatError).file).toMatch(file);
  expect((caught as FormatError).message).toMatch(message);
  expect(rowCounts(target)).toEqual(before);
  return caught as FormatError;
}

const options = (): ImportOptions => ({ addImage: addImageTo(target) });

function editJson(file: string, edit: (json: any) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

describe('dataset import refuses bad input and changes nothing', () => {
  it('COCO: an image that exists nowhere', async () => {
    const dir = copyOf('coco');
    editJson(join(dir, 'annotations.json'), (j) => { j.images[1].file_name = 'nowhere.png'; });
    await expectFormatError(() => importDataset(target, 'coco', dir, options()), /annotations\.json/, /image "nowhere\.png" is neither in the dataset folder nor in the project/);
  });

  it('COCO: a size that does not match the image file', async () => {
    const dir = copyOf('coco');
    editJson(join(dir, 'annotations.json'), (j) => { j.images[0].width += 1; });
    await expectFormatError(() => importDataset(target, 'coco', dir, options()), /annotations\.json/, /annotations\[0\] \(id 1\)\.segmentation mask is 96x64 but its image is 97x64/);
    editJson(join(dir, 'annotations.json'), (j) => { j.annotations = j.annotations.filter((a: any) => a.image_id !== j.images[0].id); });
    await expectFormatError(() => importDataset(target, 'coco', dir, options()), /annotations\.json/, /says image "street\.png" is 97x64, but the image is 96x64/);
  });

  it('COCO: a file over the size limit is refused before it is read', async () => {
    const dir = copyOf('coco');
    await expectFormatError(() => importDataset(target, 'coco', dir, { ...options(), limits: { maxTextBytes: 1000 } }), /annotations\.json/, /over the 1000 bytes limit/);
  });

  it('COCO: unknown classes fail when asked to (the default creates them)', async () => {
    const dir = copyOf('coco');
    await expectFormatError(() => importDataset(target, 'coco', dir, { ...options(), unknownClasses: 'error' }), /annotations\.json/, /classes the project does not have: ant|classes the project does not have: cat/);
  });

  it('COCO: when adding an image fails half way, the images already added are removed again', async () => {
    const dir = copyOf('coco');
    let calls = 0;
    const add = addImageTo(target);
    const failing = async (path: string) => {
      if (++calls === 2) throw new FormatError(path, 'disk full (simulated)');
      return add(path);
    };
    await expectFormatError(() => importDataset(target, 'coco', dir, { addImage: failing }), /field\.jpg/, /disk full/);
    expect(calls).toBe(2);
  });

  it('labelme: an imagePath that escapes the dataset folder', async () => {
    const dir = copyOf('labelme');
    editJson(join(dir, 'field.json'), (j) => { j.imagePath = '../../../etc/passwd'; });
    await expectFormatError(() => importDataset(target, 'labelme', dir, options()), /field\.json/, /points outside the dataset folder/);
  });

  it('labelme: malformed JSON names the file', async () => {
    const dir = copyOf('labelme');
    writeFileSync(join(dir, 'tall.json'), '{"shapes": [');
    await expectFormatError(() => importDataset(target, 'labelme', dir, options()), /^tall\.json$/, /not valid JSON/);
  });

  it('YOLO: a label line with an unknown class names the file and line', async () => {
    const dir = copyOf('yolo');
    writeFileSync(join(dir, 'labels', 'train', 'field.txt'), '0 0 0 1 0 1 1\n7 0 0 1 0 1 1\n');
    await expectFormatError(() => importDataset(target, 'yolo', dir, options()), /labels\/train\/field\.txt/, /line 2: class "7"/);
  });

  it('YOLO: train folders outside the dataset are not read', async () => {
    const dir = copyOf('yolo');
    writeFileSync(join(dir, 'data.yaml'), 'train: ../../source/images\nnames: [cat, dog, traffic light]\n');
    const result = await importDataset(target, 'yolo', dir, options());
    expect(result.warnings.join('\n')).toMatch(/points outside the dataset folder; skipped/);
    expect(result.images).toBe(3); // fell back to images/ inside the dataset
  });

  it('VOC: a mask whose size differs from its image', async () => {
    const dir = copyOf('voc');
    cpSync(join(dir, 'SegmentationObject', 'tall.png'), join(dir, 'SegmentationObject', 'street.png'));
    cpSync(join(dir, 'SegmentationClass', 'tall.png'), join(dir, 'SegmentationClass', 'street.png'));
    await expectFormatError(() => importDataset(target, 'voc', dir, options()), /SegmentationObject\/street\.png/, /is 50x90, but the image is 96x64/);
  });

  it('VOC: a folder that is not a VOC dataset', async () => {
    await expectFormatError(() => importDataset(target, 'voc', copyOf('coco'), options()), /broken-/, /not a VOC dataset folder/);
  });

  it('a bundle is opened, not imported', async () => {
    await expectFormatError(() => importDataset(target, 'bundle', join(work.dir, 'valid', 'bundle.zip'), options()), /bundle\.zip/, /openBundle/);
  });
});

describe('openBundle refuses hostile or broken zips and leaves nothing behind', () => {
  const manifest = new TextEncoder().encode(JSON.stringify({ format: 'pixelwise-bundle', version: 1, project: 'p.pixelwise' }));

  it.each([
    ['../evil.txt'],
    ['/tmp/evil.txt'],
    ['images/../../evil.txt'],
    ['C:/evil.txt'],
    ['..\\evil.txt'],
  ])('zip slip: entry %s', async (name) => {
    const zip = join(work.dir, `slip-${copies++}.zip`);
    writeFileSync(zip, zipSync({ 'manifest.json': manifest, [name]: new TextEncoder().encode('owned') }));
    const out = join(work.dir, `slip-out-${copies++}`, 'inner');
    await expect(openBundle(zip, out)).rejects.toThrow(/would be written outside the target folder/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(work.dir, 'evil.txt'))).toBe(false);
  });

  it('an entry over the size limit', async () => {
    const out = join(work.dir, 'big-out');
    await expect(openBundle(join(work.dir, 'valid', 'bundle.zip'), out, { maxEntryBytes: 10_000 })).rejects.toThrow(/larger than the 9\.8 KiB limit/);
    expect(existsSync(out)).toBe(false);
  });

  it('not a zip, no manifest, and a target folder that is not empty', async () => {
    const junk = join(work.dir, 'junk.zip');
    writeFileSync(junk, 'this is not a zip file at all');
    await expect(openBundle(junk, join(work.dir, 'junk-out'))).rejects.toThrow(/no manifest\.json/);
    const busy = join(work.dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep.txt'), 'mine');
    await expect(openBundle(join(work.dir, 'valid', 'bundle.zip'), busy)).rejects.toThrow(/is not empty/);
    expect(readdirSync(busy)).toEqual(['keep.txt']);
  });
});
