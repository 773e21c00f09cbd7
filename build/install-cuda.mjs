// Opt-in GPU support: downloads onnxruntime-node's CUDA 12 execution provider (from NuGet, as its own install
// script would). Installs do not run that script (allowScripts in package.json), so they work offline and on CPU machines.
// Needs: Linux x64 or Windows x64, an NVIDIA driver, CUDA 12 and cuDNN 9 libraries on the library path.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const packageDir = dirname(dirname(require.resolve('onnxruntime-node')));
console.log('Installing the CUDA execution provider for onnxruntime-node...');
execFileSync(process.execPath, [join(packageDir, 'script', 'install.js')], {
  cwd: packageDir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
});
console.log('Done. Start the studio: the status bar shows "CUDA" when the GPU is used (it falls back to CPU otherwise).');
