/**
 * The labeler's class model: what the labeler has told the studio about one class (its annotations and accepted
 * hits are positives, rejected hits negatives) as a nearest-neighbour classifier over region vectors, refitted on
 * every judgement (a fit is a mean and a few copies: microseconds).
 *
 *   score(region) = max(cos(region, class mean), max over up to 8 newest positives of cos(region, positive))
 *   a region nearer to a rejected vector than that loses negativeWeight x the difference
 *   (max over the newest negatives of cos(region, negative) - the score above).
 *
 * The class mean finds what the instances share; each positive as a query of its own finds a class whose
 * instances look different (a dog from the side and from the front); a rejected region pulls down what looks more
 * like it than like any positive (the mug's handle that won over the mug), and only that: a class whose rejected
 * lookalikes are close to it is not pushed down with them. Stage 1 (core/search/scan.ts) and the dense stage
 * (core/search/dense.ts) score with this rule; stage 1, which reads every region of the project, with the class
 * mean and the two newest exemplars only, as its cost grows with each query vector (10k images, 780k regions:
 * 24 ms CPU for one, 74 ms for three; tests/bench/search-bench.ts).
 *
 * Chosen on training data, VOC_coseg. Stage 1 alone (tests/bench/class-model-tune.ts, 60 queries): the simulated
 * labeler (20 hits judged per round) keeps residual P@20 at 0.206 / 0.210 / 0.219 / 0.204 over rounds 0-3 and has
 * seen 0.241 of the relevant images after 80 judged, against 0.212 paging through the first ranking (without
 * negatives: 0.212 / 0.173 / 0.183, 0.220); two stage-1 exemplars did as well as 4 or 8 there, and the two newest
 * beat the two least like the mean (seen 0.228). Through the service ("find more" from 5 annotated examples,
 * retrieval-eval.ts classes) scoring with all 5 examples beat 2 (P@20 0.210 vs 0.170; one example alone 0.125).
 * Also tried and dropped: linear discriminant analysis with the project's region covariance as the background
 * (shrinkage 0.1-0.8: round-0 mAP@10 0.094 -> 0.063-0.088, five-example P@20 0.144-0.156), subtracting the
 * background mean (0.057-0.059), a penalty on any closeness to a negative rather than only where it beats the
 * positives (relevant seen 0.171-0.226).
 */

export interface ClassModelOptions {
  /** Also score with up to this many positives themselves, newest first (0 = the class mean only). */
  exemplars: number;
  /** Of those, stage 1 (every region of the project) uses the newest this many: its cost grows with each query. */
  scanExemplars: number;
  /** A region closer to a rejected vector than to any query loses this much times the difference. */
  negativeWeight: number;
  /** The newest this many rejected vectors are kept as negatives. */
  maxNegatives: number;
}

export const defaultClassModelOptions: ClassModelOptions = { exemplars: 8, scanExemplars: 2, negativeWeight: 5, maxNegatives: 100 };

export interface LabelledVectors {
  /** Unit vectors of the class: annotations, query examples and accepted hits (oldest first). */
  positives: Float32Array[];
  /** Unit vectors judged not of the class (rejected hits, oldest first). */
  negatives: Float32Array[];
}

/** A fit: query vectors (a region scores by its best cosine with any) and the negatives that penalise it. */
export interface ClassModel {
  /** The class mean, then exemplars newest first. */
  queries: Float32Array[];
  /** How many of `queries` stage 1 uses (the first ones). */
  scanQueries: number;
  negatives: Float32Array[];
  negativeWeight: number;
}

export class ClassModelError extends Error {
  override name = 'ClassModelError';
}

export function fitClassModel(data: LabelledVectors, options: Partial<ClassModelOptions> = {}): ClassModel {
  const settings = { ...defaultClassModelOptions, ...options };
  if (data.positives.length === 0) throw new ClassModelError('the class has no examples yet: annotate or accept one object of it first');
  const dim = data.positives[0].length;
  for (const vector of [...data.positives, ...data.negatives]) {
    if (vector.length !== dim) throw new ClassModelError(`examples of ${vector.length} and ${dim} dimensions cannot be mixed (different models)`);
  }
  const mean = new Float32Array(dim);
  for (const vector of data.positives) for (let k = 0; k < dim; k++) mean[k] += vector[k];
  let norm = 0;
  for (let k = 0; k < dim; k++) norm += mean[k] * mean[k];
  for (let k = 0; k < dim; k++) mean[k] /= Math.sqrt(norm) || 1;
  const queries: Float32Array[] = [mean];
  if (data.positives.length > 1) queries.push(...data.positives.slice(-settings.exemplars).reverse());
  const negatives = settings.negativeWeight > 0 ? data.negatives.slice(-settings.maxNegatives) : [];
  return { queries, scanQueries: Math.min(queries.length, 1 + settings.scanExemplars), negatives, negativeWeight: settings.negativeWeight };
}

/** A vector's score under the model (the rule in the file comment), for the dense stage's object vector. */
export function classScore(model: ClassModel, vector: Float32Array): number {
  let best = -Infinity;
  for (const query of model.queries) best = Math.max(best, dot(query, vector));
  if (model.negatives.length === 0) return best;
  let closest = -Infinity;
  for (const negative of model.negatives) closest = Math.max(closest, dot(negative, vector));
  return closest > best ? best - model.negativeWeight * (closest - best) : best;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k] * b[k];
  return sum;
}
