/** `pixelwise gpu` as users run it: the built bin on this machine, which has no NVIDIA driver and no CUDA provider. */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GpuDiagnosis } from '../core/api/records';
import { tempDir } from './fixtures';

const bin = resolve(__dirname, '..', 'bin', 'pixelwise.cjs');

describe('pixelwise gpu', () => {
  it('says CPU is active because there is no NVIDIA driver, with every finding and its fix, as JSON', () => {
    const { PIXELWISE_PROVIDERS: _providers, ...env } = process.env; // the default order: CUDA first, then CPU
    const result = spawnSync(process.execPath, [bin, 'gpu', '--data-dir', join(tempDir(), 'data')], { encoding: 'utf8', env, timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    const diagnosis = JSON.parse(result.stdout) as GpuDiagnosis;
    expect(diagnosis).toMatchObject({ provider: 'cpu', cudaFailed: true, driverVersion: null });
    expect(diagnosis.attempts.map((a) => [a.provider, a.ok])).toEqual([['cuda', false], ['cpu', true]]);
    expect(diagnosis.findings[0]).toMatchObject({ code: 'no-driver', title: 'no NVIDIA driver' });
    expect(diagnosis.findings[0].message).toMatch(/\/proc\/driver\/nvidia\/version does not exist and libcuda\.so\.1 is not on the library path/);
    expect(diagnosis.findings.find((f) => f.code === 'provider-not-installed')?.command).toBe('npm run gpu:install');
    for (const finding of diagnosis.findings) expect(finding.fix.length).toBeGreaterThan(20);
  });
});
