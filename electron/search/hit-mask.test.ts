import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingMap, quantize } from '../../core/embedding';
import type { ModelManifest } from '../../core/manifest';
import { type Mask, maskIou } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import { type PlantedObject, nearby, objectMask, randomUnit, seededRandom, syntheticMap } from '../../core/search/synthetic';
import { Project } from '../../db/project';
import { indexImage } from './indexer';
import { createSearchService } from './service';

const modelId = 'test-model';
const dim = 16;
const random = seededRandom(4242);
const Q = randomUnit(dim, random);

const manifest = {
  id: modelId, name: 'test', version: '1', kind: 'non-learned', description: '', license: 'MIT', file: 'model.onnx',
  sha256: 'a'.repeat(64), input: { name: 'image', longSide: 256, multipleOf: 4, mean: [0, 0, 0], std: [1, 1, 1] },
  output: { name: 'embedding', stride: 4, dim, normalized: true },
} as unknown as ModelManifest;

/**
 * Image 0: the query object. Images 1-4: the same object, with a lookalike region right beside it (cosine 0.8
 * to the object: a shadow, a reflection, a neighbour of the same colour). The dense match's region (a threshold
 * on the similarity to the query) takes both; the engine, seeded at the hit, stops at the edge between them.
 * Images 5-9: distractors only.
 */
function plantedFor(image: number): { object: PlantedObject | null; all: PlantedObject[] } {
  const all: PlantedObject[] = [{ vector: randomUnit(dim, random), x: 52, y: 36, width: 8, height: 8 }];
  if (image >= 5) return { object: null, all };
  const x = 8 + image * 3, y = 10 + image;
  const object = { vector: image === 0 ? Q : nearby(Q, 0.97, random), x, y, width: 16, height: 18 };
  all.push(object);
  if (image > 0) all.push({ vector: nearby(Q, 0.8, random), x: x + 16, y: y - 4, width: 14, height: 26 });
  return { object, all };
}

let dir: string, project: Project;
const ids: number[] = [];
const maps: EmbeddingMap[] = [];
const objects: Array<PlantedObject | null> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pixelwise-hitmask-'));
  project = new Project(join(dir, 'test.pixelwise'), { create: true });
  project.embeddings.registerModel(manifest);
  for (let i = 0; i < 10; i++) {
    const { object, all } = plantedFor(i);
    const map = syntheticMap({ width: 64, height: 48, dim, background: [randomUnit(dim, random), randomUnit(dim, random)], objects: all, random });
    const imageId = project.images.add({ path: `img${i}.png`, hash: `h${i}`, width: 256, height: 192, byteSize: 1, format: 'png', thumbnail: new Uint8Array(0) });
    project.embeddings.put(imageId, modelId, quantize(map));
    indexImage(project, imageId, modelId, map);
    ids.push(imageId);
    maps.push(map);
    objects.push(object);
  }
});

afterAll(() => {
  project.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hit masks from the click engine', () => {
  const query = () => ({ examples: [{ imageId: ids[0], rle: encodeRle(objectMask(maps[0], objects[0]!)) }], limit: 9, rerank: 9, excludeExampleImages: true });

  it('outlines the planted object where the region also takes its lookalike neighbour', async () => {
    const engine = createSearchService(project, { defaultModelId: modelId });
    const regions = createSearchService(project, { defaultModelId: modelId, hitMask: { seeds: 0 } });
    const byEngine = engine.search.query(query()), byRegion = regions.search.query(query());
    const top = byEngine.hits.slice(0, 4).map((hit) => ids.indexOf(hit.imageId)).sort();
    expect(top).toEqual([1, 2, 3, 4]);
    for (const index of top) {
      const truth = objectMask(maps[index], objects[index]!);
      const mask = async (service: typeof engine, sessionId: string): Promise<Mask> =>
        decodeRle((await service.search.hitMask({ sessionId, imageId: ids[index] })).rle);
      const engineIou = maskIou(await mask(engine, byEngine.sessionId), truth);
      const regionIou = maskIou(await mask(regions, byRegion.sessionId), truth);
      // Known answer: the object alone. The region is object + neighbour (IoU about 0.4-0.5).
      expect(engineIou, `image ${index}: engine`).toBeGreaterThan(0.85);
      expect(regionIou, `image ${index}: region`).toBeLessThan(0.7);
    }
  });

  it('writes the bits it showed: preview, accept and a second preview agree', async () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const result = service.search.query(query());
    const imageIds = result.hits.slice(0, 4).map((hit) => hit.imageId);
    const preview = () => Promise.all(imageIds.map(async (imageId) => (await service.search.hitMask({ sessionId: result.sessionId, imageId })).rle));
    const before = await preview();
    // Judging moves the query: the judged hits keep their masks (the others follow the moved query's regions).
    service.search.feedback({ sessionId: result.sessionId, accepted: imageIds.slice(0, 2), rejected: [ids[7]] });
    const shown = await preview();
    expect(shown.slice(0, 2)).toEqual(before.slice(0, 2));
    const written = await service.search.accept({ sessionId: result.sessionId, classId: null, imageIds });
    expect(written.imageIds).toEqual(imageIds);
    expect(written.annotationIds.map((annotationId) => project.annotations.get(annotationId)!.rle)).toEqual(shown);
    expect(await preview()).toEqual(shown);
    project.transaction(() => project.annotations.remove(written.annotationIds));
  });
});
