// Builds better-sqlite3 for Electron's ABI into build/native/electron-<version>/, leaving node_modules' copy
// (built for Node: tests and the CLI use it) alone. The Electron main process loads this copy through
// better-sqlite3's `nativeBinding` option. Uses a prebuilt binary when one can be downloaded, else compiles
// against Electron's headers (an explicit --nodedir, because a global npm `nodedir` would otherwise silently
// point node-gyp at Node's headers). Runs before `npm start`; does nothing when the binary is already there.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const require = createRequire(import.meta.url);
const root = dirname(dirname(new URL(import.meta.url).pathname));
const electronVersion = require('electron/package.json').version;
const target = join(root, 'build', 'native', `electron-${electronVersion}`, 'better_sqlite3.node');
if (existsSync(target)) process.exit(0);

const source = dirname(require.resolve('better-sqlite3/package.json'));
const work = join(tmpdir(), `pixelwise-sqlite-electron-${electronVersion}`);
rmSync(work, { recursive: true, force: true });
cpSync(source, work, { recursive: true, filter: (path) => !relative(source, path).startsWith('build') });
const env = { ...process.env, npm_config_nodedir: '', npm_config_runtime: 'electron', npm_config_target: electronVersion,
  npm_config_disturl: 'https://electronjs.org/headers' };
console.log(`Building better-sqlite3 for Electron ${electronVersion} (once)...`);
const run = (command, args) => execFileSync(command, args, { cwd: work, stdio: 'inherit', env });
try {
  run(process.execPath, [require.resolve('prebuild-install/bin.js', { paths: [source] }), '--runtime', 'electron', '--target', electronVersion]);
} catch {
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [source, root] });
  const headers = join(work, '.electron-headers');
  run(process.execPath, [nodeGyp, 'install', `--target=${electronVersion}`, '--dist-url=https://electronjs.org/headers', `--devdir=${headers}`]);
  run(process.execPath, [nodeGyp, 'rebuild', '--release', `--target=${electronVersion}`, '--runtime=electron',
    '--dist-url=https://electronjs.org/headers', `--nodedir=${join(headers, electronVersion)}`]);
}
mkdirSync(dirname(target), { recursive: true });
cpSync(join(work, 'build', 'Release', 'better_sqlite3.node'), target);
console.log(`better-sqlite3 for Electron: ${target}`);
