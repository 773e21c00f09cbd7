/**
 * COCO instances JSON (https://cocodataset.org/#format-data), read and written as pycocotools does.
 *
 * Export: image ids and annotation ids are the project's; category ids are 1..N in class-id order; masks are
 * compressed RLE (lossless, `iscrowd` 0) or polygons (pixel centres at integers, see ./coords). pycocotools
 * unions the polygons of one object, so a polygon cannot cut a hole: objects with holes are written as RLE
 * unless `holes: 'fill'` asks for outer rings only. `area` is the mask's pixel count, `bbox` its tight box (both
 * computed from the runs, as pycocotools `area`/`toBbox` do).
 * Import: polygons (rasterised exactly as pycocotools does, ./coco-polygon), uncompressed RLE (counts as a number
 * array) and compressed RLE; objects with only a bbox become box masks (with a warning).
 */
import type { Bbox } from '../mask';
import { OutlineBudget, maskToPolygons, ringToRle } from '../polygon';
import { type Rle, decodeCounts, decodeRle, encodeCounts, rleArea, rleBbox } from '../rle';
import { cocoPolygonsToRle } from './coco-polygon';
import { ringToFile } from './coords';
import { Checker, type Json, type JsonObject, parseJson, safeRelativeName } from './check';
import { type FormatLimits, defaultLimits, withFile } from './errors';
import type { Dataset, ParsedAnnotation, ParsedDataset, ParsedImage, PolygonOptions } from './types';

export interface CocoExportOptions extends PolygonOptions {
  /** 'rle' (default): lossless compressed RLE; 'polygon': outlines, simplified by `tolerance`. */
  segmentation?: 'rle' | 'polygon';
  /** In polygon mode, objects with holes: 'rle' (default) keeps them exact; 'fill' writes outer rings only. */
  holes?: 'rle' | 'fill';
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
}

/** Category ids 1..N in class-id order: stable for a project whatever order classes are listed in. */
export function cocoCategoryIds(classIds: number[]): Map<number, number> {
  return new Map([...classIds].sort((a, b) => a - b).map((id, index) => [id, index + 1]));
}

export function writeCoco(dataset: Dataset, options: CocoExportOptions = {}): { text: string; warnings: string[] } {
  const warnings: string[] = [];
  const categoryIds = cocoCategoryIds(dataset.classes.map((c) => c.id));
  const categories: CocoCategory[] = [...dataset.classes]
    .sort((a, b) => a.id - b.id)
    .map((c) => ({ id: categoryIds.get(c.id)!, name: c.name, supercategory: '' }));
  const images = [...dataset.images].sort((a, b) => a.id - b.id);
  const imageById = new Map(images.map((i) => [i.id, i]));
  const annotations: JsonObject[] = [];
  let unclassified = 0, filled = 0;
  const sorted = [...dataset.annotations].sort((a, b) => a.imageId - b.imageId || a.order - b.order || a.id - b.id);
  for (const a of sorted) {
    const image = imageById.get(a.imageId);
    if (!image) continue;
    if (a.classId === null || !categoryIds.has(a.classId)) {
      unclassified++;
      continue;
    }
    // Area and box straight from the runs: decoding a camera-sized mask per object is the slow part of an export.
    const area = rleArea(a.rle);
    let segmentation: Json = { size: a.rle.size, counts: a.rle.counts };
    if (options.segmentation === 'polygon' && area > 0) {
      const polygons = maskToPolygons(decodeRle(a.rle), { tolerance: options.tolerance ?? 0.5 });
      const hasHoles = polygons.some((p) => p.holes.length > 0);
      if (!hasHoles || options.holes === 'fill') {
        segmentation = polygons.map((p) => ringToFile(p.outer));
        if (hasHoles) filled++;
      }
    }
    const record: JsonObject = {
      id: a.id, image_id: a.imageId, category_id: categoryIds.get(a.classId)!, segmentation,
      area, bbox: rleBbox(a.rle), iscrowd: 0,
    };
    if (a.score !== null) record.score = a.score;
    annotations.push(record);
  }
  if (unclassified) warnings.push(`${unclassified} object(s) without a class were not exported (COCO needs a category)`);
  if (filled) warnings.push(`${filled} object(s) had holes filled (polygon mode with holes: 'fill')`);
  const root = {
    info: { description: 'Exported by Pixelwise Studio', version: '1.0', date_created: new Date().toISOString() },
    licenses: [],
    // Augment's variants keep their flag and source as extra image fields (COCO readers ignore unknown keys).
    images: images.map((i) => ({
      id: i.id, file_name: i.name, width: i.width, height: i.height,
      ...(i.synthetic ? { synthetic: true, source_image_id: i.synthetic.sourceImageId } : {}),
    })),
    categories,
    annotations,
  };
  return { text: JSON.stringify(root), warnings };
}

interface CocoImageEntry extends ParsedImage {
  width: number;
  height: number;
}

/** An object as read, its mask not drawn yet: polygons are rasterised only at a size checked against the image. */
interface PendingAnnotation {
  image: CocoImageEntry;
  className: string;
  score: number | null;
  order: number;
  where: string;
  /** Polygon rings (file coordinates), a box [x, y, width, height], or RLE counts already checked for the size. */
  shape: { rings: number[][] } | { box: Bbox } | { counts: number[] };
}

/**
 * A COCO instances file read and checked, objects not yet drawn. The importer compares each image's declared size
 * with the real image first and only then calls `annotations()`: a file declaring 10000x10000 for a small image
 * fails on the size, not after rasterising 10000x10000 polygons.
 */
export interface CocoFile {
  images: ParsedImage[];
  classNames: string[];
  warnings: string[];
  /** Every object's mask at its image's declared size; polygon work is bounded by `limits.maxOutline`. */
  annotations(): ParsedAnnotation[];
}

/** Reads a COCO instances file. Image names are file_name values, made '/'-separated and checked not to escape. */
export function readCoco(text: string, file: string, limits: FormatLimits = defaultLimits): CocoFile {
  const check: Checker = new Checker(file);
  const root = check.object(parseJson(text, file), 'the top level');
  const warnings: string[] = [];
  const images = new Map<number | string, CocoImageEntry>();
  const names = new Set<string>();
  check.array(root.images, '"images"').forEach((value, index) => {
    const where = `images[${index}]`;
    const entry = check.object(value, where);
    const id = check.id(entry.id, `${where}.id`);
    const name = safeRelativeName(check.string(entry.file_name, `${where}.file_name`), file, `${where}.file_name`);
    const width = check.integer(entry.width, `${where}.width`, 1);
    const height = check.integer(entry.height, `${where}.height`, 1);
    if (width * height > limits.maxPixels) check.fail(where, `is ${width}x${height}, over the ${limits.maxPixels}-pixel limit`);
    if (images.has(id)) check.fail(`${where}.id`, `${id} is used by more than one image`);
    if (names.has(name)) check.fail(`${where}.file_name`, `"${name}" is listed twice`);
    names.add(name);
    images.set(id, { name, width, height, source: file });
  });

  const categories = new Map<number | string, string>();
  const classNames: string[] = [];
  const categoryList = root.categories === undefined ? [] : check.array(root.categories, '"categories"');
  categoryList.forEach((value, index) => {
    const where = `categories[${index}]`;
    const entry = check.object(value, where);
    const id = check.id(entry.id, `${where}.id`);
    const name = check.string(entry.name, `${where}.name`);
    if (categories.has(id)) check.fail(`${where}.id`, `${id} is used by more than one category`);
    if (classNames.some((n) => n.toLowerCase() === name.toLowerCase())) check.fail(`${where}.name`, `"${name}" is listed twice`);
    categories.set(id, name);
    classNames.push(name);
  });

  const pending: PendingAnnotation[] = [];
  const orders = new Map<string, number>();
  let boxesOnly = 0, crowds = 0;
  const annotationList = root.annotations === undefined ? [] : check.array(root.annotations, '"annotations"');
  if (root.annotations === undefined) warnings.push(`${file}: no "annotations" list; only images were read`);
  annotationList.forEach((value, index) => {
    const entry = check.object(value, `annotations[${index}]`);
    const where = `annotations[${index}]${typeof entry.id === 'number' || typeof entry.id === 'string' ? ` (id ${entry.id})` : ''}`;
    const image = images.get(check.id(entry.image_id, `${where}.image_id`));
    if (!image) check.fail(`${where}.image_id`, `${String(entry.image_id)} is not in "images"`);
    const categoryId = check.id(entry.category_id, `${where}.category_id`);
    const className = categories.get(categoryId);
    if (className === undefined) check.fail(`${where}.category_id`, `${categoryId} is not in "categories"`);
    if (entry.iscrowd === 1) crowds++;
    let shape: PendingAnnotation['shape'];
    if (entry.segmentation === undefined || (Array.isArray(entry.segmentation) && entry.segmentation.length === 0)) {
      if (entry.bbox === undefined) check.fail(where, 'has neither "segmentation" nor "bbox"');
      shape = { box: readBox(check, entry.bbox, `${where}.bbox`) };
      boxesOnly++;
    } else {
      shape = readSegmentation(check, entry.segmentation, `${where}.segmentation`, image.width, image.height);
    }
    const score = entry.score === undefined || entry.score === null ? null : check.number(entry.score, `${where}.score`);
    const order = orders.get(image.name) ?? 0;
    orders.set(image.name, order + 1);
    pending.push({ image, className, score, order, where, shape });
  });
  if (boxesOnly) warnings.push(`${file}: ${boxesOnly} object(s) had only a bbox and were imported as box masks`);
  if (crowds) warnings.push(`${file}: ${crowds} crowd region(s) (iscrowd 1) were imported as ordinary objects`);
  const annotations = (): ParsedAnnotation[] => {
    const budget = new OutlineBudget(limits.maxOutline);
    return pending.map(({ image, className, score, order, shape }) => ({
      image: image.name, className, rle: withFile(file, () => draw(shape, image.width, image.height, budget)), order, score, source: file,
    }));
  };
  return { images: [...images.values()], classNames, warnings, annotations };
}

/** readCoco with every object drawn at once (the declared sizes taken as they are). */
export function parseCoco(text: string, file: string, limits: FormatLimits = defaultLimits): ParsedDataset {
  const coco = readCoco(text, file, limits);
  return { images: coco.images, annotations: coco.annotations(), classNames: coco.classNames, warnings: coco.warnings };
}

function draw(shape: PendingAnnotation['shape'], width: number, height: number, budget: OutlineBudget): Rle {
  if ('rings' in shape) return cocoPolygonsToRle(shape.rings, width, height, budget);
  if ('counts' in shape) return { size: [height, width], counts: encodeCounts(shape.counts) };
  // A box is charged like any outline: its RLE has two runs per column it covers, so 30,000 large boxes in a
  // 2 MB file would otherwise hold gigabytes of runs.
  const [x, y, w, h] = shape.box;
  return ringToRle([x, y, x + w, y, x + w, y + h, x, y + h], width, height, budget);
}

function readBox(check: Checker, value: Json | undefined, where: string): Bbox {
  const box = check.array(value, where);
  if (box.length !== 4) check.fail(where, `must hold 4 numbers [x, y, width, height], got ${box.length}`);
  return box.map((v, i) => check.number(v, `${where}[${i}]`)) as Bbox;
}

/** Polygons, uncompressed RLE or compressed RLE, checked against the image's declared size. */
function readSegmentation(check: Checker, value: Json, where: string, width: number, height: number): PendingAnnotation['shape'] {
  if (Array.isArray(value)) {
    const rings = value.map((ring, r) => {
      const coords = check.array(ring, `${where}[${r}]`);
      if (coords.length < 6 || coords.length % 2) check.fail(`${where}[${r}]`, `must hold at least 3 x,y pairs, got ${coords.length} numbers`);
      return coords.map((c, i) => check.number(c, `${where}[${r}][${i}]`));
    });
    return { rings };
  }
  const rle = check.object(value, where);
  const size = check.array(rle.size, `${where}.size`);
  if (size.length !== 2) check.fail(`${where}.size`, 'must be [height, width]');
  const h = check.integer(size[0], `${where}.size[0]`, 1), w = check.integer(size[1], `${where}.size[1]`, 1);
  if (h !== height || w !== width) check.fail(where, `mask is ${w}x${h} but its image is ${width}x${height}`);
  let counts: number[];
  if (Array.isArray(rle.counts)) {
    counts = rle.counts.map((c, i) => check.integer(c, `${where}.counts[${i}]`));
  } else {
    const text = check.string(rle.counts, `${where}.counts`);
    try {
      counts = decodeCounts(text);
    } catch (error) {
      check.fail(`${where}.counts`, `is not a valid compressed RLE string (${(error as Error).message})`);
    }
    if (counts.some((c) => c < 0)) check.fail(`${where}.counts`, 'decodes to a negative run length');
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== width * height) check.fail(`${where}.counts`, `cover ${total} pixels, but the image has ${width * height}`);
  return { counts };
}
