import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['core/**/*.test.ts', 'db/**/*.test.ts', 'electron/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Native modules (better-sqlite3, onnxruntime-node, sharp) load once per worker process.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
