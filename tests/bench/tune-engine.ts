/**
 * Coordinate search of the click engine's options on a TRAINING set (never eval/): each round tries every
 * option at its neighbouring values, keeps a change only when it lowers NoC@90 (ties: NoC@85), and stops when
 * a round changes nothing. Each trial is one tests/bench/eval-clicks.ts run (embeddings are cached).
 *
 *   npx tsx tests/bench/tune-engine.ts --dataset ../shared/data/train/VOC_coseg --model pixelwise-unet-s --every 6 [--rounds 2]
 *
 * Prints one line per trial and the best options as JSON at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type EngineOptions, defaultEngineOptions } from '../../core/engine';

/** Neighbouring values tried for each option (multiplicative steps for scales, additive for levels). */
const moves: Partial<Record<keyof EngineOptions, (value: number) => number[]>> = {
  featureWeight: (v) => [v / 1.5, v * 1.5],
  spatialWeight: (v) => [v / 1.5, v * 1.5],
  distanceWeight: (v) => [v / 1.5, v * 1.5],
  background: (v) => [v - 0.1, v + 0.1],
  sharpness: (v) => [v / 1.5, v * 1.5],
  colorWeight: (v) => [v / 1.5, v * 1.5],
  colorReach: (v) => [v / 1.5, v * 1.5],
  edgeFloor: (v) => [Math.max(0, v - 0.2), Math.min(0.95, v + 0.2)],
  colorSigma: (v) => [v / 1.5, v * 1.5],
};

function main() {
  const { values } = parseArgs({
    options: { dataset: { type: 'string' }, model: { type: 'string', default: 'pixelwise-unet-s' }, every: { type: 'string', default: '1' },
      limit: { type: 'string' }, rounds: { type: 'string', default: '2' } },
  });
  if (!values.dataset) throw new Error('--dataset <training folder> is required');
  if (resolve(values.dataset).split('/').includes('eval')) throw new Error('tune on a training set, never on eval/');
  const folder = mkdtempSync(join(tmpdir(), 'tune-engine-'));
  let trial = 0;
  const score = (options: EngineOptions): [number, number] => {
    const out = join(folder, `trial-${trial++}.json`);
    const params = Object.entries(options).flatMap(([name, value]) => ['--param', `${name}=${value}`]);
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'eval-clicks.ts'), '--dataset', values.dataset!, '--model', values.model!,
      '--every', values.every!, ...(values.limit ? ['--limit', values.limit] : []), '--out', out, ...params], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`eval-clicks failed: ${run.stderr}`);
    const { metrics } = JSON.parse(readFileSync(out, 'utf8')) as { metrics: { noc85: number; noc90: number } };
    console.log(`${metrics.noc90.toFixed(2)} ${metrics.noc85.toFixed(2)} ${JSON.stringify(options)}`);
    return [metrics.noc90, metrics.noc85];
  };
  const better = (a: [number, number], b: [number, number]) => a[0] < b[0] - 1e-9 || (Math.abs(a[0] - b[0]) < 1e-9 && a[1] < b[1] - 1e-9);
  let best = { ...defaultEngineOptions };
  let bestScore = score(best);
  for (let round = 0; round < Number(values.rounds); round++) {
    let changed = false;
    for (const [name, neighbours] of Object.entries(moves) as Array<[keyof EngineOptions, (value: number) => number[]]>) {
      for (const value of neighbours(best[name])) {
        const candidate = { ...best, [name]: Number(value.toPrecision(4)) };
        const candidateScore = score(candidate);
        if (better(candidateScore, bestScore)) {
          best = candidate;
          bestScore = candidateScore;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  console.log(`best NoC@90 ${bestScore[0].toFixed(2)} NoC@85 ${bestScore[1].toFixed(2)}`);
  console.log(JSON.stringify(best));
}

main();
