/**
 * npm commands in the repository print no "Unknown project config" warning (walkthrough 14), and npm's own
 * install-script policy, which replaced the old `.npmrc` key, keeps onnxruntime-node's install script from running.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');

describe('npm configuration', () => {
  it('npm runs in the repository without config warnings', () => {
    const result = spawnSync('npm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/Unknown (project|env|user) config/);
  });

  it('every dependency install script is reviewed, and onnxruntime-node\'s CUDA download is denied', () => {
    // npm's install-script policy (allowScripts in package.json) replaces the old `.npmrc` key: without it an offline
    // `npm install` fails in onnxruntime-node's postinstall (getaddrinfo ENOTFOUND api.nuget.org).
    const policy = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> }).allowScripts;
    expect(policy['onnxruntime-node']).toBe(false);
    const result = spawnSync('npm', ['install-scripts', 'ls', '--json'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ allowScripts: [] });
  });
});
