/**
 * Relevance feedback: the labeler's accept / reject judgements move the query (Rocchio):
 *   q' = normalise(alpha * mean(examples) + beta * mean(accepted) - gamma * mean(rejected))
 * With `exemplars`, each accepted vector is also a query of its own (an image scores by its best match to any),
 * which helps classes whose instances look different (a dog from the side and from the front).
 */
import { normalizeCells } from '../embedding';

export interface FeedbackWeights {
  alpha: number;
  beta: number;
  gamma: number;
  /** Also query with up to this many accepted vectors themselves (0 = Rocchio only). */
  exemplars: number;
}

export const defaultFeedbackWeights: FeedbackWeights = { alpha: 1, beta: 0.75, gamma: 0.25, exemplars: 8 };

export interface QueryState {
  /** Unit vectors of the query examples (masks the labeler drew or picked). */
  examples: Float32Array[];
  accepted: Float32Array[];
  rejected: Float32Array[];
}

function mean(vectors: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(dim);
  for (const vector of vectors) for (let k = 0; k < dim; k++) out[k] += vector[k] / vectors.length;
  return out;
}

/** Query vectors for the current state: the Rocchio vector first, then exemplars (newest first). */
export function queryVectors(state: QueryState, weights: Partial<FeedbackWeights> = {}): Float32Array[] {
  const { alpha, beta, gamma, exemplars } = { ...defaultFeedbackWeights, ...weights };
  if (state.examples.length === 0) throw new RangeError('a query needs at least one example');
  const dim = state.examples[0].length;
  const rocchio = mean(state.examples, dim).map((value) => alpha * value);
  if (state.accepted.length) {
    const positive = mean(state.accepted, dim);
    for (let k = 0; k < dim; k++) rocchio[k] += beta * positive[k];
  }
  if (state.rejected.length) {
    const negative = mean(state.rejected, dim);
    for (let k = 0; k < dim; k++) rocchio[k] -= gamma * negative[k];
  }
  const out = [normalizeCells(rocchio, dim)];
  for (const vector of state.accepted.slice(-exemplars).reverse()) if (exemplars > 0) out.push(vector);
  return out;
}
