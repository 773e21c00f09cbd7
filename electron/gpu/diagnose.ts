/**
 * Says which execution provider is active and, when CUDA is not, exactly why. Checks, in order, for Linux x64:
 *   1. an NVIDIA driver: /proc/driver/nvidia/version or libcuda.so.1 on the library path;
 *   2. the CUDA 12 runtime libraries onnxruntime-node 1.30's CUDA provider links against (libcudart.so.12,
 *      libcublas.so.12, libcublasLt.so.12, libcufft.so.11, libcurand.so.10: "built with CUDA 12.x, compatible with
 *      any CUDA 12.x", onnxruntime's CUDA EP requirements);
 *   3. cuDNN 9 (libcudnn.so.9; "built with cuDNN 9.x is not compatible with cuDNN 8.x");
 *   4. the CUDA provider itself (libonnxruntime_providers_cuda.so beside onnxruntime-node's binding, which only
 *      `npm run gpu:install` puts there: installs skip onnxruntime-node's download script);
 *   5. when all are present and the session still failed, the error onnxruntime gave (the embedder's attempts).
 * Every failed check is reported, so one reading fixes everything; the first one is "the" reason.
 * The roots (driver file, library folders, ldconfig cache, provider folder) are parameters so tests can point the
 * checks at fake folders; `systemRoots()` gives the real ones.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GpuDiagnosis, GpuFinding, GpuFindingCode, RuntimeInfo } from '../../core/api/records';

export interface GpuRoots {
  platform: string;
  arch: string;
  /** /proc/driver/nvidia/version on a real machine. */
  driverVersionFile: string;
  /** Folders searched for libraries, in order. */
  libraryDirs: string[];
  /** The dynamic linker's cache (`ldconfig -p`): library file name -> path. */
  cachedLibraries: Map<string, string>;
  /** The folder onnxruntime-node loads its binding and execution providers from. */
  providerDir: string;
}

/** Library name (without .so) and the major version onnxruntime-node 1.30's CUDA provider needs. */
const cudaLibraries: Array<[string, string]> = [
  ['libcudart', '12'], ['libcublas', '12'], ['libcublasLt', '12'], ['libcufft', '11'], ['libcurand', '10'],
];
const cudnnLibrary: [string, string] = ['libcudnn', '9'];
const providerLibraries = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
/** Where distributions and NVIDIA's installers put the libraries (WSL's driver lives in /usr/lib/wsl/lib). */
const standardDirs = [
  '/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu',
  '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/lib/wsl/lib',
];
const cudaLink = 'https://developer.nvidia.com/cuda-12-0-0-download-archive';
const cudnnLink = 'https://developer.nvidia.com/cudnn-downloads';
const requirementsLink = 'https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements';

/** onnxruntime-node's native folder for this platform (bin/napi-v6/<platform>/<arch>). */
export function onnxruntimeBinDir(platform: string = process.platform, arch: string = process.arch): string {
  const main = require.resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', platform, arch);
}

/** `ldconfig -p` lines "\tlibcudart.so.12 (libc6,x86-64) => /usr/lib/.../libcudart.so.12" as name -> path. */
export function parseLdconfig(text: string): Map<string, string> {
  const libraries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (match && !match[2].includes('x32') && !libraries.has(match[1])) libraries.set(match[1], match[3]);
  }
  return libraries;
}

function ldconfigCache(): Map<string, string> {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      return parseLdconfig(execFileSync(ldconfig, ['-p'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      // not there or not runnable: the next candidate, then the folders alone
    }
  }
  return new Map();
}

/** The real machine's roots: LD_LIBRARY_PATH, then the folders of the ldconfig cache, then the standard folders. */
export function systemRoots(env: NodeJS.ProcessEnv = process.env): GpuRoots {
  const cachedLibraries = process.platform === 'linux' ? ldconfigCache() : new Map<string, string>();
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const fromCache = [...cachedLibraries.values()].map((path) => dirname(path));
  return {
    platform: process.platform,
    arch: process.arch,
    driverVersionFile: '/proc/driver/nvidia/version',
    libraryDirs: [...new Set([...fromEnv, ...fromCache, ...standardDirs])],
    cachedLibraries,
    providerDir: onnxruntimeBinDir(),
  };
}

interface LibraryMatch {
  /** Path of a file with the wanted major version, or null. */
  found: string | null;
  /** Other major versions seen (e.g. "11" for libcudart.so.11), each with one path. */
  others: Array<{ major: string; path: string }>;
}

/** Looks for `<name>.so.<major>` (or a fuller version of it) in the folders and the ldconfig cache. */
function findLibrary(roots: GpuRoots, name: string, major: string, listings: Map<string, string[]>): LibraryMatch {
  const pattern = new RegExp(`^${name}\\.so\\.(\\d+)(\\.[\\d.]+)?$`);
  const others = new Map<string, string>();
  const candidates: Array<[string, string]> = [...roots.cachedLibraries].map(([file, path]) => [file, path]);
  for (const dir of roots.libraryDirs) {
    for (const file of listing(dir, listings)) candidates.push([file, join(dir, file)]);
  }
  for (const [file, path] of candidates) {
    const match = pattern.exec(file);
    if (!match) continue;
    if (match[1] === major) return { found: path, others: [] };
    if (!others.has(match[1])) others.set(match[1], path);
  }
  return { found: null, others: [...others].map(([version, path]) => ({ major: version, path })) };
}

function listing(dir: string, listings: Map<string, string[]>): string[] {
  let files = listings.get(dir);
  if (!files) {
    try {
      files = readdirSync(dir);
    } catch {
      files = [];
    }
    listings.set(dir, files);
  }
  return files;
}

function finding(code: GpuFindingCode, words: Omit<GpuFinding, 'code'>): GpuFinding {
  return { code, ...words };
}

/** Missing and wrong-version findings for one group of libraries (CUDA or cuDNN). */
function libraryFindings(
  group: 'cuda' | 'cudnn', libraries: Array<[string, string]>, roots: GpuRoots, listings: Map<string, string[]>,
): GpuFinding[] {
  const missing: string[] = [], wrong: string[] = [], found: string[] = [];
  for (const [name, major] of libraries) {
    const match = findLibrary(roots, name, major, listings);
    if (match.found) continue;
    if (match.others.length) {
      wrong.push(`${name}.so.${major}`);
      found.push(...match.others.map((other) => other.path));
    } else {
      missing.push(`${name}.so.${major}`);
    }
  }
  const needed = group === 'cuda' ? 'CUDA 12' : 'cuDNN 9';
  const command = group === 'cuda' ? 'sudo apt install cuda-libraries-12-6' : 'sudo apt install cudnn9-cuda-12';
  const link = group === 'cuda' ? cudaLink : cudnnLink;
  const what = group === 'cuda' ? 'CUDA 12 (any 12.x)' : 'cuDNN 9 for CUDA 12';
  const fix = `Install ${what} and put its lib folder on LD_LIBRARY_PATH, or on Debian and Ubuntu with NVIDIA's repository run: ${command}`;
  const findings: GpuFinding[] = [];
  if (missing.length) {
    findings.push(finding(`${group}-missing`, {
      title: `${needed} libraries not found`,
      message: `The ${needed} libraries the CUDA provider needs are not on the library path: ${missing.join(', ')}.`,
      fix, command, link, params: { libraries: missing.join(', '), needed },
    }));
  }
  if (wrong.length) {
    findings.push(finding(`${group}-wrong-version`, {
      title: `wrong ${group === 'cuda' ? 'CUDA' : 'cuDNN'} version`,
      message: `onnxruntime-node 1.30 needs ${needed} (${wrong.join(', ')}), but only other versions are installed: ${found.join(', ')}.`,
      fix, command, link, params: { libraries: wrong.join(', '), found: found.join(', '), needed },
    }));
  }
  return findings;
}

function driverFindings(roots: GpuRoots, listings: Map<string, string[]>): { version: string | null; findings: GpuFinding[] } {
  let version: string | null = null;
  const hasModule = existsSync(roots.driverVersionFile);
  if (hasModule) {
    const text = readFileSync(roots.driverVersionFile, 'utf8');
    version = /Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)/.exec(text)?.[1] ?? text.split('\n')[0].trim();
  }
  const library = findLibrary(roots, 'libcuda', '1', listings).found;
  const link = 'https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html';
  if (!hasModule && !library) {
    return { version, findings: [finding('no-driver', {
      title: 'no NVIDIA driver',
      message: `No NVIDIA driver is installed: ${roots.driverVersionFile} does not exist and libcuda.so.1 is not on the library path.`,
      fix: 'Install the NVIDIA driver (525 or newer for CUDA 12) on a machine with an NVIDIA GPU, then restart.',
      command: 'sudo ubuntu-drivers install', link, params: { file: roots.driverVersionFile },
    })] };
  }
  if (!library) {
    return { version, findings: [finding('driver-library-missing', {
      title: 'libcuda.so.1 not found',
      message: `The NVIDIA kernel module ${version ?? ''} is loaded, but its user-space library libcuda.so.1 is not on the library path.`,
      fix: 'Install the driver\'s user-space libraries of the same version (libnvidia-compute) or add their folder to LD_LIBRARY_PATH.',
      command: null, link, params: { version: version ?? '' },
    })] };
  }
  return { version, findings: [] };
}

/** Checks 1 to 4: the driver, the CUDA and cuDNN libraries, the provider's files. */
function machineFindings(roots: GpuRoots, listings: Map<string, string[]>): { driverVersion: string | null; findings: GpuFinding[] } {
  if (roots.platform !== 'linux' || roots.arch !== 'x64') {
    return { driverVersion: null, findings: [finding('platform-unsupported', {
      title: `no CUDA checks on ${roots.platform}-${roots.arch}`,
      message: `The studio checks CUDA's libraries on Linux x64 only; onnxruntime-node publishes its CUDA provider for Linux x64 and Windows x64 (this is ${roots.platform}-${roots.arch}).`,
      fix: 'On Windows x64 install CUDA 12 and cuDNN 9 and run `npm run gpu:install`; elsewhere the studio runs on the CPU.',
      command: null, link: requirementsLink, params: { platform: `${roots.platform}-${roots.arch}` },
    })] };
  }
  const driver = driverFindings(roots, listings);
  const findings = [
    ...driver.findings,
    ...libraryFindings('cuda', cudaLibraries, roots, listings),
    ...libraryFindings('cudnn', [cudnnLibrary], roots, listings),
  ];
  const absent = providerLibraries.filter((file) => !listing(roots.providerDir, listings).includes(file));
  if (absent.length) {
    findings.push(finding('provider-not-installed', {
      title: 'CUDA provider not installed',
      message: `onnxruntime-node's CUDA provider is not installed: ${absent.join(', ')} missing in ${roots.providerDir}.`,
      fix: 'Run the opt-in installer in the studio\'s folder (it downloads the provider from NuGet), then restart the studio.',
      command: 'npm run gpu:install', link: requirementsLink, params: { files: absent.join(', '), folder: roots.providerDir },
    }));
  }
  return { driverVersion: driver.version, findings };
}

/**
 * The diagnosis for `runtime` (the embedder's provider and attempts) on the machine `roots` describes.
 * Bounded: reads one small file and lists each library folder once. Running on CUDA settles it, even with
 * libraries in folders these checks do not know (a conda environment): no findings then.
 */
export function diagnoseGpu(runtime: Pick<RuntimeInfo, 'provider' | 'attempts'>, roots: GpuRoots = systemRoots()): GpuDiagnosis {
  const cudaAttempt = runtime.attempts.find((attempt) => attempt.provider === 'cuda');
  const { driverVersion, findings }: { driverVersion: string | null; findings: GpuFinding[] } = runtime.provider === 'cuda'
    ? { driverVersion: null, findings: [] }
    : machineFindings(roots, new Map());
  if (!findings.length && cudaAttempt && !cudaAttempt.ok) {
    findings.push(finding('session-failed', {
      title: 'onnxruntime could not start CUDA',
      message: `Every library is in place but onnxruntime could not create a CUDA session: ${cudaAttempt.error ?? 'no error given'}.`,
      fix: 'Check that the GPU is visible (nvidia-smi) and that the CUDA 12 and cuDNN 9 versions match the driver; the error above names the part that failed.',
      command: 'nvidia-smi', link: requirementsLink, params: { error: cudaAttempt.error ?? '' },
    }));
  }
  if (runtime.provider !== null && !cudaAttempt) {
    findings.push(finding('cuda-not-requested', {
      title: 'CUDA not requested',
      message: 'CUDA was not tried: PIXELWISE_PROVIDERS lists only the CPU.',
      fix: 'Start the studio without PIXELWISE_PROVIDERS (or with PIXELWISE_PROVIDERS=cuda,cpu).',
      command: null, link: null, params: {},
    }));
  }
  return {
    provider: runtime.provider,
    cudaFailed: Boolean(cudaAttempt && !cudaAttempt.ok),
    platform: `${roots.platform}-${roots.arch}`,
    driverVersion,
    findings,
    attempts: runtime.attempts,
    libraryDirs: roots.libraryDirs,
  };
}
