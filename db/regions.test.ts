import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quantize } from '../core/embedding';
import type { ModelManifest } from '../core/manifest';
import { computeRegions } from '../core/search/regions';
import { randomUnit, seededRandom, syntheticMap } from '../core/search/synthetic';
import { Project } from './project';
import { regionRepository } from './regions';

describe('region repository', () => {
  let dir: string, project: Project;
  const random = seededRandom(5);
  const map = syntheticMap({
    width: 40, height: 30, dim: 8, background: [randomUnit(8, random), randomUnit(8, random)], random,
    objects: [{ vector: randomUnit(8, random), x: 10, y: 8, width: 12, height: 10 }],
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pixelwise-regions-'));
    project = new Project(join(dir, 'p.pixelwise'), { create: true });
    project.embeddings.registerModel({ id: 'm', sha256: 'c'.repeat(64) } as unknown as ModelManifest);
  });
  afterEach(() => {
    project.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const addImage = (name: string) => project.images.add({ path: name, hash: name, width: 160, height: 120, byteSize: 1, format: 'png', thumbnail: new Uint8Array(0) });

  it('round-trips a region tree and tracks what is missing', () => {
    const regions = regionRepository(project.db);
    const imageId = addImage('a.png');
    const set = computeRegions(map);
    expect(() => regions.put(imageId, 'm', set)).toThrow(/FOREIGN KEY/);
    project.embeddings.put(imageId, 'm', quantize(map));
    expect(regions.missing('m')).toEqual([imageId]);
    const before = regions.signature('m');
    regions.put(imageId, 'm', set);
    expect(regions.signature('m')).not.toBe(before);
    expect(regions.missing('m')).toEqual([]);
    const loaded = regions.get(imageId, 'm')!;
    expect(loaded).toEqual(set);
    expect(regions.page('m', 0, 10).map((row) => [row.image_id, row.region_count, row.dim])).toEqual([[imageId, set.parents.length, 8]]);
    expect(regions.page('m', imageId, 10)).toEqual([]);
  });

  it('drops regions with their image and refuses inconsistent sets', () => {
    const regions = regionRepository(project.db);
    const imageId = addImage('b.png');
    project.embeddings.put(imageId, 'm', quantize(map));
    const set = computeRegions(map);
    expect(() => regions.put(imageId, 'm', { ...set, vectors: set.vectors.subarray(8) })).toThrow(/inconsistent/);
    regions.put(imageId, 'm', set);
    project.images.remove([imageId]);
    expect(regions.get(imageId, 'm')).toBeUndefined();
    expect(regions.signature('m')).toBe('0:0');
  });
});
