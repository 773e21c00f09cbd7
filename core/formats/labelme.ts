/**
 * labelme JSON, one file per image: `shapes` (label, points, group_id, shape_type), `imagePath` relative to the
 * JSON file, `imageHeight`/`imageWidth`, `imageData` null. A 'polygon' shape is one simple ring; shapes sharing
 * a (label, group_id) form one object, so several-part objects keep their identity. Holes cannot be drawn with
 * polygons, so objects with holes are written as a 'mask' shape (labelme >= 5.3: `points` = inclusive top-left and
 * bottom-right pixel of the box, `mask` = base64 PNG of the box-sized crop), unless `holes: 'fill'`.
 */
import { type Mask, maskBbox } from '../mask';
import { decodePng, encodeBitPng } from '../png';
import { OutlineBudget, maskToPolygons, ringToRle } from '../polygon';
import { type Rle, decodeCounts, decodeRle, encodeCounts } from '../rle';
import { pngSize } from './png-header';
import { cropCounts, unionCounts } from './runs';
import { ringFromFile, ringToFile } from './coords';
import { Checker, type Json, type JsonObject, parseJson } from './check';
import { type FormatLimits, defaultLimits, withFile } from './errors';
import type { PolygonOptions } from './types';

export interface LabelmeObject {
  rle: Rle;
  label: string;
}

export interface LabelmeExportOptions extends PolygonOptions {
  /** 'polygon' (default): outlines; 'mask': every object as a lossless mask shape. */
  shapes?: 'polygon' | 'mask';
  /** In polygon mode, objects with holes: 'mask' (default) keeps them exact; 'fill' writes outer rings only. */
  holes?: 'mask' | 'fill';
}

const version = '5.5.0';

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function unbase64(text: string): Uint8Array {
  const binary = atob(text.replace(/\s+/g, ''));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function maskShape(mask: Mask, label: string): JsonObject {
  const [x, y, w, h] = maskBbox(mask);
  const crop = new Uint8Array(w * h);
  for (let r = 0; r < h; r++) crop.set(mask.data.subarray((y + r) * mask.width + x, (y + r) * mask.width + x + w), r * w);
  return { label, points: [[x, y], [x + w - 1, y + h - 1]], group_id: null, description: '', shape_type: 'mask', flags: {}, mask: base64(encodeBitPng(w, h, crop)) };
}

/** One labelme file; `objects` in z-order (labelme paints later shapes over earlier ones). */
export function writeLabelme(imagePath: string, width: number, height: number, objects: LabelmeObject[], options: LabelmeExportOptions = {}): { text: string; holesFilled: number } {
  const shapes: JsonObject[] = [];
  let group = 0, holesFilled = 0;
  for (const object of objects) {
    const mask = decodeRle(object.rle);
    if (!mask.data.some((v) => v)) continue;
    if (options.shapes === 'mask') {
      shapes.push(maskShape(mask, object.label));
      continue;
    }
    const polygons = maskToPolygons(mask, { tolerance: options.tolerance ?? 0.5 });
    const hasHoles = polygons.some((p) => p.holes.length);
    if (hasHoles && options.holes !== 'fill') {
      shapes.push(maskShape(mask, object.label));
      continue;
    }
    if (hasHoles) holesFilled++;
    const groupId = polygons.length > 1 ? ++group : null;
    for (const { outer } of polygons) {
      const points: number[][] = [];
      const ring = ringToFile(outer);
      for (let i = 0; i < ring.length; i += 2) points.push([ring[i], ring[i + 1]]);
      shapes.push({ label: object.label, points, group_id: groupId, description: '', shape_type: 'polygon', flags: {}, mask: null });
    }
  }
  const root = { version, flags: {}, shapes, imagePath, imageData: null, imageHeight: height, imageWidth: width };
  return { text: JSON.stringify(root, null, 2), holesFilled };
}

export interface ParsedLabelme {
  /** As written, with '\\' turned into '/'; relative to the JSON file's folder. */
  imagePath: string;
  width: number;
  height: number;
  objects: Array<{ className: string; rle: Rle; order: number }>;
  warnings: string[];
}

/**
 * A labelme file read and checked, shapes not drawn yet: the importer compares the declared size with the real
 * image first (as for COCO), then calls `objects()`.
 */
export interface LabelmeFile extends Omit<ParsedLabelme, 'objects'> {
  /** How many objects `objects()` returns (shapes sharing a label and group_id are one object). */
  count: number;
  /** Every object's mask at the declared size; polygon work is bounded by `limits.maxOutline`. */
  objects(): ParsedLabelme['objects'];
}

const noArea = new Set(['line', 'linestrip', 'point', 'points']);
const pointsNeeded: Record<string, [(n: number) => boolean, string]> = {
  polygon: [(n) => n >= 3, 'a polygon needs at least 3 points'],
  rectangle: [(n) => n === 2, 'a rectangle needs 2 points'],
  circle: [(n) => n === 2, 'a circle needs 2 points (centre, rim)'],
  mask: [(n) => n === 2, 'a mask shape needs 2 points (box corners)'],
};

export function readLabelme(text: string, file: string, limits: FormatLimits = defaultLimits): LabelmeFile {
  const check: Checker = new Checker(file);
  const root = check.object(parseJson(text, file), 'the top level');
  const imagePath = check.string(root.imagePath, '"imagePath"').replace(/\\/g, '/');
  const width = check.integer(root.imageWidth, '"imageWidth"', 1);
  const height = check.integer(root.imageHeight, '"imageHeight"', 1);
  if (width * height > limits.maxPixels) check.fail('the image', `is ${width}x${height}, over the ${limits.maxPixels}-pixel limit`);
  const groups = new Map<string, { className: string; shapes: Array<{ shape: JsonObject; type: string; points: number[][]; where: string }>; order: number }>();
  const warnings: string[] = [];
  let skipped = 0;
  check.array(root.shapes, '"shapes"').forEach((value, index) => {
    const where = `shapes[${index}]`;
    const shape = check.object(value, where);
    const label = check.string(shape.label, `${where}.label`);
    const type = shape.shape_type === undefined || shape.shape_type === null ? 'polygon' : check.string(shape.shape_type, `${where}.shape_type`);
    if (noArea.has(type)) { skipped++; return; }
    if (!pointsNeeded[type]) check.fail(`${where}.shape_type`, `"${type}" is not a shape labelme writes (polygon, rectangle, circle, mask, line, linestrip, point)`);
    const points = check.array(shape.points, `${where}.points`).map((p, i) => {
      const pair = check.array(p, `${where}.points[${i}]`);
      if (pair.length !== 2) check.fail(`${where}.points[${i}]`, 'must be [x, y]');
      return [check.number(pair[0], `${where}.points[${i}][0]`), check.number(pair[1], `${where}.points[${i}][1]`)];
    });
    const [enough, needed] = pointsNeeded[type];
    if (!enough(points.length)) check.fail(`${where}.points`, `${needed}, got ${points.length}`);
    const groupId = shape.group_id;
    const key = groupId === null || groupId === undefined ? `#${index}` : `${label}\u0000${check.id(groupId, `${where}.group_id`)}`;
    const group = groups.get(key) ?? groups.set(key, { className: label, shapes: [], order: groups.size }).get(key)!;
    group.shapes.push({ shape, type, points, where });
  });
  if (skipped) warnings.push(`${file}: ${skipped} line or point shape(s) have no area and were skipped`);
  const objects = () => {
    const budget = new OutlineBudget(limits.maxOutline);
    // Each shape becomes RLE as soon as it is drawn (a 12000x12000 mask per shape held to the end was 145 MB
    // each); a group's shapes are merged once (merging each into the group as it came was quadratic).
    return [...groups.values()].map(({ className, shapes, order }) => {
      const parts = shapes.map(({ shape, type, points, where }) => withFile(file, () => shapeRle(check, shape, type, points, where, width, height, limits, budget)).counts);
      const counts = parts.length === 1 ? parts[0] : encodeCounts(unionCounts(parts.map(decodeCounts), width * height));
      return { className, order, rle: { size: [height, width] as [number, number], counts } };
    });
  };
  return { imagePath, width, height, count: groups.size, objects, warnings };
}

/** readLabelme with every object drawn at once (the declared size taken as it is). */
export function parseLabelme(text: string, file: string, limits: FormatLimits = defaultLimits): ParsedLabelme {
  const { objects, count: _count, ...rest } = readLabelme(text, file, limits);
  return { ...rest, objects: objects() };
}

function shapeRle(check: Checker, shape: JsonObject, type: string, points: number[][], where: string, width: number, height: number, limits: FormatLimits, budget: OutlineBudget): Rle {
  const flat = points.flat();
  if (type === 'polygon') return ringToRle(ringFromFile(flat), width, height, budget);
  if (type === 'rectangle') {
    // labelme (PIL) fills a rectangle's corner pixels and everything between them.
    const [x0, x1] = [points[0][0], points[1][0]].sort((a, b) => a - b);
    const [y0, y1] = [points[0][1], points[1][1]].sort((a, b) => a - b);
    const left = Math.ceil(x0), top = Math.ceil(y0), right = Math.floor(x1) + 1, bottom = Math.floor(y1) + 1;
    return ringToRle([left, top, right, top, right, bottom, left, bottom], width, height, budget);
  }
  if (type === 'circle') {
    const [[cx, cy], [px, py]] = points;
    const r = Math.hypot(px - cx, py - cy);
    const ring: number[] = [];
    for (let k = 0; k < 128; k++) ring.push(cx + r * Math.cos((k / 128) * 2 * Math.PI), cy + r * Math.sin((k / 128) * 2 * Math.PI));
    return ringToRle(ringFromFile(ring), width, height, budget);
  }
  return maskShapeRle(check, shape.mask, points, where, width, height, limits);
}

/** A 'mask' shape: a PNG of its box, placed in the image straight as runs (the crop is visited, not the image). */
function maskShapeRle(check: Checker, data: Json | undefined, points: number[][], where: string, width: number, height: number, limits: FormatLimits): Rle {
  const x0 = Math.trunc(points[0][0]), y0 = Math.trunc(points[0][1]);
  const x1 = Math.trunc(points[1][0]), y1 = Math.trunc(points[1][1]);
  if (x0 < 0 || y0 < 0 || x1 >= width || y1 >= height || x1 < x0 || y1 < y0) check.fail(`${where}.points`, `box [${x0}, ${y0}]-[${x1}, ${y1}] reaches outside the ${width}x${height} image`);
  const encoded = check.string(data, `${where}.mask`);
  let bytes: Uint8Array;
  try {
    bytes = unbase64(encoded);
  } catch {
    check.fail(`${where}.mask`, 'is not valid base64');
  }
  // The PNG's size is checked against its box (inside the image) before it is inflated.
  const size = pngSize(bytes) ?? check.fail(`${where}.mask`, 'is not a readable PNG (no PNG header)');
  if (x1 - x0 + 1 !== size.width || y1 - y0 + 1 !== size.height) {
    check.fail(`${where}.mask`, `is ${size.width}x${size.height} but its box [${x0}, ${y0}]-[${x1}, ${y1}] is ${x1 - x0 + 1}x${y1 - y0 + 1}`);
  }
  let png;
  try {
    png = decodePng(bytes, Math.min(limits.maxPixels, size.width * size.height));
  } catch (error) {
    check.fail(`${where}.mask`, `is not a readable PNG (${(error as Error).message})`);
  }
  const { channels, data: pixels } = png, colour = channels >= 3 ? 3 : 1;
  const on = (c: number, r: number) => {
    const p = (r * png.width + c) * channels;
    for (let k = 0; k < colour; k++) if (pixels[p + k] !== 0) return true;
    return false;
  };
  return { size: [height, width], counts: encodeCounts(cropCounts(on, x0, y0, png.width, png.height, width, height)) };
}
