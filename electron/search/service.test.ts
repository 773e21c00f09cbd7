import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddingMap, quantize } from '../../core/embedding';
import type { ModelManifest } from '../../core/manifest';
import type { SearchHit } from '../../core/api/search-contract';
import { maskIou } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import { type PlantedObject, nearby, objectMask, randomUnit, seededRandom, syntheticMap } from '../../core/search/synthetic';
import { Project } from '../../db/project';
import { indexImage, regionsOf, reindexMissing } from './indexer';
import { createSearchService } from './service';

const modelId = 'test-model';
const dim = 16;
const random = seededRandom(2024);
const X = randomUnit(dim, random), A = randomUnit(dim, random);
// B orthogonal to A, so the query between them is clearly closer to A until feedback says otherwise.
const B = (() => {
  const b = randomUnit(dim, random);
  const d = b.reduce((sum, value, k) => sum + value * A[k], 0);
  const out = b.map((value, k) => value - d * A[k]);
  return out.map((value) => value / Math.hypot(...out));
})();
const Q = A.map((value, k) => 0.6 * value + 0.4 * B[k]).map((value, _, all) => value / Math.hypot(...all));

const box = (image: number, size = 12): Omit<PlantedObject, 'vector'> => ({ x: 4 + ((image * 7) % 40), y: 4 + ((image * 5) % 24), width: size + 2, height: size });

/** Image i: 0-7 hold X, 8-13 A, 14-19 B, 20 holds X and Q (the query image), 21-39 only unique distractors. */
function plantedFor(image: number): PlantedObject[] {
  const objects: PlantedObject[] = [{ vector: randomUnit(dim, random), x: 50, y: 34, width: 10, height: 10 }];
  if (image < 8) objects.push({ vector: nearby(X, 0.97, random), ...box(image) });
  else if (image < 14) objects.push({ vector: nearby(A, 0.97, random), ...box(image) });
  else if (image < 20) objects.push({ vector: nearby(B, 0.97, random), ...box(image) });
  else if (image === 20) objects.push({ vector: X, x: 4, y: 4, width: 14, height: 12 }, { vector: Q, x: 26, y: 20, width: 14, height: 12 });
  return objects;
}

function makeMap(objects: PlantedObject[]): EmbeddingMap {
  return syntheticMap({ width: 64, height: 48, dim, background: [randomUnit(dim, random), randomUnit(dim, random)], objects, random });
}

const manifest = {
  id: modelId, name: 'test', version: '1', kind: 'non-learned', description: '', license: 'MIT', file: 'model.onnx',
  sha256: 'a'.repeat(64), input: { name: 'image', longSide: 256, multipleOf: 4, mean: [0, 0, 0], std: [1, 1, 1] },
  output: { name: 'embedding', stride: 4, dim, normalized: true },
} as unknown as ModelManifest;

let dir: string, project: Project;
const ids: number[] = [];
const objects: PlantedObject[][] = [];
const maps: EmbeddingMap[] = [];

function addImage(index: number, planted: PlantedObject[], indexNow = true): number {
  const map = makeMap(planted);
  const imageId = project.images.add({ path: `img${index}.png`, hash: `h${index}`, width: 256, height: 192, byteSize: 1, format: 'png', thumbnail: new Uint8Array(0) });
  project.embeddings.put(imageId, modelId, quantize(map));
  if (indexNow) indexImage(project, imageId, modelId, map);
  objects[index] = planted;
  maps[index] = map;
  return imageId;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pixelwise-search-'));
  project = new Project(join(dir, 'test.pixelwise'), { create: true });
  project.embeddings.registerModel(manifest);
  for (let i = 0; i < 40; i++) ids.push(addImage(i, plantedFor(i)));
});

afterAll(() => {
  project.close();
  rmSync(dir, { recursive: true, force: true });
});

const exampleOn = (index: number, object: number) => ({ imageId: ids[index], rle: encodeRle(objectMask(maps[index], objects[index][object])) });

describe('search service', () => {
  it('ranks the images holding the planted object first and localises it', () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const result = service.search.query({ examples: [exampleOn(20, 1)], limit: 20, rerank: 30, excludeExampleImages: true });
    expect(result.stats.images).toBe(40);
    const top = result.hits.slice(0, 8).map((hit) => ids.indexOf(hit.imageId)).sort((a, b) => a - b);
    expect(top).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const hit of result.hits.slice(0, 8)) {
      const index = ids.indexOf(hit.imageId);
      const truth = objects[index][1];
      const [x, y] = hit.peak;
      expect(x / 4).toBeGreaterThanOrEqual(truth.x - 1);
      expect(x / 4).toBeLessThanOrEqual(truth.x + truth.width + 1);
      expect(y / 4).toBeGreaterThanOrEqual(truth.y - 1);
      expect(y / 4).toBeLessThanOrEqual(truth.y + truth.height + 1);
    }
    expect(result.hits[0].score).toBeGreaterThan(0.9);
    expect(result.hits[8].score).toBeLessThan(result.hits[7].score);
  });

  it('moves the ranking with accept / reject feedback', () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const first = service.search.query({ examples: [exampleOn(20, 2)], limit: 12, rerank: 30, excludeExampleImages: true });
    const group = (hits: typeof first.hits) => hits.slice(0, 6).map((hit) => ids.indexOf(hit.imageId)).sort((a, b) => a - b);
    expect(group(first.hits)).toEqual([8, 9, 10, 11, 12, 13]);
    const second = service.search.feedback({ sessionId: first.sessionId, accepted: [ids[14]], rejected: [ids[8]] });
    expect(group(second.hits)).toEqual([14, 15, 16, 17, 18, 19]);
    expect(second.hits.find((hit) => hit.imageId === ids[14])?.judgement).toBe('accepted');
  });

  it('finds more of a class from its annotations (both of its looks) and remembers the class\'s rejections', () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const classId = project.classes.create('a-or-b').id;
    const annotationIds = project.transaction(() => [8, 14].map((index) => project.annotations.add(ids[index], {
      classId, rle: encodeRle(objectMask(maps[index], objects[index][1])),
    })));
    try {
      const indices = (hits: SearchHit[], count: number) => hits.slice(0, count).map((hit) => ids.indexOf(hit.imageId)).sort((a, b) => a - b);
      // One example of the A look finds the A images; the class (one A and one B annotated) finds both looks.
      const one = service.search.query({ examples: [{ annotationId: annotationIds[0] }], limit: 12, rerank: 30, excludeExampleImages: true });
      expect(indices(one.hits, 5)).toEqual([9, 10, 11, 12, 13]);
      const byClass = service.search.query({ classId, limit: 12, rerank: 30, excludeExampleImages: true });
      // (Image 20's Q object lies between the two looks: it may rank among them.)
      expect(indices(byClass.hits, 11)).toEqual(expect.arrayContaining([9, 10, 11, 12, 13, 15, 16, 17, 18, 19]));
      // A rejection in a class search holds for the class's next search.
      const rejected = byClass.hits[10].imageId;
      service.search.feedback({ sessionId: byClass.sessionId, rejected: [rejected], accepted: [] });
      const again = service.search.query({ classId, limit: 40, rerank: 40, excludeExampleImages: true });
      expect(again.hits.find((hit) => hit.imageId === rejected)?.judgement).toBe('rejected');
      expect(() => service.search.query({ classId: 999, limit: 5, rerank: 5, excludeExampleImages: false })).toThrow(/no class with id 999/);
    } finally {
      project.transaction(() => project.annotations.remove(annotationIds));
    }
  });

  it('leaves rejected hits out of "every hit above the threshold"', async () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const result = service.search.query({ examples: [exampleOn(20, 1)], limit: 20, rerank: 30, excludeExampleImages: true });
    const rejected = result.hits[0].imageId;
    const after = service.search.feedback({ sessionId: result.sessionId, accepted: [], rejected: [rejected] });
    expect(after.hits.find((hit) => hit.imageId === rejected)?.judgement).toBe('rejected');
    const accepted = await service.search.accept({ sessionId: result.sessionId, classId: null, minScore: -1 });
    expect(accepted.imageIds).toHaveLength(after.hits.length - 1);
    expect(accepted.imageIds).not.toContain(rejected);
    project.transaction(() => project.annotations.remove(accepted.annotationIds));
  });

  it('accepts hits above a threshold as one undoable batch of annotations', async () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const classId = project.classes.create('thing').id;
    const result = service.search.query({ examples: [exampleOn(20, 1)], limit: 20, rerank: 30, excludeExampleImages: true });
    const threshold = (result.hits[7].score + result.hits[8].score) / 2;
    const accepted = await service.search.accept({ sessionId: result.sessionId, classId, minScore: threshold });
    expect(accepted.annotationIds).toHaveLength(8);
    for (const [i, annotationId] of accepted.annotationIds.entries()) {
      const annotation = project.annotations.get(annotationId)!;
      const index = ids.indexOf(accepted.imageIds[i]);
      expect(annotation).toMatchObject({ classId, source: 'search', imageId: accepted.imageIds[i] });
      expect(maskIou(decodeRle(annotation.rle), objectMask(maps[index], objects[index][1]))).toBeGreaterThan(0.5);
    }
    expect(project.images.get(accepted.imageIds[0])?.status).toBe('annotated');
    project.transaction(() => project.annotations.remove(accepted.annotationIds));
    expect(accepted.annotationIds.every((id) => project.annotations.get(id) === undefined)).toBe(true);
  });

  it('writes exactly the mask each hit showed when it was judged, after the query has moved', async () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    // Every image is a hit (limit 40), so each judged image is on the page before and after each round.
    const first = service.search.query({ examples: [exampleOn(20, 1)], limit: 40, rerank: 40, excludeExampleImages: true });
    // What the page got for a hit: its region's grid, and the mask the editor previews (search.hitMask).
    const preview = async (imageId: number) => (await service.search.hitMask({ sessionId: first.sessionId, imageId })).rle;
    const shown = new Map<number, { grid: SearchHit['grid']; rle: Awaited<ReturnType<typeof preview>> }>();
    const rounds: Array<{ accepted: number[]; rejected: number[] }> = [
      { accepted: [ids[0]], rejected: [] }, { accepted: [ids[14]], rejected: [ids[2]] },
      { accepted: [ids[8], ids[15]], rejected: [ids[3]] }, { accepted: [ids[16]], rejected: [ids[1], ids[9]] },
    ];
    let result = first;
    for (const round of rounds) {
      for (const imageId of round.accepted) shown.set(imageId, { grid: result.hits.find((hit) => hit.imageId === imageId)!.grid, rle: await preview(imageId) });
      result = service.search.feedback({ sessionId: first.sessionId, ...round });
      // A judged hit keeps the region and mask it had when judged, whatever the moved query matches on its image now.
      for (const [imageId, judged] of shown) {
        const hit = result.hits.find((item) => item.imageId === imageId);
        if (hit) expect(hit.grid).toEqual(judged.grid);
        expect(await preview(imageId)).toEqual(judged.rle);
      }
    }
    const acceptedIds = [...shown.keys()];
    const written = await service.search.accept({ sessionId: first.sessionId, classId: null, imageIds: acceptedIds });
    expect(written.imageIds).toEqual(acceptedIds);
    expect(written.alreadyLabelled).toEqual([]);
    for (const [i, imageId] of acceptedIds.entries()) {
      const annotation = project.annotations.get(written.annotationIds[i])!;
      expect(annotation.imageId).toBe(imageId);
      // Bit for bit the mask previewed when the hit was judged.
      expect(annotation.rle).toEqual(shown.get(imageId)!.rle);
    }
    // The first accept (the query's own object) is that object, not a union with others of similar vectors.
    const mask = decodeRle(project.annotations.get(written.annotationIds[0])!.rle);
    expect(maskIou(mask, objectMask(maps[0], objects[0][1]))).toBeGreaterThan(0.5);
    project.transaction(() => project.annotations.remove(written.annotationIds));
  });

  it('does not annotate an object twice: accepting a hit already labelled writes nothing and says so', async () => {
    const service = createSearchService(project, { defaultModelId: modelId });
    const result = service.search.query({ examples: [exampleOn(20, 1)], limit: 20, rerank: 30, excludeExampleImages: true });
    const [clicked, fresh] = [result.hits[0].imageId, result.hits[1].imageId];
    // The same object annotated before by clicks (its mask a little smaller than the hit's: IoU >= 0.8).
    const preview = decodeRle((await service.search.hitMask({ sessionId: result.sessionId, imageId: clicked })).rle);
    const eroded = { ...preview, data: preview.data.map((value, i) => (value && preview.data[i - 1] && preview.data[i + 1] ? 1 : 0)) };
    expect(maskIou(eroded, preview)).toBeGreaterThanOrEqual(0.8);
    const [existing] = project.transaction(() => [project.annotations.add(clicked, { classId: null, rle: encodeRle(eroded), source: 'clicks' })]);
    const written = await service.search.accept({ sessionId: result.sessionId, classId: null, imageIds: [clicked, fresh, fresh] });
    expect(written).toMatchObject({ imageIds: [fresh], alreadyLabelled: [clicked] });
    expect(project.annotations.list(clicked).map((item) => item.id)).toEqual([existing]);
    expect(project.annotations.list(fresh)).toHaveLength(1);
    // Accepting again (a second "Label accepted") adds nothing either.
    const again = await service.search.accept({ sessionId: result.sessionId, classId: null, imageIds: [fresh] });
    expect(again).toEqual({ annotationIds: [], imageIds: [], alreadyLabelled: [fresh] });
    project.transaction(() => project.annotations.remove([existing, ...written.annotationIds]));
  });

  it('sees new, re-embedded and re-indexed images; results do not depend on the cache size', async () => {
    const cached = createSearchService(project, { defaultModelId: modelId });
    const streamed = createSearchService(project, { defaultModelId: modelId, scanner: { cacheBytes: 0, chunkImages: 7 } });
    const query = { examples: [exampleOn(20, 1)], limit: 20, rerank: 30, excludeExampleImages: true };
    const before = cached.search.query(query);
    expect(streamed.search.query(query).hits.map((hit) => hit.imageId)).toEqual(before.hits.map((hit) => hit.imageId));
    expect(streamed.cachedBytes()).toBe(0);
    expect(cached.cachedBytes()).toBeGreaterThan(0);

    const added = addImage(40, [{ vector: nearby(X, 0.98, random), ...box(40) }], false);
    expect(regionsOf(project).missing(modelId)).toEqual([added]);
    expect(cached.search.query(query).hits.some((hit) => hit.imageId === added)).toBe(false);
    expect(await reindexMissing(project, modelId)).toBe(1);
    expect(cached.search.query(query).hits.slice(0, 9).map((hit) => hit.imageId)).toContain(added);

    // Re-embedding replaces the map: its stale regions go with the old row, until indexed again.
    project.embeddings.put(added, modelId, quantize(makeMap([])));
    expect(regionsOf(project).get(added, modelId)).toBeUndefined();
    indexImage(project, added, modelId, maps[40]);
    indexImage(project, added, modelId, maps[40]);
    expect(regionsOf(project).missing(modelId)).toEqual([]);
    expect(() => indexImage(project, 9999, modelId, maps[40])).toThrow(/no stored embedding/);
  });

  it.each(['region', 'dense'] as const)('discovers the frequent object and labels it everywhere (%s masks)', async (masks) => {
    const service = createSearchService(project, { defaultModelId: modelId, discovery: { masks } });
    const selection = [...ids.slice(0, 8), ...ids.slice(21, 25)];
    const result = service.discovery.run({ imageIds: selection, top: 3 });
    const best = result.clusters[0];
    const covered = best.members.filter((member) => member.covered).map((member) => ids.indexOf(member.imageId));
    expect(covered.filter((index) => index < 8).length).toBeGreaterThanOrEqual(7);
    expect(covered.filter((index) => index >= 8)).toEqual([]);
    const labelled = await service.discovery.label({ discoveryId: result.discoveryId, cluster: 0, classId: null });
    expect(labelled.annotationIds).toHaveLength(covered.length);
    for (const [i, annotationId] of labelled.annotationIds.entries()) {
      const index = ids.indexOf(labelled.imageIds[i]);
      const mask = decodeRle(project.annotations.get(annotationId)!.rle);
      expect(maskIou(mask, objectMask(maps[index], objects[index][1]))).toBeGreaterThan(0.5);
    }
    // Labelling the same group again does not annotate its objects twice.
    const again = await service.discovery.label({ discoveryId: result.discoveryId, cluster: 0, classId: null });
    expect(again).toEqual({ annotationIds: [], imageIds: [], alreadyLabelled: labelled.imageIds });
    project.transaction(() => project.annotations.remove(labelled.annotationIds));
  });
});
