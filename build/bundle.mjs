// Bundles the Node side (Electron main, preload, workers, web server, CLI) into out/*.cjs with esbuild.
// Native and asset-carrying packages stay external: they load from node_modules at run time.
import { build } from 'esbuild';

const external = ['electron', 'better-sqlite3', 'onnxruntime-node', 'sharp'];
const entries = {
  main: 'electron/main/main.ts',
  preload: 'electron/main/preload.ts',
  'embed-worker': 'electron/embedding/worker.ts',
  'import-worker': 'electron/formats/import-worker.ts',
  'team-scan-worker': 'electron/team/scan-worker.ts',
  web: 'electron/web/server.ts',
  cli: 'electron/cli/main.ts',
};

await build({
  entryPoints: entries,
  outdir: 'out',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  external,
  logLevel: 'warning',
});
