/**
 * Fuzz: hundreds of seeded mutations of valid exported files (truncation, byte flips, insertions, deleted keys,
 * type swaps, PNG data damage with valid CRCs) fed to every importer and to openBundle. Each run must either
 * succeed or fail with a FormatError that names a file, within 5 s — and a failed run must leave the project's
 * rows (or the bundle's target folder) exactly as before. The resource bombs, with memory bounds, are in
 * ./bombs.test.ts. A failing case prints its seed so it can be replayed;
 * FUZZ_VERBOSE=1 prints every rejection message (useful to see what the mutations reach).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../core/formats/errors';
import type { FormatId } from '../../core/formats/types';
import type { Project } from '../../db/project';
import { exportBundle, exportDataset, importDataset, openBundle } from '../../electron/formats/index';
import { addImageTo, createProject, populate, rowCounts, tempDir } from './fixture';
import { prng } from './masks';

const casesPerFormat = 100;
let work: ReturnType<typeof tempDir>;
let source: Project;

beforeAll(async () => {
  work = tempDir('pixelwise-fuzz-');
  source = createProject(join(work.dir, 'source'));
  await populate(source, join(work.dir, 'source', 'images'), { unclassified: true });
});

afterAll(() => {
  source?.close();
  work?.cleanup();
});

type Random = () => number;
const pick = <T>(random: Random, items: T[]): T => items[Math.floor(random() * items.length)];

function byteMutation(bytes: Uint8Array, random: Random): Uint8Array {
  const out = Buffer.from(bytes);
  const at = Math.floor(random() * Math.max(1, out.length));
  switch (Math.floor(random() * 4)) {
    case 0: return out.subarray(0, at); // truncation
    case 1: { for (let k = 0; k < 1 + random() * 8; k++) out[Math.floor(random() * out.length)] ^= 1 << Math.floor(random() * 8); return out; }
    case 2: return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256))), out.subarray(at)]);
    default: return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + Math.floor(random() * 64)))]);
  }
}

const weird: unknown[] = [null, true, -1, 0, 1e300, 2 ** 31, 1.5, 12000, '', 'x', '../../x', [], {}, [[]], [1, 2], { size: [1, 1], counts: 'a' }];

/** Deletes a key, swaps a value's type or duplicates an array element somewhere in the JSON tree. */
function jsonMutation(text: string, random: Random): string {
  const root = JSON.parse(text);
  const containers: Array<Record<string, unknown> | unknown[]> = [];
  const walk = (node: unknown) => {
    if (node && typeof node === 'object') {
      containers.push(node as Record<string, unknown>);
      for (const value of Object.values(node)) walk(value);
    }
  };
  walk(root);
  const holder = pick(random, containers);
  const keys = Object.keys(holder);
  if (!keys.length) return JSON.stringify(root);
  const key = pick(random, keys) as never;
  const action = Math.floor(random() * 3);
  if (action === 0 && !Array.isArray(holder)) delete (holder as Record<string, unknown>)[key];
  else if (action === 1 && Array.isArray(holder)) holder.push(structuredClone(holder[key]));
  else (holder as Record<string, unknown>)[key] = structuredClone(pick(random, weird));
  return JSON.stringify(root);
}

/** Damages PNG image data but keeps chunk CRCs valid, so inflate and unfilter see the damage. */
function pngMutation(bytes: Uint8Array, random: Random): Uint8Array {
  const out = Buffer.from(bytes);
  let offset = 8;
  while (offset + 8 < out.length) {
    const length = out.readUInt32BE(offset);
    if (out.toString('latin1', offset + 4, offset + 8) === 'IDAT' && length > 2) {
      for (let k = 0; k < 1 + random() * 4; k++) out[offset + 8 + 2 + Math.floor(random() * (length - 2))] ^= 1 << Math.floor(random() * 8);
      let c = 0xffffffff;
      for (let i = offset + 4; i < offset + 8 + length; i++) {
        c ^= out[i];
        for (let b = 0; b < 8; b++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      out.writeUInt32BE((c ^ 0xffffffff) >>> 0, offset + 8 + length);
      return out;
    }
    offset += 12 + length;
  }
  return out;
}

function textMutation(text: string, random: Random): string {
  const lines = text.split('\n');
  const at = Math.floor(random() * lines.length);
  const tokens = lines[at].split(' ');
  tokens[Math.floor(random() * tokens.length)] = String(pick(random, ['', '-', 'nan', '1e9', '0.5', '999', '[', ':', '"', '#', '  - x', '0: a']));
  lines[at] = tokens.join(' ');
  if (random() < 0.3) lines.splice(Math.floor(random() * lines.length), 0, lines[at]);
  return lines.join('\n');
}

function mutate(file: string, bytes: Uint8Array, random: Random): Uint8Array {
  const roll = random();
  if (roll < 0.4) return byteMutation(bytes, random);
  const text = Buffer.from(bytes).toString('utf8');
  if (file.endsWith('.json')) return Buffer.from(jsonMutation(text, random));
  if (file.endsWith('.png')) return pngMutation(bytes, random);
  return Buffer.from(textMutation(text, random));
}

const targets: Record<Exclude<FormatId, 'bundle'>, { files: string[]; path: string }> = {
  coco: { files: ['annotations.json'], path: 'annotations.json' },
  labelme: { files: ['street.json', 'field.json'], path: '.' },
  yolo: { files: ['data.yaml', 'labels/train/street.txt', 'labels/train/tall.txt'], path: 'data.yaml' },
  voc: { files: ['labelmap.txt', 'SegmentationObject/street.png', 'SegmentationClass/field.png', 'ImageSets/Segmentation/trainval.txt'], path: '.' },
};

describe('importers under fuzzing', () => {
  it.each(Object.keys(targets) as Array<keyof typeof targets>)('%s: only FormatErrors, never a partial write', async (format) => {
    const dir = join(work.dir, `valid-${format}`);
    await exportDataset(source, format, dir, format === 'coco' ? { segmentation: 'polygon' } : {});
    const project = createProject(join(work.dir, `fuzz-${format}`));
    const problems: string[] = [];
    let failures = 0;
    try {
      for (let seed = 1; seed <= casesPerFormat; seed++) {
        const random = prng(seed * 7919 + format.length);
        const file = pick(random, targets[format].files);
        const original = readFileSync(join(dir, file));
        writeFileSync(join(dir, file), mutate(file, original, random));
        const before = rowCounts(project);
        const started = performance.now();
        try {
          await importDataset(project, format, join(dir, targets[format].path), seed % 2 ? { replace: true } : { addImage: addImageTo(project), replace: true });
        } catch (error) {
          failures++;
          if (process.env.FUZZ_VERBOSE) console.log(format, seed, file, (error as Error).message.slice(0, 150));
          if (!(error instanceof FormatError) || !error.file) problems.push(`seed ${seed} (${file}): ${(error as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
          else if (JSON.stringify(rowCounts(project)) !== JSON.stringify(before)) problems.push(`seed ${seed} (${file}): rows changed after "${error.message}"`);
        } finally {
          writeFileSync(join(dir, file), original);
        }
        // Each case reads a dataset of a few KB: a mutation that makes it take seconds is a resource bomb.
        const seconds = (performance.now() - started) / 1000;
        if (seconds > 5) problems.push(`seed ${seed} (${file}): took ${seconds.toFixed(1)} s`);
      }
    } finally {
      project.close();
    }
    expect(problems).toEqual([]);
    expect(failures).toBeGreaterThan(casesPerFormat / 4); // the mutations do break things
  });

  it('bundle: only FormatErrors and nothing left behind', async () => {
    const zip = join(work.dir, 'valid.zip');
    await exportBundle(source, zip, { images: false });
    const original = readFileSync(zip);
    const problems: string[] = [];
    let failures = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const random = prng(seed);
      const broken = join(work.dir, `broken-${seed}.zip`);
      writeFileSync(broken, byteMutation(original, random));
      const out = join(work.dir, `opened-${seed}`);
      try {
        await openBundle(broken, out);
      } catch (error) {
        failures++;
        if (process.env.FUZZ_VERBOSE) console.log('bundle', seed, (error as Error).message.slice(0, 150));
        if (!(error instanceof FormatError) || !error.file) problems.push(`seed ${seed}: ${(error as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
        else if (existsSync(out)) problems.push(`seed ${seed}: ${out} left behind after "${error.message}"`);
      }
    }
    expect(problems).toEqual([]);
    expect(failures).toBeGreaterThan(15);
  });
});
