/**
 * npm commands in the repository print no "Unknown project config" warning (walkthrough 14), and the switch that
 * replaced the old `.npmrc` key still keeps onnxruntime-node's install script from downloading anything.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');

describe('npm configuration', () => {
  it('npm runs in the repository without config warnings', () => {
    const result = spawnSync('npm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/Unknown (project|env|user) config/);
  });

  it('CI installs with onnxruntime-node\'s own skip switch, and that switch makes its install script do nothing', () => {
    expect(readFileSync(join(root, '.ci', 'run'), 'utf8')).toMatch(/^export ONNXRUNTIME_NODE_INSTALL=skip$/m);
    const packageDir = dirname(dirname(require.resolve('onnxruntime-node')));
    // No network here: a download attempt would fail; the switch must end the script before any.
    const result = spawnSync(process.execPath, [join(packageDir, 'script', 'install.js')], {
      cwd: packageDir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', HTTPS_PROXY: 'http://127.0.0.1:9' },
    });
    expect([result.status, result.stdout + result.stderr]).toEqual([0, '']);
  });
});
