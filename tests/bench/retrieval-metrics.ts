/** Ranking metrics of the retrieval eval (tests/bench/retrieval-eval.ts), apart so that tests can import them. */
import { seededRandom } from '../../core/random';

/** What a metric needs of a query: its category (the per-category mean weighs categories equally). */
type Query = { category: string };

/** AP@10: sum over relevant ranks k <= 10 of precision@k, divided by min(relevant count, 10). */
export function averagePrecisionAt10(ranked: boolean[], relevantTotal: number): number {
  if (relevantTotal === 0) return 0;
  let hits = 0, sum = 0;
  ranked.slice(0, 10).forEach((relevant, k) => {
    if (relevant) sum += ++hits / (k + 1);
  });
  return sum / Math.min(relevantTotal, 10);
}

/**
 * Expected AP@10 of a random ranking of `candidates` images of which `relevantTotal` are relevant: rank k is
 * relevant with probability R/N, and given that, the k-1 ranks above it hold (k-1)(R-1)/(N-1) relevant on average.
 */
export function randomAp10(relevantTotal: number, candidates: number): number {
  if (relevantTotal === 0) return 0;
  let sum = 0;
  for (let k = 1; k <= Math.min(10, candidates); k++) {
    sum += (relevantTotal / candidates) * (1 + ((k - 1) * (relevantTotal - 1)) / Math.max(1, candidates - 1)) / k;
  }
  return sum / Math.min(relevantTotal, 10);
}

/** Mean over categories of the mean over that category's queries. */
export function byCategory(values: number[], items: Query[]): number {
  const groups = new Map<string, number[]>();
  values.forEach((value, i) => groups.set(items[i].category, [...(groups.get(items[i].category) ?? []), value]));
  const means = [...groups.values()].map((list) => list.reduce((a, b) => a + b, 0) / list.length);
  return means.reduce((a, b) => a + b, 0) / means.length;
}

/**
 * 95% interval of byCategory(b) - byCategory(a) for paired per-query scores: a bootstrap over queries
 * (2,000 resamples, seeded), so "dense re-rank vs stage 1" can be told apart from query noise.
 */
export function pairedInterval(a: number[], b: number[], items: Query[], rounds = 2000): [number, number] {
  const next = seededRandom(1);
  const differences: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const picked = a.map(() => Math.floor(next() * a.length));
    const sample = picked.map((i) => items[i]);
    differences.push(byCategory(picked.map((i) => b[i]), sample) - byCategory(picked.map((i) => a[i]), sample));
  }
  differences.sort((x, y) => x - y);
  return [differences[Math.floor(0.025 * rounds)], differences[Math.floor(0.975 * rounds)]];
}
