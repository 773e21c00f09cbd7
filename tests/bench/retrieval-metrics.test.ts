import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/random';
import { averagePrecisionAt10, byCategory, pairedInterval, randomAp10 } from './retrieval-metrics';

describe('retrieval metrics', () => {
  it('scores AP@10 from the relevant ranks in the top 10', () => {
    expect(averagePrecisionAt10([true, false, true], 2)).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(averagePrecisionAt10([false, true], 20)).toBeCloseTo(0.5 / 10, 12);
    expect(averagePrecisionAt10([...Array(10).fill(false), true], 1)).toBe(0);
  });

  it('gives the AP@10 a shuffled ranking has on average', () => {
    const next = seededRandom(7);
    for (const [relevant, candidates] of [[5, 426], [30, 100]]) {
      let sum = 0;
      const trials = 40_000;
      for (let trial = 0; trial < trials; trial++) {
        // Partial Fisher-Yates: only the top 10 matter.
        const ranked = Array.from({ length: candidates }, (_, i) => i < relevant);
        for (let i = 0; i < 10; i++) {
          const j = i + Math.floor(next() * (candidates - i));
          [ranked[i], ranked[j]] = [ranked[j], ranked[i]];
        }
        sum += averagePrecisionAt10(ranked, relevant);
      }
      const expected = randomAp10(relevant, candidates);
      expect(Math.abs(sum / trials - expected)).toBeLessThan(0.05 * expected);
      // Below the relevant share, which a ranking only reaches at rank 1.
      expect(expected).toBeLessThan(relevant / candidates);
    }
  });

  it('brackets a real difference and one that is not there', () => {
    const next = seededRandom(3);
    const items = Array.from({ length: 120 }, (_, i) => ({ category: `c${i % 6}` }));
    const a = items.map(() => next());
    const better = a.map((value) => value + 0.2 + 0.05 * (next() - 0.5));
    const [low, high] = pairedInterval(a, better, items);
    expect(low).toBeGreaterThan(0.18);
    expect(high).toBeLessThan(0.22);
    expect(byCategory(better, items) - byCategory(a, items)).toBeGreaterThan(low);
    const noise = a.map(() => next());
    const [noiseLow, noiseHigh] = pairedInterval(a, noise, items);
    expect(noiseLow).toBeLessThan(0);
    expect(noiseHigh).toBeGreaterThan(0);
  });
});
