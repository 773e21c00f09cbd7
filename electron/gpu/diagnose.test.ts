/**
 * GPU diagnosis against fake machines: library folders made here with empty files named like the real libraries
 * (libcudart.so.11 vs .12, libcudnn.so.8 vs .9), a fake /proc driver version file, a fake onnxruntime bin folder.
 * Each "missing" and "wrong version" case gets its own code and words; a complete machine gets none.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GpuFinding, gpuFindingCodes, type RuntimeInfo } from '../../core/api/records';
import en from '../../renderer/src/i18n/en/app';
import ru from '../../renderer/src/i18n/ru/app';
import { tempDir } from '../../tests/fixtures';
import { externalUrlAllowed } from '../main/security';
import { diagnoseGpu, type GpuRoots, parseLdconfig } from './diagnose';

const cuda12 = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10'];
const provider = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime.so.1'];
const triedCuda: Pick<RuntimeInfo, 'provider' | 'attempts'> = {
  provider: 'cpu',
  attempts: [{ provider: 'cuda', ok: false, error: 'CUDA failure 100: no CUDA-capable device is detected' }, { provider: 'cpu', ok: true, error: null }],
};

/** A fake machine: `libs` (empty files) in one library folder, the driver file when `driver` is set, `bin` files. */
function machine(options: { driver?: string; libs: string[]; bin: string[] }): GpuRoots {
  const root = tempDir('pixelwise-gpu-');
  const libraryDir = join(root, 'lib'), providerDir = join(root, 'bin'), driverVersionFile = join(root, 'proc-driver-nvidia-version');
  mkdirSync(libraryDir);
  mkdirSync(providerDir);
  for (const file of options.libs) writeFileSync(join(libraryDir, file), '');
  for (const file of options.bin) writeFileSync(join(providerDir, file), '');
  if (options.driver) writeFileSync(driverVersionFile, options.driver);
  return { platform: 'linux', arch: 'x64', driverVersionFile, libraryDirs: [join(root, 'nothing-here'), libraryDir], cachedLibraries: new Map(), providerDir };
}

const driverText = 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0\n';
const complete = ['libcuda.so.1', ...cuda12, 'libcudnn.so.9'];
/** One finding of each code, from fake machines broken in every way the checks know. */
function everyKindOfFinding(): GpuFinding[] {
  const cpuOnly: Pick<RuntimeInfo, 'provider' | 'attempts'> = { provider: 'cpu', attempts: [{ provider: 'cpu', ok: true, error: null }] };
  return [
    ...[
      machine({ libs: ['libcudart.so.11', 'libcudnn.so.8'], bin: [] }),
      machine({ driver: driverText, libs: [], bin: provider }),
      machine({ driver: driverText, libs: complete, bin: provider }),
      { ...machine({ libs: [], bin: [] }), platform: 'darwin', arch: 'arm64' },
    ].flatMap((roots) => diagnoseGpu(triedCuda, roots).findings),
    ...diagnoseGpu(cpuOnly, machine({ driver: driverText, libs: complete, bin: provider })).findings,
  ];
}

const codes = (roots: GpuRoots, runtime = triedCuda) => diagnoseGpu(runtime, roots).findings.map((f) => f.code);

describe('GPU diagnosis', () => {
  it('says there is no NVIDIA driver when neither the kernel module nor libcuda.so.1 is there', () => {
    const roots = machine({ libs: [...cuda12, 'libcudnn.so.9'], bin: provider });
    const diagnosis = diagnoseGpu(triedCuda, roots);
    expect(diagnosis.findings.map((f) => f.code)).toEqual(['no-driver']);
    expect(diagnosis.findings[0].message).toContain(roots.driverVersionFile);
    expect(diagnosis.findings[0].message).toContain('libcuda.so.1');
    expect(diagnosis).toMatchObject({ provider: 'cpu', cudaFailed: true, driverVersion: null });
  });

  it('reads the driver version, and names a loaded module without its libcuda.so.1', () => {
    const roots = machine({ driver: driverText, libs: [...cuda12, 'libcudnn.so.9'], bin: provider });
    const diagnosis = diagnoseGpu(triedCuda, roots);
    expect(diagnosis.driverVersion).toBe('550.54.14');
    expect(diagnosis.findings.map((f) => f.code)).toEqual(['driver-library-missing']);
    expect(diagnosis.findings[0].message).toMatch(/550\.54\.14 is loaded.*libcuda\.so\.1/);
  });

  it('names each missing CUDA 12 library, and CUDA 11 ones as the wrong version', () => {
    const missing = diagnoseGpu(triedCuda, machine({ libs: ['libcuda.so.1', 'libcudart.so.12', 'libcudnn.so.9'], bin: provider }));
    expect(missing.findings.map((f) => f.code)).toEqual(['cuda-missing']);
    expect(missing.findings[0].params.libraries).toBe('libcublas.so.12, libcublasLt.so.12, libcufft.so.11, libcurand.so.10');
    expect(missing.findings[0].message).toMatch(/CUDA 12 libraries .* not on the library path: libcublas\.so\.12/);

    const cuda11 = ['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10', 'libcurand.so.10'];
    const roots = machine({ driver: driverText, libs: ['libcuda.so.1', ...cuda11, 'libcudnn.so.9'], bin: provider });
    const wrong = diagnoseGpu(triedCuda, roots);
    expect(wrong.findings.map((f) => f.code)).toEqual(['cuda-wrong-version']);
    expect(wrong.findings[0].message).toContain('needs CUDA 12 (libcudart.so.12, libcublas.so.12, libcublasLt.so.12, libcufft.so.11)');
    expect(wrong.findings[0].message).toContain(`only other versions are installed: ${join(roots.libraryDirs[1], 'libcudart.so.11.0')}, `);
    // curand 10 ships with CUDA 12 too; libcublas.so.11 is not taken for libcublasLt's
    expect(wrong.findings[0].params.found.split(', ').map((path) => path.slice(roots.libraryDirs[1].length + 1)))
      .toEqual(['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10']);
  });

  it('tells cuDNN 8 from a missing cuDNN 9', () => {
    expect(codes(machine({ driver: driverText, libs: ['libcuda.so.1', ...cuda12], bin: provider }))).toEqual(['cudnn-missing']);
    const roots = machine({ driver: driverText, libs: ['libcuda.so.1', ...cuda12, 'libcudnn.so.8', 'libcudnn.so.8.9.7'], bin: provider });
    const diagnosis = diagnoseGpu(triedCuda, roots);
    expect(diagnosis.findings.map((f) => f.code)).toEqual(['cudnn-wrong-version']);
    expect(diagnosis.findings[0].message).toMatch(/needs cuDNN 9 \(libcudnn\.so\.9\), but only other versions are installed: \S*libcudnn\.so\.8(\.9\.7)?\.$/);
    expect(diagnosis.findings[0].link).toMatch(/^https:\/\/developer\.nvidia\.com\//);
  });

  it('says the CUDA provider is not installed and gives the install command', () => {
    const diagnosis = diagnoseGpu(triedCuda, machine({ driver: driverText, libs: complete, bin: ['libonnxruntime.so.1'] }));
    expect(diagnosis.findings.map((f) => f.code)).toEqual(['provider-not-installed']);
    expect(diagnosis.findings[0].command).toBe('npm run gpu:install');
    expect(diagnosis.findings[0].message).toContain('libonnxruntime_providers_cuda.so');
  });

  it('with every part present, passes on the error onnxruntime gave', () => {
    const diagnosis = diagnoseGpu(triedCuda, machine({ driver: driverText, libs: complete, bin: provider }));
    expect(diagnosis.findings.map((f) => f.code)).toEqual(['session-failed']);
    expect(diagnosis.findings[0].message).toContain('CUDA failure 100: no CUDA-capable device is detected');
  });

  it('reports nothing when CUDA runs, and says when CUDA was not asked for', () => {
    const roots = machine({ libs: [], bin: [] });
    const onCuda = diagnoseGpu({ provider: 'cuda', attempts: [{ provider: 'cuda', ok: true, error: null }] }, roots);
    expect(onCuda).toMatchObject({ provider: 'cuda', cudaFailed: false, findings: [] });
    expect(codes(machine({ driver: driverText, libs: complete, bin: provider }), { provider: 'cpu', attempts: [{ provider: 'cpu', ok: true, error: null }] }))
      .toEqual(['cuda-not-requested']);
  });

  it('finds libraries through the ldconfig cache as well as the folders', () => {
    const cache = parseLdconfig([
      '974 libs found in cache `/etc/ld.so.cache\'',
      '\tlibcudnn.so.9 (libc6,x86-64) => /opt/cudnn/lib/libcudnn.so.9',
      '\tlibcudart.so.12 (libc6,x86-64) => /opt/cuda/lib64/libcudart.so.12',
    ].join('\n'));
    expect(cache.get('libcudnn.so.9')).toBe('/opt/cudnn/lib/libcudnn.so.9');
    const roots = { ...machine({ driver: driverText, libs: ['libcuda.so.1', ...cuda12.slice(1)], bin: provider }), cachedLibraries: cache };
    expect(codes(roots)).toEqual(['session-failed']);
  });


  it('gives links the desktop app may open in the browser (its allowlist) for every kind of finding', () => {
    const findings = everyKindOfFinding();
    for (const { code, link } of findings) expect(link === null || externalUrlAllowed(link), `${code}: ${link}`).toBe(true);
  });

  it('has English and Russian words for every code, naming only values the finding carries', () => {
    const byCode = new Map(everyKindOfFinding().map((f) => [f.code, f]));
    expect([...byCode.keys()].sort()).toEqual([...gpuFindingCodes].sort());
    for (const messages of [en, ru]) {
      const gpu = messages.gpu as unknown as Record<'titles' | 'findings' | 'fixes', Record<string, string>>;
      for (const code of gpuFindingCodes) {
        for (const part of ['titles', 'findings', 'fixes'] as const) expect(typeof gpu[part][code], `${part}.${code}`).toBe('string');
        const placeholders = [...gpu.findings[code].matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        for (const name of placeholders) expect(Object.keys(byCode.get(code)!.params), `${code}: {${name}}`).toContain(name);
      }
    }
  });
});
