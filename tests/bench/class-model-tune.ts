/**
 * Quick stage-1-only sweep of the class model's options (core/search/classmodel.ts) on a TRAINING set, without the
 * dense stage (so a sweep takes seconds): the simulated labeler of retrieval-eval.ts on region vectors alone
 * (a judged hit's vector = its best region's).
 *
 *   npx tsx tests/bench/class-model-tune.ts --dataset ../shared/data/train/VOC_coseg --model pixelwise-unet-s \
 *       [--limit 60] [--grid '[{"shrinkage":0.1},{"shrinkage":0.3}]']
 *
 * "context" (not in the product): adds context x the best cosine of the image's whole-map mean with the positives'
 * images' (scene context, an experiment).
 * Prints per option set: round-0 mAP@10 (one example), P@20 with 5 examples of the class ("find more of X"),
 * residual P@20 rounds 0..3 and relevant images seen after 80 judged vs paging. "cosine" is the plain query
 * (no class model) for reference. Never run it on eval/ data to choose options.
 */
import { dequantize } from '../../core/embedding';
import { type ClassModelOptions, fitClassModel } from '../../core/search/classmodel';
import { poolMask } from '../../core/search/pooling';
import { computeRegions } from '../../core/search/regions';
import { type RegionChunk, TopHits, scanChunk, toInt8 } from '../../core/search/scan';
import { averagePrecisionAt10, byCategory } from './retrieval-metrics';
import { embedDataset, listDataset, readEvalMask } from './search-eval-data';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

async function main(): Promise<void> {
  const dataset = argument('dataset', ''), modelId = argument('model', 'pixelwise-unet-s');
  if (!dataset) throw new Error('usage: tsx tests/bench/class-model-tune.ts --dataset <training folder> [--model id]');
  if (/\beval\b/.test(dataset)) console.warn('warning: choose options on training data only; eval/ is for reporting');
  const limit = Number(argument('limit', '60'));
  const grid = JSON.parse(argument('grid', '[{}]')) as (Partial<ClassModelOptions & { context: number }> | 'cosine')[];
  const items = listDataset(dataset);
  const maps = await embedDataset(dataset, modelId, items);
  const masks = await Promise.all(items.map((item) => readEvalMask(item.maskPath)));
  const sets = maps.map((map) => computeRegions(dequantize(map)));
  const dim = sets[0].dim;
  const offsets = new Int32Array(sets.length + 1);
  sets.forEach((set, i) => (offsets[i + 1] = offsets[i] + set.parents.length));
  const vectors = new Int8Array(offsets[sets.length] * dim);
  sets.forEach((set, i) => vectors.set(set.vectors, offsets[i] * dim));
  const chunk: RegionChunk = { dim, imageIds: Int32Array.from(items, (_, i) => i), offsets, vectors };
  const examples = items.map((_, i) => poolMask(dequantize(maps[i]), masks[i]));
  const contexts = items.map((_, i) => poolMask(dequantize(maps[i]), { ...masks[i], data: new Uint8Array(masks[i].data.length).fill(1) }));
  const contextOf = new Map<Float32Array, Float32Array>();
  examples.forEach((example, i) => contextOf.set(example, contexts[i]));
  const cos = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, k) => sum + value * b[k], 0);
  const regionVector = (image: number, region: number) => Float32Array.from(vectors.subarray((offsets[image] + region) * dim, (offsets[image] + region + 1) * dim), (v) => v / 127);
  const step = Math.max(1, Math.floor(items.length / limit));
  const queries = items.map((_, i) => i).filter((i) => i % step === 0).slice(0, limit);
  const queryItems = queries.map((q) => items[q]);

  const rank = (option: Partial<ClassModelOptions & { context: number }> | 'cosine', positives: Float32Array[], negatives: Float32Array[], exclude: Set<number>, count: number) => {
    const context = option === 'cosine' ? 0 : option.context ?? 0;
    if (context > 0) {
      const ctx = positives.map((p) => contextOf.get(p)).filter((c): c is Float32Array => c !== undefined);
      const all = rankPlain(option, positives, negatives, exclude, items.length);
      return all.map((hit) => ({ ...hit, score: hit.score + context * Math.max(...ctx.map((c) => cos(c, contexts[hit.imageId]))) }))
        .sort((a, b) => b.score - a.score).slice(0, count);
    }
    return rankPlain(option, positives, negatives, exclude, count);
  };
  const rankPlain = (option: Partial<ClassModelOptions> | 'cosine', positives: Float32Array[], negatives: Float32Array[], exclude: Set<number>, count: number) => {
    const model = option === 'cosine' ? { queries: [positives[0]], scanQueries: 1, negatives: [], negativeWeight: 0 } : fitClassModel({ positives, negatives }, option);
    const top = new TopHits(count);
    scanChunk(chunk, model.queries.slice(0, model.scanQueries).map(toInt8), top, exclude, { vectors: model.negatives.map(toInt8), weight: model.negativeWeight });
    return top.sorted();
  };
  for (const option of grid) {
    const ap: number[] = [], five: number[] = [], residual: number[][] = [[], [], [], []], seen: number[] = [], paging: number[] = [];
    for (const q of queries) {
      const category = items[q].category;
      const relevant = items.filter((item) => item.category === category).length - 1;
      const isRelevant = (image: number) => items[image].category === category;
      const first = rank(option, [examples[q]], [], new Set([q]), 100);
      ap.push(averagePrecisionAt10(first.map((hit) => isRelevant(hit.imageId)), relevant));
      // Five annotated examples of the class: the query's and the next four of its category.
      const same = items.map((_, i) => i).filter((i) => isRelevant(i));
      const start = same.indexOf(q);
      const chosen = [0, 1, 2, 3, 4].map((k) => same[(start + k) % same.length]);
      const byClass = rank(option === 'cosine' ? option : option, chosen.map((i) => examples[i]), [], new Set(chosen), 20);
      five.push(byClass.filter((hit) => isRelevant(hit.imageId)).length / 20);
      // Simulated labeler: judge the best 20 unjudged hits per round.
      const judged = new Set<number>([q]);
      const positives = [examples[q]], negatives: Float32Array[] = [];
      let found = 0;
      for (let round = 0; round < 4; round++) {
        const hits = option === 'cosine' && round > 0 ? [] : rank(option, positives, negatives, judged, 20);
        residual[round].push(hits.filter((hit) => isRelevant(hit.imageId)).length / 20);
        for (const hit of hits) {
          judged.add(hit.imageId);
          if (isRelevant(hit.imageId)) {
            found++;
            const vector = regionVector(hit.imageId, hit.region);
            contextOf.set(vector, contexts[hit.imageId]);
            positives.push(vector);
          } else negatives.push(regionVector(hit.imageId, hit.region));
        }
      }
      seen.push(found / relevant);
      paging.push(rank(option, [examples[q]], [], new Set([q]), 80).filter((hit) => isRelevant(hit.imageId)).length / relevant);
    }
    console.log(`${JSON.stringify(option)}: mAP@10 ${byCategory(ap, queryItems).toFixed(3)}  5-example P@20 ${mean(five).toFixed(3)}  residual P@20 ${residual.map((r) => mean(r).toFixed(3)).join(' ')}  seen@80 ${mean(seen).toFixed(3)} vs paging ${mean(paging).toFixed(3)}`);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
