/**
 * Export a real project in every format, import the result into a fresh project, compare masks: identical for
 * the RLE-based paths (COCO RLE, VOC, labelme masks, bundle), IoU >= 0.98 for polygon paths (COCO polygons,
 * labelme polygons, YOLO after filling holes and merging parts per class).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mask, createMask, maskIou } from '../../core/mask';
import { maskToPolygons, polygonsToMask } from '../../core/polygon';
import { decodeRle, encodeRle } from '../../core/rle';
import { Project } from '../../db/project';
import { type DatasetExportOptions, exportBundle, exportDataset, importDataset, openBundle } from '../../electron/formats/index';
import type { FormatId } from '../../core/formats/types';
import { type SampleObject, addImageTo, createProject, populate, tempDir } from './fixture';
import { masksEqual } from './masks';

let work: ReturnType<typeof tempDir>;
let source: Project;
let expected: Map<string, SampleObject[]>;

beforeAll(async () => {
  work = tempDir();
  source = createProject(join(work.dir, 'source'));
  expected = await populate(source, join(work.dir, 'source', 'images'), { unclassified: true });
});

afterAll(() => {
  source?.close();
  work?.cleanup();
});

/** Imported objects by image file stem (VOC turns every image into .jpg), in z-order, with class names. */
function objectsByFile(project: Project): Map<string, SampleObject[]> {
  const out = new Map<string, SampleObject[]>();
  const classes = new Map(project.classes.list().map((c) => [c.id, c.name]));
  for (const id of project.images.ids()) {
    const image = project.images.get(id)!;
    out.set(stem(image.fileName), project.annotations.list(id).map((a) => ({ className: a.classId === null ? null : classes.get(a.classId)!, mask: decodeRle(a.rle) })));
  }
  return out;
}

async function roundTrip(format: FormatId, options: DatasetExportOptions, name: string, viaCallback = true): Promise<{ objects: Map<string, SampleObject[]>; warnings: string[] }> {
  const out = join(work.dir, `out-${name}`);
  const exported = await exportDataset(source, format, out, options);
  const target = createProject(join(work.dir, `target-${name}`));
  try {
    const path = format === 'yolo' ? join(out, 'data.yaml') : format === 'coco' ? join(out, 'annotations.json') : out;
    // Half the formats add new images through a caller's addImage, half through the built-in one-transaction path.
    const result = await importDataset(target, format, path, viaCallback ? { addImage: addImageTo(target) } : {});
    expect(result.images).toBe(3);
    expect(result.addedImages).toBe(3);
    return { objects: objectsByFile(target), warnings: [...exported.warnings, ...result.warnings] };
  } finally {
    target.close();
  }
}

const classified = (objects: SampleObject[]) => objects.filter((o) => o.className !== null);

function expectSame(actual: Map<string, SampleObject[]>, want: (objects: SampleObject[]) => SampleObject[], minIou: number | 'exact'): void {
  for (const [file, objects] of expected) {
    const wanted = want(objects);
    const got = actual.get(stem(file)) ?? [];
    expect(got.map((o) => o.className), file).toEqual(wanted.map((o) => o.className));
    got.forEach((o, i) => {
      if (minIou === 'exact') expect(masksEqual(o.mask, wanted[i].mask), `${file} object ${i}`).toBe(true);
      else expect(maskIou(o.mask, wanted[i].mask), `${file} object ${i}`).toBeGreaterThanOrEqual(minIou);
    });
  }
}

describe('round trips', () => {
  it('COCO with RLE gives identical masks, classes and order', async () => {
    const { objects, warnings } = await roundTrip('coco', {}, 'coco-rle');
    expectSame(objects, classified, 'exact');
    expect(warnings.join('\n')).toMatch(/1 object\(s\) without a class/);
  });

  it('COCO with polygons keeps IoU >= 0.98 (objects with holes stay RLE)', async () => {
    const { objects } = await roundTrip('coco', { segmentation: 'polygon' }, 'coco-polygon');
    expectSame(objects, classified, 0.98);
  });

  it('labelme with mask shapes gives identical masks', async () => {
    const { objects } = await roundTrip('labelme', { shapes: 'mask' }, 'labelme-mask', false);
    expectSame(objects, classified, 'exact');
  });

  it('labelme with polygons keeps IoU >= 0.98 and several-part objects stay one object', async () => {
    const { objects } = await roundTrip('labelme', {}, 'labelme-polygon');
    expectSame(objects, classified, 0.98);
  });

  it('VOC gives identical masks where objects do not overlap; later z-order wins where they do', async () => {
    const { objects } = await roundTrip('voc', {}, 'voc', false);
    expectSame(objects, (list) => visibleMasks(list).filter((o) => o.mask.data.some((v) => v)), 'exact');
  });

  it('YOLO keeps IoU >= 0.98 per class once holes are filled and parts merged', async () => {
    const { objects, warnings } = await roundTrip('yolo', {}, 'yolo', false);
    expect(warnings.join('\n')).toMatch(/holes/);
    for (const [file, list] of expected) {
      for (const className of ['cat', 'dog', 'traffic light']) {
        const want = union(list.filter((o) => o.className === className).map((o) => fillHoles(o.mask)));
        const got = union((objects.get(stem(file)) ?? []).filter((o) => o.className === className).map((o) => o.mask), want);
        expect(maskIou(got, want), `${file} ${className}`).toBeGreaterThanOrEqual(0.98);
      }
    }
  });

  it('re-importing into the source project matches its images by content and, with replace, changes nothing', async () => {
    const before = source.info();
    const out = join(work.dir, 'out-coco-rle');
    const result = await importDataset(source, 'coco', join(out, 'annotations.json'), { replace: true, unknownClasses: 'error' });
    expect(result).toMatchObject({ images: 3, addedImages: 0, classes: 0 });
    expect(source.info().imageCount).toBe(before.imageCount);
    expectSame(objectsByFile(source), (list) => list.filter((o) => o.className !== null), 'exact');
    // put the unclassified object back for the tests after this one
    const first = source.images.ids()[0];
    const extra = expected.get('street.png')!.find((o) => o.className === null)!;
    source.transaction(() => source.annotations.add(first, { classId: null, rle: encodeRle(extra.mask) }));
  });

  it('re-importing without replace adds nothing twice and says how many objects it skipped', async () => {
    const before = source.info();
    const result = await importDataset(source, 'coco', join(work.dir, 'out-coco-rle', 'annotations.json'), {});
    const classifiedCount = [...expected.values()].flatMap(classified).length;
    expect(result).toMatchObject({ addedImages: 0, annotations: 0, classes: 0 });
    expect(result.warnings).toContain(`${classifiedCount} object(s) were already in the project (same image, class and mask) and were not added again`);
    expect(source.info().annotationCount).toBe(before.annotationCount);
  });

  it('bundle reopens elsewhere with identical objects (unclassified too), images and embeddings', async () => {
    const imageId = source.images.ids()[0];
    source.db.prepare("INSERT OR IGNORE INTO models (id, manifest, sha256) VALUES ('test-model', '{}', 'abc')").run();
    const bytes = new Uint8Array(2 * 3 * 4).map((_, i) => i);
    source.embeddings.put(imageId, 'test-model', { width: 3, height: 2, dim: 4, imageWidth: 12, imageHeight: 8, dtype: 'int8', scale: 0.01, bytes });
    const zip = join(work.dir, 'bundle.zip');
    await exportBundle(source, zip, { images: true, embeddings: true });
    const opened = await openBundle(zip, join(work.dir, 'elsewhere', 'unpacked'));
    expect(opened.missingImages).toEqual([]);
    const copy = new Project(opened.projectPath);
    try {
      const objects = objectsByFile(copy);
      expectSame(objects, (list) => list, 'exact');
      expect(copy.images.list({ offset: 0, limit: 10 }).items.every((i) => i.path.startsWith('images/'))).toBe(true);
      expect([...copy.embeddings.get(imageId, 'test-model')!.bytes]).toEqual([...bytes]);
    } finally {
      copy.close();
    }
    const lean = join(work.dir, 'lean.zip');
    // The status an embedded image without objects has; the lean copy must recompute it without the embedding.
    source.db.prepare("UPDATE images SET status = 'embedded' WHERE id = ?").run(imageId);
    await exportBundle(source, lean, { images: false, embeddings: false });
    source.images.refreshStatus(imageId);
    const leanOpened = await openBundle(lean, join(work.dir, 'lean'));
    expect(leanOpened.missingImages.length).toBe(3);
    const leanCopy = new Project(leanOpened.projectPath);
    expect(leanCopy.embeddings.has(imageId, 'test-model')).toBe(false);
    expect(leanCopy.info().annotationCount).toBe(source.info().annotationCount);
    // Without embeddings nothing may say "embedded": statuses follow, and the regions derived from them are gone.
    expect(leanCopy.images.get(imageId)!.status).not.toBe('embedded');
    expect(leanCopy.info().statusCounts.embedded).toBe(0);
    expect(leanCopy.db.prepare('SELECT count(*) FROM region_sets').pluck().get()).toBe(0);
    leanCopy.close();
    const relinked = await openBundle(lean, join(work.dir, 'relinked'), { imagesDir: join(work.dir, 'source', 'images') });
    expect(relinked.missingImages).toEqual([]);
    const relinkedCopy = new Project(relinked.projectPath);
    expect(relinkedCopy.images.list({ offset: 0, limit: 10 }).items.map((i) => i.fileName).sort()).toEqual(['field.jpg', 'street.png', 'tall.png']);
    relinkedCopy.close();
  });
});

const stem = (name: string) => name.replace(/\.[^.]+$/, '');

function union(masks: Mask[], like?: Mask): Mask {
  const first = masks[0] ?? like!;
  const out = createMask(first.width, first.height);
  for (const m of masks) for (let i = 0; i < m.data.length; i++) out.data[i] |= m.data[i];
  return out;
}

function fillHoles(mask: Mask): Mask {
  return polygonsToMask(maskToPolygons(mask).map((p) => ({ outer: p.outer, holes: [] })), mask.width, mask.height);
}

/** What a single-layer format keeps: each object minus the objects drawn after it. */
function visibleMasks(objects: SampleObject[]): SampleObject[] {
  return objects.map((o, i) => {
    const mask = createMask(o.mask.width, o.mask.height);
    for (let p = 0; p < mask.data.length; p++) mask.data[p] = o.mask.data[p] && !objects.slice(i + 1).some((later) => later.mask.data[p]) ? 1 : 0;
    return { className: o.className, mask };
  });
}
