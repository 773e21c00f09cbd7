/**
 * Pascal VOC segmentation: per image a SegmentationClass PNG (pixel = class index, 0 background) and a
 * SegmentationObject PNG (pixel = object index 1..N), both 8-bit palette PNGs with the VOC colormap; 255 marks
 * "void" (VOC draws it along object borders). The class list is labelmap.txt ("name:r,g,b::" per line, CVAT's
 * layout) or class_names.txt (one name per line, background first, labelme2voc's layout).
 *
 * One pixel holds one object, so where objects overlap the later one in z-order wins and the earlier one loses
 * those pixels. Index 255 is void, so an image holds at most 254 objects and a dataset at most 254 classes.
 */
import { decodePng, encodePalettePng } from '../png';
import { type Rle, decodeCounts, encodeCounts } from '../rle';
import { type FormatLimits, FormatError, defaultLimits, withFile } from './errors';
import type { ParsedAnnotation } from './types';

export const vocVoid = 255;
export const vocMaxIndex = 254;
const backgroundNames = new Set(['background', '_background_', '__background__', 'bg']);

/** The VOC colormap: 256 RGB triplets (index 1 = 128,0,0; 255 = 224,224,192). */
export function vocColormap(): Uint8Array {
  const map = new Uint8Array(768);
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= (c & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    map.set([r, g, b], i * 3);
  }
  return map;
}

const colormap = vocColormap();

export interface VocObject {
  rle: Rle;
  /** 1..254: position of the object's class in the class list (0 is background). */
  classIndex: number;
}

export interface VocExportOptions {
  /** Mark the outermost pixels of every object 255 (void) as VOC does; loses those pixels on re-import (default false). */
  voidBorder?: boolean;
}

/** Class and object PNGs for one image; `objects` in z-order (later wins). */
export function writeVocMasks(image: string, width: number, height: number, objects: VocObject[], options: VocExportOptions = {}): { classPng: Uint8Array; objectPng: Uint8Array } {
  if (objects.length > vocMaxIndex) throw new FormatError(image, `has ${objects.length} objects; VOC holds at most ${vocMaxIndex} per image`);
  const classes = new Uint8Array(width * height);
  const instances = new Uint8Array(width * height);
  objects.forEach((object, index) => {
    // Paint straight from the column-major runs: only the object's own pixels are visited.
    const counts = decodeCounts(object.rle.counts);
    let position = 0;
    for (let k = 0; k < counts.length; k++) {
      if (k % 2 === 1) {
        let x = Math.floor(position / height), y = position - x * height;
        for (let n = 0; n < counts[k]; n++) {
          const i = y * width + x;
          classes[i] = object.classIndex;
          instances[i] = index + 1;
          if (++y === height) { y = 0; x++; }
        }
      }
      position += counts[k];
    }
  });
  if (options.voidBorder) markBorders(width, height, instances, classes);
  return { classPng: encodePalettePng(width, height, classes, colormap), objectPng: encodePalettePng(width, height, instances, colormap) };
}

function markBorders(width: number, height: number, instances: Uint8Array, classes: Uint8Array): void {
  const source = instances.slice();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x, v = source[i];
      if (!v) continue;
      const edge = (x > 0 && source[i - 1] !== v) || (x < width - 1 && source[i + 1] !== v)
        || (y > 0 && source[i - width] !== v) || (y < height - 1 && source[i + width] !== v);
      if (edge) instances[i] = classes[i] = vocVoid;
    }
  }
}

/** labelmap.txt with background first; colours are the VOC colormap's so RGB readers map them back. */
export function writeVocLabelmap(classNames: string[]): string {
  const lines = ['# label:color_rgb:parts:actions', 'background:0,0,0::'];
  classNames.forEach((name, index) => {
    const c = colormap.subarray((index + 1) * 3, (index + 2) * 3);
    lines.push(`${name.replace(/[:\r\n]/g, '_')}:${c[0]},${c[1]},${c[2]}::`);
  });
  return lines.join('\n') + '\n';
}

export interface VocClassList {
  /** names[i] is class index i + 1 (index 0 is background). */
  names: string[];
  /** RGB colour for each index from 0, as the file gives it (labelmap.txt) or the VOC colormap. */
  colors: Array<[number, number, number]>;
}

export function parseVocLabelmap(text: string, file: string): VocClassList {
  const entries: Array<{ name: string; color: [number, number, number] }> = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim() || line.startsWith('#')) return;
    const [name, color = ''] = line.split(':');
    const rgb = color.split(',').map((v) => Number(v.trim()));
    if (!name.trim() || rgb.length !== 3 || rgb.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
      throw new FormatError(file, `line ${index + 1} must read "name:r,g,b::", got "${line.slice(0, 60)}"`);
    }
    entries.push({ name: name.trim(), color: rgb as [number, number, number] });
  });
  return toClassList(entries, file);
}

/** class_names.txt: one name per line; line 1 is background (labelme2voc writes "_background_"). */
export function parseVocClassNames(text: string, file: string, warnings: string[]): VocClassList {
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && l !== '__ignore__');
  if (names.length && !backgroundNames.has(names[0].toLowerCase())) {
    warnings.push(`${file}: first line "${names[0]}" is not "background"; treating it as class index 1`);
    names.unshift('background');
  }
  return toClassList(names.map((name, i) => ({ name, color: [...colormap.subarray(i * 3, i * 3 + 3)] as [number, number, number] })), file);
}

function toClassList(entries: Array<{ name: string; color: [number, number, number] }>, file: string): VocClassList {
  if (!entries.length || !backgroundNames.has(entries[0].name.toLowerCase())) {
    throw new FormatError(file, 'must list "background" first');
  }
  if (entries.length - 1 > vocMaxIndex) throw new FormatError(file, `lists ${entries.length - 1} classes; VOC holds at most ${vocMaxIndex}`);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name.toLowerCase())) throw new FormatError(file, `lists "${e.name}" twice`);
    seen.add(e.name.toLowerCase());
  }
  return { names: entries.slice(1).map((e) => e.name), colors: entries.map((e) => e.color) };
}

/** ImageSets/Segmentation/*.txt: one image stem per line (VOC's detection lists add " 1"/" -1" flags; ignored). */
export function parseImageSet(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

/** Per-pixel indices of a label PNG: palette indices or grey values as they are; RGB colours mapped back through `colors`. */
function indexImage(bytes: Uint8Array, file: string, colors: Array<[number, number, number]>, limits: FormatLimits): { width: number; height: number; data: Uint8Array } {
  const png = withFile(file, () => decodePng(bytes, limits.maxPixels));
  if (png.channels === 1 && png.bitDepth <= 8) return png;
  if (png.channels < 3) throw new FormatError(file, 'is a grey+alpha PNG; expected a palette, grey or RGB label image');
  const lookup = new Map<number, number>();
  colors.forEach(([r, g, b], i) => lookup.set((r << 16) | (g << 8) | b, i));
  lookup.set((224 << 16) | (224 << 8) | 192, vocVoid);
  const out = new Uint8Array(png.width * png.height);
  for (let i = 0; i < out.length; i++) {
    const p = i * png.channels;
    const key = (png.data[p] << 16) | (png.data[p + 1] << 8) | png.data[p + 2];
    const index = lookup.get(key);
    if (index === undefined) {
      throw new FormatError(file, `pixel (${i % png.width}, ${Math.floor(i / png.width)}) has colour ${png.data[p]},${png.data[p + 1]},${png.data[p + 2]}, which is not in the class list`);
    }
    out[i] = index;
  }
  return { width: png.width, height: png.height, data: out };
}

export interface VocImageInput {
  /** Image name (stem) the annotations belong to. */
  image: string;
  objectPng?: { file: string; bytes: Uint8Array };
  classPng?: { file: string; bytes: Uint8Array };
}

/**
 * Objects of one image. With an object PNG: one object per index, its class the most common class index under it
 * (void and background ignored). With only a class PNG: one object per class present (semantic labels).
 */
export function parseVocImage(input: VocImageInput, classes: VocClassList, limits: FormatLimits = defaultLimits): { width: number; height: number; annotations: ParsedAnnotation[]; warnings: string[] } {
  const warnings: string[] = [];
  const objectImage = input.objectPng && indexImage(input.objectPng.bytes, input.objectPng.file, Array.from({ length: 256 }, (_, i) => [...colormap.subarray(i * 3, i * 3 + 3)] as [number, number, number]), limits);
  const classImage = input.classPng && indexImage(input.classPng.bytes, input.classPng.file, classes.colors, limits);
  const first = objectImage ?? classImage;
  if (!first) throw new FormatError(input.image, 'has neither a SegmentationObject nor a SegmentationClass PNG');
  const { width, height } = first;
  if (objectImage && classImage && (classImage.width !== width || classImage.height !== height)) {
    throw new FormatError(input.classPng!.file, `is ${classImage.width}x${classImage.height} but ${input.objectPng!.file} is ${width}x${height}`);
  }
  const source = (input.objectPng ?? input.classPng)!.file;
  const className = (index: number, file: string): string => {
    const name = classes.names[index - 1];
    if (!name) throw new FormatError(file, `uses class index ${index}, but the class list has only ${classes.names.length} classes`);
    return name;
  };
  const labels = (objectImage ?? classImage)!.data;
  const { runs, votes } = runsByIndex(labels, width, height, objectImage && classImage ? classImage.data : null);
  const annotations: ParsedAnnotation[] = [];
  for (let index = 1; index < vocVoid; index++) {
    const counts = runs[index];
    if (!counts) continue;
    let name: string | null;
    if (objectImage) {
      name = classImage ? majorityClass(votes!.subarray(index * 256, index * 256 + 256), (k) => className(k, input.classPng!.file)) : null;
      if (name === null) warnings.push(`${source}: object ${index} has no class under it; imported without a class`);
    } else {
      name = className(index, source);
    }
    annotations.push({ image: input.image, className: name, rle: { size: [height, width], counts: encodeCounts(counts) }, order: annotations.length, score: null, source });
  }
  if (!objectImage) warnings.push(`${source}: no SegmentationObject PNG; each class became one object`);
  return { width, height, annotations, warnings };
}

/**
 * COCO run lengths of every label value in one column-major pass, without a full mask per object (an image can
 * hold 254 of them); with `classes`, also a 256 x 256 table of class votes under each object index.
 */
function runsByIndex(labels: Uint8Array, width: number, height: number, classes: Uint8Array | null): { runs: Array<number[] | undefined>; votes: Uint32Array | null } {
  const runs: Array<number[] | undefined> = new Array(256);
  const ends = new Float64Array(256); // column-major position just after each index's last run
  const votes = classes ? new Uint32Array(256 * 256) : null;
  let position = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++, position++) {
      const i = y * width + x, v = labels[i];
      if (v === 0 || v === vocVoid) continue;
      if (votes) votes[v * 256 + classes![i]]++;
      let counts = runs[v];
      if (!counts) runs[v] = counts = [];
      if (counts.length && ends[v] === position) counts[counts.length - 1]++;
      else counts.push(position - ends[v], 1);
      ends[v] = position + 1;
    }
  }
  for (let v = 0; v < 256; v++) runs[v]?.push(width * height - ends[v]);
  return { runs, votes };
}

function majorityClass(votes: Uint32Array, name: (index: number) => string): string | null {
  let best = 0;
  for (let k = 1; k < vocVoid; k++) if (votes[k] > votes[best] || (best === 0 && votes[k] > 0)) best = k;
  return best === 0 ? null : name(best);
}
