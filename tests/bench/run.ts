/**
 * `npm run bench`: every speed and memory benchmark in turn, each printing its own numbers.
 * Accuracy benchmarks need the public datasets and run separately (`npm run eval:clicks`, see README).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const benches = ['foundation.ts', 'click-latency.ts', 'search-bench.ts'];
let failed = 0;
for (const bench of benches) {
  const file = join(__dirname, bench);
  if (!existsSync(file)) continue;
  console.log(`\n== ${bench} ==`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
