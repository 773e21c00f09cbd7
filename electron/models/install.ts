/**
 * Adding and removing user models. A model arrives in a staging folder `.partial-<id>/` inside the models folder,
 * is checked there (sha256 against model.json, then inputs/outputs in a real onnxruntime session) and only then
 * renamed to `<id>/` in one step, so the registry never sees a half-installed or unchecked model. An interrupted
 * download keeps its bytes in the staging folder and the next add of the same model resumes from them; every other
 * failure removes the staging folder. A removed or replaced model is renamed to `.trash-<pid>-...` before it is
 * deleted, and trash left by a process that died is swept by the next remove or replace.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type ModelManifest, ManifestError, parseManifest } from '../../core/manifest';
import { checkOnnxAgainstManifest } from './check-onnx';
import { type DownloadProgress, DownloadError, downloadFile, fetchText } from './download';

export interface AddModelOptions {
  /** Replace an installed user model with the same id. */
  replace?: boolean;
  /** Ids that may not be installed or removed (the built-in models). */
  reserved?: readonly string[];
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Largest ONNX file accepted, in bytes (default: just under 2 GiB). */
  maxBytes?: number;
  /** Give a download up after this many seconds without a byte (default 30). */
  stallSeconds?: number;
}

export interface AddModelResult {
  id: string;
  dir: string;
  source: string;
  bytes: number;
}

/** What install.json (written beside model.json) records about where a model came from. */
export interface InstallRecord {
  source: string;
  installedAt: string;
}

export class ModelInstallError extends Error {
  override name = 'ModelInstallError';
}

/**
 * A single-file ONNX model cannot pass 2 GiB (protobuf's limit; bigger models need external data files, which a
 * manifest with one `file` cannot describe), and the embedder reads the file whole with readFile, which stops there.
 */
const defaultMaxBytes = 2 ** 31 - 1;
const maxManifestBytes = 1024 * 1024;

/** Installs the model at `source` (a folder, a model.json path or an http(s) URL of a model.json) into `modelsDir`. */
export async function addModel(source: string, modelsDir: string, options: AddModelOptions = {}): Promise<AddModelResult> {
  const remote = /^https?:\/\//i.test(source);
  if (!remote && /^[a-z][a-z0-9+.-]+:\/\//i.test(source)) throw new ModelInstallError(`${source}: only http:// and https:// addresses can be downloaded`);
  const origin = remote ? source : resolve(source);
  const { text, manifestPath } = remote ? { text: await fetchText(source, maxManifestBytes, options.signal, options.stallSeconds), manifestPath: source } : await readLocalManifest(origin);
  const manifest = parse(text, manifestPath);
  const { id } = manifest;
  if (options.reserved?.includes(id)) throw new ModelInstallError(`model "${id}" is built in; give the model another id in its model.json to add it`);
  const target = join(modelsDir, id);
  if (existsSync(target) && !options.replace) throw new ModelInstallError(`model "${id}" is already installed (add it with --replace to replace it)`);

  await mkdir(modelsDir, { recursive: true });
  const unlock = await lock(join(modelsDir, `.adding-${id}.lock`), id);
  try {
    return await install(manifest, text, manifestPath, origin, join(modelsDir, `.partial-${id}`), target, options);
  } finally {
    await unlock();
  }
}

/** Stages, downloads or copies, verifies and renames one model into place (see the top of this file). */
async function install(manifest: ModelManifest, text: string, from: string, origin: string, staging: string, target: string, options: AddModelOptions): Promise<AddModelResult> {
  const stagedManifest = join(staging, 'model.json');
  // A staging folder left by another version of this model holds bytes of another file: start over.
  if (existsSync(stagedManifest) && (await readFile(stagedManifest, 'utf8')) !== text) await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(stagedManifest, text);
  const stagedModel = join(staging, manifest.file);
  try {
    const bytes = /^https?:\/\//i.test(from)
      ? await downloadFile(new URL(manifest.file, from).href, stagedModel, { ...options, maxBytes: options.maxBytes ?? defaultMaxBytes })
      : await copyLocal(join(dirname(from), manifest.file), stagedModel, options);
    await verifyChecksum(stagedModel, manifest);
    await checkOnnxAgainstManifest(stagedModel, manifest, manifest.file);
    const record: InstallRecord = { source: origin, installedAt: new Date().toISOString() };
    await writeFile(join(staging, 'install.json'), `${JSON.stringify(record, null, 2)}\n`);
    await swapIn(staging, target);
    return { id: manifest.id, dir: target, source: origin, bytes };
  } catch (error) {
    // Only an interrupted download is worth keeping: its bytes are resumed by the next add.
    const resumable = error instanceof DownloadError && error.resumable && existsSync(stagedModel) && (await stat(stagedModel)).size > 0;
    if (!resumable) await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Takes the lock file `path` for one add of model `id`: two adds of one model at once (the studio and the CLI)
 * would append to the same staging file. A lock whose process is gone is taken over. Returns the release.
 */
async function lock(path: string, id: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (holder && alive(holder)) throw new ModelInstallError(`model "${id}" is being added already (process ${holder}); wait for it to finish`);
    await rm(path, { force: true });
  }
  throw new ModelInstallError(`model "${id}" is being added already; wait for it to finish`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the user model `id` from `modelsDir`; built-in models are refused. */
export async function removeModel(id: string, modelsDir: string, reserved: readonly string[] = []): Promise<void> {
  if (reserved.includes(id)) throw new ModelInstallError(`model "${id}" is built in and cannot be removed`);
  const target = join(modelsDir, id);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(id) || !existsSync(join(target, 'model.json'))) {
    throw new ModelInstallError(`no installed model "${id}" (\`pixelwise models\` lists them)`);
  }
  // Out of the registry's sight in one step, then deleted: an interrupted delete never leaves half a model listed.
  await discard(target);
  await sweepTrash(modelsDir);
}

async function readLocalManifest(path: string): Promise<{ text: string; manifestPath: string }> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ModelInstallError(`${path}: no such file or folder`);
  const manifestPath = info.isDirectory() ? join(path, 'model.json') : path;
  const text = await readFile(manifestPath, 'utf8').catch(() => {
    throw new ManifestError(`${manifestPath}: cannot read the model manifest (a model folder holds model.json and its ONNX file)`);
  });
  if (Buffer.byteLength(text) > maxManifestBytes) throw new ManifestError(`${manifestPath}: larger than ${maxManifestBytes} bytes, not a model manifest`);
  return { text, manifestPath };
}

function parse(text: string, label: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ManifestError(`${label}: the model manifest is not valid JSON`);
  }
  const manifest = parseManifest(json, label);
  // The ONNX file sits beside model.json: a path or URL here could write or fetch anywhere, and the name of a
  // file the installer writes would overwrite it.
  if (/[/\\:]/.test(manifest.file) || ['.', '..', 'model.json', 'install.json'].includes(manifest.file)) {
    throw new ManifestError(`${label}: file must be the name of the ONNX file beside model.json, not "${manifest.file}"`);
  }
  return manifest;
}

async function copyLocal(from: string, to: string, options: AddModelOptions): Promise<number> {
  const info = await stat(from).catch(() => null);
  if (!info?.isFile()) throw new ModelInstallError(`${from}: no such file (model.json names it as the model's ONNX file)`);
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  if (info.size > maxBytes) throw new ModelInstallError(`${from}: ${info.size} bytes is more than the ${maxBytes}-byte limit for a model`);
  await copyFile(from, to);
  options.onProgress?.({ done: info.size, total: info.size, etaSeconds: 0 });
  return info.size;
}

async function verifyChecksum(path: string, manifest: ModelManifest): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  if (digest !== manifest.sha256) {
    throw new ModelInstallError(`${manifest.file}: sha256 is ${digest} but model.json says ${manifest.sha256}; the file is damaged or not the one the manifest describes, nothing was installed`);
  }
}

/** Renames `staging` to `target`; an existing target is moved aside first and restored if the rename fails. */
async function swapIn(staging: string, target: string): Promise<void> {
  if (!existsSync(target)) return void (await rename(staging, target));
  const old = trashName(dirname(target));
  await rename(target, old);
  try {
    await rename(staging, target);
  } catch (error) {
    await rename(old, target);
    throw error;
  }
  await rm(old, { recursive: true, force: true });
  await sweepTrash(dirname(target));
}

/** `.trash-<pid>-<n>`: a model folder on its way out, named for the process deleting it. */
function trashName(modelsDir: string): string {
  return join(modelsDir, `.trash-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
}

async function discard(dir: string): Promise<void> {
  const trash = trashName(dirname(dir));
  await rename(dir, trash);
  await rm(trash, { recursive: true, force: true });
}

/** Deletes what a process that stopped mid-delete left in the trash (a model can be gigabytes). */
async function sweepTrash(modelsDir: string): Promise<void> {
  for (const name of await readdir(modelsDir)) {
    const pid = Number(/^\.trash-(\d+)-/.exec(name)?.[1]);
    if (pid && !alive(pid)) await rm(join(modelsDir, name), { recursive: true, force: true });
  }
}
