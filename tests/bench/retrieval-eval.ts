/**
 * Quality of similar-object search and discovery on real data, through the real service (a project file in a
 * temp dir, embeddings from the model, regions from the indexer).
 *
 * Retrieval (COCO_MVal: one object per image, category = file-name prefix):
 *   npx tsx tests/bench/retrieval-eval.ts retrieval --dataset ../shared/data/eval/COCO_MVal --model pixelwise-colorpos \
 *       [--limit N] [--feedback '{"exemplars":8}'] [--no-masks]
 *   Query = one object's mask; relevant = other images of its category. Prints mAP@10 (mean over categories of
 *   the mean AP@10 of their queries) for stage 1 only, stage 1 + dense re-rank, and colour-histogram baselines
 *   (8x8x8 RGB in the query mask vs the whole other image, and vs the other image's true mask: an oracle that
 *   knows where the object is), with a bootstrap interval of the dense re-rank's change; then the feedback
 *   curve: P@20 after 0..3 rounds where the top 20 shown, not yet judged hits are accepted (same category) or
 *   rejected; "full" ranks everything (judged hits included), "residual" only the unjudged ones. Finally the
 *   IoU with the true mask of accepted hits' annotation masks (engine vs object).
 *
 * Hit masks only (the IoU part, fast: no feedback rounds; the first correct hit's search.hitMask = what accept writes):
 *   npx tsx tests/bench/retrieval-eval.ts hitmask --dataset ../shared/data/train/VOC_coseg --model pixelwise-unet-s \
 *       [--limit N] [--hit-mask '{"seeds":0}']
 *   Prints the mean IoU with the true mask and ms per hit mask; '{"seeds":0}' is the region's own mask (before).
 *   Diagnostics: the share of hits whose peak lies on the true object, and the engine's mask from one click at the
 *   true object's most interior point (the click protocol's first click: what the best single seed would give).
 *
 * "Find more of class X" (5 annotated examples per category, the class model; see classes() below):
 *   npx tsx tests/bench/retrieval-eval.ts classes --dataset ../shared/data/eval/COCO_MVal --model pixelwise-unet-s
 *
 * Co-segmentation (VOC_coseg: class folders, foreground masks):
 *   npx tsx tests/bench/retrieval-eval.ts coseg --dataset ../shared/data/train/VOC_coseg --model pixelwise-colorpos \
 *       [--classes Aero,Bird] [--discovery '{"borderPenalty":0.6}']
 *   discovery.run per class folder; Jaccard (mean per-image IoU) of the top cluster's region masks against the
 *   foreground, vs a centre prior (centred ellipse) and colour clustering (2-means on RGB, the cluster touching
 *   the border less is foreground).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SearchResult } from '../../core/api/search-contract';
import { dequantize } from '../../core/embedding';
import { ClickSimulator, createSegmenter } from '../../core/engine';
import { type Mask, maskIou } from '../../core/mask';
import { decodeRle, encodeRle } from '../../core/rle';
import type { ClassModelOptions } from '../../core/search/classmodel';
import { gridMaskToImage } from '../../core/search/pooling';
import { decodeImageFile } from '../../electron/embedding/embedder';
import type { DiscoveryServiceOptions } from '../../electron/search/discovery';
import type { HitMaskOptions } from '../../electron/search/hit-mask';
import { createSearchService } from '../../electron/search/service';
import { averagePrecisionAt10, byCategory, pairedInterval, randomAp10 } from './retrieval-metrics';
import { buildEvalProject, embedDataset, listDataset, readEvalMask } from './search-eval-data';
import { centrePrior, colourClusters, histogramDistance, maskHistogram } from './search-eval-baselines';

function argument(name: string, fallback?: string): string {
  const index = process.argv.indexOf(`--${name}`);
  if (index >= 0 && process.argv[index + 1]) return process.argv[index + 1];
  if (fallback === undefined) throw new Error(`missing --${name}`);
  return fallback;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const fixed = (value: number) => value.toFixed(3);

async function retrieval(dataset: string, modelId: string, limit: number): Promise<void> {
  const items = listDataset(dataset);
  const maps = await embedDataset(dataset, modelId, items);
  const masks = await Promise.all(items.map((item) => readEvalMask(item.maskPath)));
  const dir = mkdtempSync(join(tmpdir(), 'pixelwise-retrieval-'));
  const { project, imageIds, indexMs } = await buildEvalProject(dir, modelId, items, maps);
  const withMasks = !process.argv.includes('--no-masks');
  const classModel = JSON.parse(argument('class-model', '{}')) as Partial<ClassModelOptions>;
  const service = createSearchService(project, { defaultModelId: modelId, classModel });
  const categoryOf = new Map(imageIds.map((id, i) => [id, items[i].category]));
  const relevantCount = (category: string) => items.filter((item) => item.category === category).length - 1;
  const queries = items.map((_, i) => i).filter((i) => i % Math.max(1, Math.floor(items.length / limit)) === 0).slice(0, limit);
  const queryItems = queries.map((i) => items[i]);

  const stage1: number[] = [], dense: number[] = [], baseline: number[] = [], baselineWhole: number[] = [];
  const full: number[][] = [[], [], [], []], residual: number[][] = [[], [], [], []];
  // Share of the relevant images the labeler has seen after judging 20 (r + 1) hits: with feedback vs paging.
  const foundFeedback: number[][] = [[], [], [], []], foundPaging: number[][] = [[], [], [], []];
  const iouHit: number[] = [];
  const timings = { stage1: [] as number[], stage2: [] as number[] };
  const images = await Promise.all(items.map((item) => decodeImageFile(item.imagePath)));
  const histograms = items.map((_, i) => maskHistogram(images[i], masks[i]));
  const wholeHistograms = items.map((_, i) => maskHistogram(images[i], { ...masks[i], data: new Uint8Array(masks[i].data.length).fill(1) }));

  for (const q of queries) {
    const category = items[q].category, relevant = relevantCount(category);
    const isRelevant = (imageId: number) => categoryOf.get(imageId) === category;
    let result: SearchResult = service.search.query({
      examples: [{ imageId: imageIds[q], rle: encodeRle(masks[q]) }], limit: 100, rerank: 100, excludeExampleImages: true,
    });
    timings.stage1.push(result.stats.stage1Ms);
    timings.stage2.push(result.stats.stage2Ms);
    const byRegion = [...result.hits].sort((a, b) => b.regionScore - a.regionScore);
    stage1.push(averagePrecisionAt10(byRegion.map((hit) => isRelevant(hit.imageId)), relevant));
    dense.push(averagePrecisionAt10(result.hits.map((hit) => isRelevant(hit.imageId)), relevant));
    const colour = items.map((_, i) => i).filter((i) => i !== q)
      .sort((a, b) => histogramDistance(histograms[q], histograms[a]) - histogramDistance(histograms[q], histograms[b]));
    baseline.push(averagePrecisionAt10(colour.map((i) => items[i].category === category), relevant));
    const whole = items.map((_, i) => i).filter((i) => i !== q)
      .sort((a, b) => histogramDistance(histograms[q], wholeHistograms[a]) - histogramDistance(histograms[q], wholeHistograms[b]));
    baselineWhole.push(averagePrecisionAt10(whole.map((i) => items[i].category === category), relevant));

    // Mask quality of the first correct hit: the mask accepting it writes (annotation removed again).
    const firstCorrect = result.hits.find((hit) => isRelevant(hit.imageId));
    if (firstCorrect && withMasks) {
      const gt = masks[imageIds.indexOf(firstCorrect.imageId)];
      const accepted = await service.search.accept({ sessionId: result.sessionId, classId: null, imageIds: [firstCorrect.imageId] });
      iouHit.push(maskIou(decodeRle(project.annotations.get(accepted.annotationIds[0])!.rle), gt));
      project.transaction(() => project.annotations.remove(accepted.annotationIds));
      // accept() also judged the hit; start the feedback simulation from a clean session.
      result = service.search.query({
        examples: [{ imageId: imageIds[q], rle: encodeRle(masks[q]) }], limit: 100, rerank: 100, excludeExampleImages: true,
      });
    }
    const judged = new Set<number>();
    const initial = result.hits;
    for (let round = 0; round < 4; round++) {
      const seen = new Set([...judged, ...result.hits.filter((hit) => !judged.has(hit.imageId)).slice(0, 20).map((hit) => hit.imageId)]);
      foundFeedback[round].push([...seen].filter(isRelevant).length / relevant);
      foundPaging[round].push(initial.slice(0, 20 * (round + 1)).filter((hit) => isRelevant(hit.imageId)).length / relevant);
      const precision = (hits: typeof result.hits) => hits.slice(0, 20).filter((hit) => isRelevant(hit.imageId)).length / 20;
      full[round].push(precision(result.hits));
      residual[round].push(precision(result.hits.filter((hit) => !judged.has(hit.imageId))));
      if (round === 3) break;
      const shown = result.hits.filter((hit) => !judged.has(hit.imageId)).slice(0, 20);
      shown.forEach((hit) => judged.add(hit.imageId));
      result = service.search.feedback({
        sessionId: result.sessionId, limit: 100,
        accepted: shown.filter((hit) => isRelevant(hit.imageId)).map((hit) => hit.imageId),
        rejected: shown.filter((hit) => !isRelevant(hit.imageId)).map((hit) => hit.imageId),
      });
    }
  }
  project.close();
  rmSync(dir, { recursive: true, force: true });
  const relevantShare = mean(queryItems.map((item) => relevantCount(item.category) / (items.length - 1)));
  const chance = byCategory(queryItems.map((item) => randomAp10(relevantCount(item.category), items.length - 1)), queryItems);
  console.log(`retrieval ${dataset} model=${modelId} class model ${JSON.stringify(classModel)} images=${items.length} queries=${queries.length} (index ${indexMs.toFixed(1)} ms/image)`);
  console.log(`  mAP@10 by category: stage1 ${fixed(byCategory(stage1, queryItems))}  stage1+dense ${fixed(byCategory(dense, queryItems))}  colour-hist baselines (query mask vs whole image ${fixed(byCategory(baselineWhole, queryItems))}, vs true mask ${fixed(byCategory(baseline, queryItems))})  random ranking ${fixed(chance)} (relevant share ${fixed(relevantShare)})`);
  const denseGain = pairedInterval(stage1, dense, queryItems);
  console.log(`  dense re-rank minus stage 1: ${fixed(byCategory(dense, queryItems) - byCategory(stage1, queryItems))} (95% bootstrap interval over queries ${fixed(denseGain[0])} .. ${fixed(denseGain[1])})`);
  console.log(`  P@20 full     rounds 0..3: ${full.map((list) => fixed(mean(list))).join('  ')}`);
  console.log(`  P@20 residual rounds 0..3: ${residual.map((list) => fixed(mean(list))).join('  ')}`);
  console.log(`  relevant seen after judging 20, 40, 60, 80 hits: feedback ${foundFeedback.map((list) => fixed(mean(list))).join('  ')}  vs paging the first ranking ${foundPaging.map((list) => fixed(mean(list))).join('  ')}`);
  console.log(`  accepted-hit mask IoU (first correct hit, its mask as shown: search.hitMask): ${fixed(mean(iouHit))}  (n=${iouHit.length})`);
  console.log(`  per query: stage1 ${fixed(mean(timings.stage1))} ms, dense top-100 ${fixed(mean(timings.stage2))} ms`);
  writeJson({
    task: 'retrieval', dataset, modelId, queries: queries.length, chance, relevantShare,
    map10: { stage1: byCategory(stage1, queryItems), dense: byCategory(dense, queryItems), denseGainInterval: denseGain, colourWhole: byCategory(baselineWhole, queryItems), colourMask: byCategory(baseline, queryItems) },
    p20: { full: full.map(mean), residual: residual.map(mean) },
    seen: { feedback: foundFeedback.map(mean), paging: foundPaging.map(mean) },
    acceptedIou: { hit: mean(iouHit), n: iouHit.length },
    ms: { stage1: mean(timings.stage1), stage2: mean(timings.stage2) },
  });
}

async function hitMasks(dataset: string, modelId: string, limit: number): Promise<void> {
  const items = listDataset(dataset);
  const maps = await embedDataset(dataset, modelId, items);
  const masks = await Promise.all(items.map((item) => readEvalMask(item.maskPath)));
  const dir = mkdtempSync(join(tmpdir(), 'pixelwise-hitmask-'));
  const { project, imageIds } = await buildEvalProject(dir, modelId, items, maps);
  const hitMask = JSON.parse(argument('hit-mask', '{}')) as Partial<HitMaskOptions>;
  const service = createSearchService(project, { defaultModelId: modelId, hitMask });
  const queries = items.map((_, i) => i).filter((i) => i % Math.max(1, Math.floor(items.length / limit)) === 0).slice(0, limit);
  const ious: number[] = [], ms: number[] = [], onObject: number[] = [], oracle: number[] = [];
  for (const q of queries) {
    const result = service.search.query({ examples: [{ imageId: imageIds[q], rle: encodeRle(masks[q]) }], limit: 100, rerank: 100, excludeExampleImages: true });
    const hit = result.hits.find((candidate) => items[imageIds.indexOf(candidate.imageId)].category === items[q].category);
    if (!hit) continue;
    const started = performance.now();
    const { rle } = await service.search.hitMask({ sessionId: result.sessionId, imageId: hit.imageId });
    ms.push(performance.now() - started);
    const index = imageIds.indexOf(hit.imageId), gt = masks[index];
    ious.push(maskIou(decodeRle(rle), gt));
    onObject.push(gt.data[Math.round(hit.peak[1]) * gt.width + Math.round(hit.peak[0])] ? 1 : 0);
    const click = new ClickSimulator({ width: gt.width, height: gt.height, object: gt.data, ignore: null }).next(new Uint8Array(gt.data.length));
    oracle.push(maskIou(createSegmenter(dequantize(maps[index]), await decodeImageFile(items[index].imagePath)).segment([click]).mask, gt));
  }
  project.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`hit masks ${dataset} model=${modelId} hit mask ${JSON.stringify(hitMask)} queries=${queries.length}: IoU of the first correct hit's mask ${fixed(mean(ious))} (n=${ious.length}; >= 0.6: ${fixed(ious.filter((v) => v >= 0.6).length / Math.max(1, ious.length))})  ${fixed(mean(ms))} ms per hit mask (image decode included)`);
  const onIou = ious.filter((_, k) => onObject[k] === 1), offIou = ious.filter((_, k) => onObject[k] === 0);
  console.log(`  diagnostics: hit peak on the true object ${fixed(mean(onObject))} (IoU there ${fixed(mean(onIou))}, elsewhere ${fixed(mean(offIou))}); engine, one click at the true object's most interior point ${fixed(mean(oracle))}`);
  writeJson({ task: 'hitmask', dataset, modelId, hitMask, iou: mean(ious), n: ious.length, ms: mean(ms), peakOnObject: mean(onObject), iouPeakOnObject: mean(onIou), oneClickOracle: mean(oracle) });
}

/**
 * "Find more of class X" from 5 annotated examples: per category with at least 6 images, its first 5 images (by
 * name) get their true masks as annotations of class X, then search.query({ classId }) (example images left out);
 * P@20 = hits of the category in the top 20 / 20, against the first example alone and against the ceiling
 * min(20, relevant left) / 20 (COCO_MVal has 2-11 images per category, so few are left to find).
 */
async function classes(dataset: string, modelId: string): Promise<void> {
  const items = listDataset(dataset);
  const maps = await embedDataset(dataset, modelId, items);
  const masks = await Promise.all(items.map((item) => readEvalMask(item.maskPath)));
  const dir = mkdtempSync(join(tmpdir(), 'pixelwise-classes-'));
  const { project, imageIds } = await buildEvalProject(dir, modelId, items, maps);
  const classModel = JSON.parse(argument('class-model', '{}')) as Partial<ClassModelOptions>;
  const service = createSearchService(project, { defaultModelId: modelId, classModel });
  const categories = [...new Set(items.map((item) => item.category))].filter((category) => items.filter((item) => item.category === category).length >= 6);
  const learned: number[] = [], single: number[] = [], ceiling: number[] = [], recall: number[] = [];
  const started = performance.now();
  for (const category of categories) {
    const members = items.map((item, i) => (item.category === category ? i : -1)).filter((i) => i >= 0);
    const chosen = members.slice(0, 5);
    const classId = project.classes.create(category).id;
    const annotationIds = project.transaction(() => chosen.map((i) => project.annotations.add(imageIds[i], { classId, rle: encodeRle(masks[i]) })));
    const left = members.length - chosen.length;
    const precision = (result: SearchResult) => result.hits.slice(0, 20).filter((hit) => items[imageIds.indexOf(hit.imageId)].category === category).length;
    const byClass = precision(service.search.query({ classId, limit: 20, rerank: 100, excludeExampleImages: true }));
    const byOne = precision(service.search.query({ examples: [{ annotationId: annotationIds[0] }], limit: 20, rerank: 100, excludeExampleImages: true, imageIds: imageIds.filter((_, i) => !chosen.includes(i)) }));
    learned.push(byClass / 20);
    single.push(byOne / 20);
    ceiling.push(Math.min(20, left) / 20);
    recall.push(byClass / left);
    project.transaction(() => project.annotations.remove(annotationIds));
  }
  project.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`find more of class X from 5 annotated examples, ${dataset} model=${modelId} class model ${JSON.stringify(classModel)}: ${categories.length} categories with >= 6 images`);
  console.log(`  P@20 class model ${fixed(mean(learned))}  first example alone ${fixed(mean(single))}  ceiling ${fixed(mean(ceiling))}  (recall of the images left in the top 20: ${fixed(mean(recall))})  ${((performance.now() - started) / categories.length).toFixed(0)} ms per category`);
  writeJson({ task: 'classes', dataset, modelId, categories: categories.length, p20: { classModel: mean(learned), single: mean(single), ceiling: mean(ceiling) }, recall20: mean(recall) });
}

async function coseg(dataset: string, modelId: string): Promise<void> {
  const all = listDataset(dataset);
  const classes = [...new Set(all.map((item) => item.category))];
  const rows: string[] = [];
  const totals = { discovery: [] as number[], covered: [] as number[], centre: [] as number[], colour: [] as number[], bestOf5: [] as number[] };
  const ran: string[] = [];
  const discoveryOptions = JSON.parse(argument('discovery', '{}')) as Partial<DiscoveryServiceOptions>;
  const only = argument('classes', '').split(',').filter(Boolean);
  for (const category of classes.filter((name) => only.length === 0 || only.includes(name))) {
    const items = all.filter((item) => item.category === category);
    const maps = await embedDataset(dataset, modelId, items);
    const masks = await Promise.all(items.map((item) => readEvalMask(item.maskPath)));
    const dir = mkdtempSync(join(tmpdir(), 'pixelwise-coseg-'));
    const { project, imageIds } = await buildEvalProject(dir, modelId, items, maps);
    const service = createSearchService(project, { defaultModelId: modelId, discovery: discoveryOptions });
    const started = performance.now();
    const result = service.discovery.run({ imageIds, top: 5 });
    const ms = performance.now() - started;
    const clusterMask = (cluster: number, imageId: number, gt: Mask): Mask => {
      const member = result.clusters[cluster]?.members.find((candidate) => candidate.imageId === imageId);
      if (!member) return { width: gt.width, height: gt.height, data: new Uint8Array(gt.data.length) };
      const grid = decodeRle(member.grid);
      return gridMaskToImage(grid.data, grid.width, grid.height, gt.width, gt.height);
    };
    const scores = { discovery: [] as number[], covered: [] as number[], centre: [] as number[], colour: [] as number[] };
    // What "label everywhere" writes (edge-aware masks): for every image ("discovery": co-segmentation assumes the
    // object is in each) and for the covered ones only, as the studio does by default (uncovered images count empty).
    const labelled = async (imageIdsToLabel?: number[]) => {
      const written = await service.discovery.label({ discoveryId: result.discoveryId, cluster: 0, classId: null, imageIds: imageIdsToLabel });
      const byImage = new Map(written.imageIds.map((imageId, k) => [imageId, decodeRle(project.annotations.get(written.annotationIds[k])!.rle)]));
      project.transaction(() => project.annotations.remove(written.annotationIds));
      return byImage;
    };
    const everywhere = result.clusters.length ? await labelled(imageIds) : new Map<number, Mask>();
    const covered = result.clusters.length ? await labelled() : new Map<number, Mask>();
    // Diagnostic: Jaccard of each of the top 5 clusters (grid masks), to tell bad ranking from bad clusters.
    const perCluster = result.clusters.map(() => [] as number[]);
    for (const [i, imageId] of imageIds.entries()) {
      const gt = masks[i], empty = { ...gt, data: new Uint8Array(gt.data.length) };
      scores.discovery.push(maskIou(everywhere.get(imageId) ?? empty, gt));
      scores.covered.push(maskIou(covered.get(imageId) ?? empty, gt));
      result.clusters.forEach((_, cluster) => perCluster[cluster].push(maskIou(clusterMask(cluster, imageId, gt), gt)));
      scores.centre.push(maskIou(centrePrior(gt.width, gt.height), gt));
      scores.colour.push(maskIou(colourClusters(await decodeImageFile(items[i].imagePath)), gt));
    }
    const bestOf5 = Math.max(...perCluster.map(mean));
    totals.bestOf5.push(bestOf5);
    project.close();
    rmSync(dir, { recursive: true, force: true });
    for (const key of ['discovery', 'covered', 'centre', 'colour'] as const) totals[key].push(mean(scores[key]));
    ran.push(category);
    rows.push(`  ${category.padEnd(8)} n=${String(items.length).padStart(3)} discovery ${fixed(mean(scores.discovery))} (covered only ${fixed(mean(scores.covered))})  centre ${fixed(mean(scores.centre))}  colour ${fixed(mean(scores.colour))}  best of top 5 ${fixed(bestOf5)}  coverage ${result.clusters[0]?.coverage ?? 0}  (${ms.toFixed(0)} ms)`);
  }
  console.log(`co-segmentation ${dataset} model=${modelId} discovery=${JSON.stringify(discoveryOptions)} (Jaccard = mean per-image IoU, top cluster)`);
  for (const row of rows) console.log(row);
  writeJson({
    task: 'coseg', dataset, modelId,
    jaccard: { discovery: mean(totals.discovery), centre: mean(totals.centre), colour: mean(totals.colour), bestOf5: mean(totals.bestOf5) },
  });
  // Discovery's options were chosen on the tuning half only (with pixelwise-colorpos); the other half is held out.
  const tuning = new Set(['Aero', 'Bird', 'Bottle', 'Car', 'Chair']);
  for (const [name, inHalf] of [['tuning half', true], ['held-out half', false]] as const) {
    const pick = (values: number[]) => mean(values.filter((_, i) => tuning.has(ran[i]) === inHalf));
    if (ran.some((category) => tuning.has(category) === inHalf)) {
      console.log(`  ${name}: discovery ${fixed(pick(totals.discovery))}  centre prior ${fixed(pick(totals.centre))}  colour 2-means ${fixed(pick(totals.colour))}`);
    }
  }
  console.log(`  mean over classes: discovery ${fixed(mean(totals.discovery))} (covered only ${fixed(mean(totals.covered))})  centre prior ${fixed(mean(totals.centre))}  colour 2-means ${fixed(mean(totals.colour))}  (oracle best of top-5 clusters ${fixed(mean(totals.bestOf5))})`);
}

/** With --json <file>, the headline numbers also go to a file (the comparison report reads them). */
function writeJson(value: unknown): void {
  const file = argument('json', '');
  if (file) writeFileSync(file, JSON.stringify(value, null, 1));
}

async function main(): Promise<void> {
  const task = process.argv[2];
  const dataset = argument('dataset'), modelId = argument('model', 'pixelwise-colorpos');
  if (task === 'retrieval') await retrieval(dataset, modelId, Number(argument('limit', '100000')));
  else if (task === 'coseg') await coseg(dataset, modelId);
  else if (task === 'classes') await classes(dataset, modelId);
  else if (task === 'hitmask') await hitMasks(dataset, modelId, Number(argument('limit', '100000')));
  else throw new Error('usage: tsx tests/bench/retrieval-eval.ts retrieval|coseg|classes|hitmask --dataset <folder> [--model id]');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
