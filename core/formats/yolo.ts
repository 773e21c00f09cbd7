/**
 * YOLO segmentation (Ultralytics): per image a .txt with one object per line, `class x1 y1 x2 y2 ...`, class
 * 0-based into data.yaml `names`, coordinates normalised to 0..1 by the image width and height (pixel-edge
 * convention, see core/polygon). A line is one simple polygon, so holes cannot be stored: each outer ring of an
 * object is written as its own line, holes are filled, and on import each line becomes its own object.
 */
import { decodeRle } from '../rle';
import { OutlineBudget, maskToPolygons, ringToRle } from '../polygon';
import type { Rle } from '../rle';
import { ringFromFile, ringToFile } from './coords';
import { type FormatLimits, FormatError, defaultLimits, withFile } from './errors';
import type { ParsedAnnotation } from './types';

export interface YoloObject {
  rle: Rle;
  /** 0-based index into data.yaml names. */
  classIndex: number;
}

/** Label text for one image, and how many objects lost holes or were split into several lines. */
export function writeYoloLabels(width: number, height: number, objects: YoloObject[], tolerance = 0.5): { text: string; holesFilled: number; split: number } {
  const lines: string[] = [];
  let holesFilled = 0, split = 0;
  const format = (v: number, size: number) => String(Math.round((v / size) * 1e6) / 1e6);
  for (const object of objects) {
    const polygons = maskToPolygons(decodeRle(object.rle), { tolerance });
    if (polygons.some((p) => p.holes.length)) holesFilled++;
    if (polygons.length > 1) split++;
    for (const { outer } of polygons) {
      const ring = ringToFile(outer);
      const coords: string[] = [];
      for (let i = 0; i < ring.length; i += 2) coords.push(format(ring[i], width), format(ring[i + 1], height));
      lines.push(`${object.classIndex} ${coords.join(' ')}`);
    }
  }
  return { text: lines.length ? lines.join('\n') + '\n' : '', holesFilled, split };
}

/** data.yaml as Ultralytics reads it; names written as a 0-based map, quoted (JSON strings are valid YAML). */
export function writeYoloDataYaml(names: string[], train: string, val = train): string {
  return [
    '# Exported by Pixelwise Studio. YOLO segmentation: holes are filled, several-part objects are one line per part.',
    'path: .',
    `train: ${train}`,
    `val: ${val}`,
    `nc: ${names.length}`,
    'names:',
    ...names.map((name, i) => `  ${i}: ${JSON.stringify(name)}`),
    '',
  ].join('\n');
}

export interface YoloDataYaml {
  names: string[];
  path?: string;
  train?: string[];
  val?: string[];
}

/**
 * The subset of YAML data.yaml files use: top-level `key: value`, comments, quoted scalars, `names` as a flow
 * list, a block list or a block map of index -> name, and `train`/`val` as a string or a list of strings.
 */
export function parseYoloDataYaml(text: string, file: string): YoloDataYaml {
  const values = new Map<string, string | string[] | Map<string, string>>();
  let current: string | null = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = stripComment(raw);
    if (!line.trim()) return;
    const fail = (problem: string): never => { throw new FormatError(file, `line ${index + 1}: ${problem}`); };
    if (/^\S/.test(line)) {
      const match = /^([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
      if (!match) fail(`expected "key: value", got "${line.slice(0, 60)}"`);
      const [, key, rest] = match!;
      current = rest.trim() ? null : key;
      values.set(key, rest.trim().startsWith('[') ? flowList(rest.trim(), fail) : rest.trim() ? scalar(rest.trim()) : new Map());
      return;
    }
    if (current === null) fail('indented line without a key above it');
    const holder = values.get(current!);
    const item = line.trim();
    if (item.startsWith('- ') || item === '-') {
      if (holder instanceof Map && holder.size) fail('mixes a list and a map');
      const list = Array.isArray(holder) ? holder : [];
      list.push(scalar(item.slice(1).trim()));
      values.set(current!, list);
    } else {
      const match = /^("[^"]*"|'[^']*'|[^:]+?)\s*:\s*(.+)$/.exec(item);
      if (!match || !(holder instanceof Map)) fail(`expected "- name" or "index: name", got "${item.slice(0, 60)}"`);
      (holder as Map<string, string>).set(scalar(match![1]), scalar(match![2].trim()));
    }
  });
  const names = values.get('names');
  if (names === undefined) throw new FormatError(file, 'has no "names" list');
  let list: string[];
  if (Array.isArray(names)) list = names;
  else if (names instanceof Map) {
    const keys = [...names.keys()].map(Number);
    if (keys.some((k) => !Number.isInteger(k) || k < 0) || new Set(keys).size !== keys.length) {
      throw new FormatError(file, '"names" keys must be class indices 0, 1, 2, ...');
    }
    list = [];
    for (const [key, name] of names) list[Number(key)] = name;
    if (list.length !== names.size) throw new FormatError(file, `"names" skips an index (has ${names.size} names, highest index ${list.length - 1})`);
  } else throw new FormatError(file, '"names" must be a list or a map of index: name');
  if (!list.length || list.some((n) => !n)) throw new FormatError(file, '"names" must hold non-empty class names');
  const lower = list.map((n) => n.toLowerCase());
  const duplicate = lower.find((n, i) => lower.indexOf(n) !== i);
  if (duplicate) throw new FormatError(file, `"names" lists "${duplicate}" twice`);
  const asList = (v: unknown) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined);
  const path = values.get('path');
  return { names: list, path: typeof path === 'string' ? path : undefined, train: asList(values.get('train')), val: asList(values.get('val')) };
}

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = null; } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

function scalar(text: string): string {
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    try { return JSON.parse(text) as string; } catch { return text.slice(1, -1); }
  }
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1).replace(/''/g, "'");
  return text;
}

function flowList(text: string, fail: (problem: string) => never): string[] {
  if (!text.endsWith(']')) fail('a [ list must end with ] on the same line');
  const items: string[] = [];
  let current = '', quote: string | null = null;
  for (const c of text.slice(1, -1)) {
    if (quote) { current += c; if (c === quote) quote = null; } else if (c === '"' || c === "'") { quote = c; current += c; } else if (c === ',') { items.push(current.trim()); current = ''; } else current += c;
  }
  if (current.trim()) items.push(current.trim());
  return items.map(scalar);
}

/** One label file: each line one object (a 4-number line is a detection box and becomes a box mask). */
export function parseYoloLabels(text: string, file: string, image: string, width: number, height: number, names: string[], limits: FormatLimits = defaultLimits): { annotations: ParsedAnnotation[]; warnings: string[] } {
  const annotations: ParsedAnnotation[] = [];
  const budget = new OutlineBudget(limits.maxOutline);
  let boxes = 0;
  text.split(/\r?\n/).forEach((line, index) => {
    const tokens = line.trim().split(/\s+/).filter(Boolean);
    if (!tokens.length) return;
    const fail = (problem: string): never => { throw new FormatError(file, `line ${index + 1}: ${problem}`); };
    const classIndex = Number(tokens[0]);
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= names.length) {
      fail(`class "${tokens[0]}" is not an index into data.yaml names (0..${names.length - 1})`);
    }
    const values = tokens.slice(1).map(Number);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`value ${bad + 2} ("${tokens[bad + 1].slice(0, 20)}") is not a number`);
    if (values.some((v) => v < -1e-6 || v > 1 + 1e-6)) fail('has a coordinate outside 0..1 (YOLO coordinates are normalised)');
    let pixels: number[];
    const scale = (ring: number[]) => ring.map((v, i) => v * (i % 2 ? height : width));
    if (values.length === 4) {
      // Boxes are edge-to-edge (a box of width 1 covers one pixel), so no centre shift.
      const [cx, cy, w, h] = values;
      pixels = scale([cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx - w / 2, cy + h / 2]);
      boxes++;
    } else if (values.length >= 6 && values.length % 2 === 0) {
      pixels = ringFromFile(scale(values));
    } else {
      fail(`expected "class x1 y1 x2 y2 x3 y3 ..." (at least 3 points), got ${values.length} numbers`);
    }
    annotations.push({ image, className: names[classIndex], rle: withFile(file, () => ringToRle(pixels!, width, height, budget)), order: annotations.length, score: null, source: file });
  });
  return { annotations, warnings: boxes ? [`${file}: ${boxes} detection box line(s) were imported as box masks`] : [] };
}
