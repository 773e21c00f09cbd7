/**
 * The model registry: every folder with a model.json under the built-in models folder and the user's models
 * folder. The default is the best learned model present, else the non-learned one. Folders whose name starts
 * with a dot are the installer's staging and removal folders (electron/models/install.ts) and are never listed.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelRecord } from '../core/api/records';
import { parseManifest } from '../core/manifest';
import { type AddModelOptions, type AddModelResult, addModel, type InstallRecord, removeModel } from './models/install';

export interface ModelEntry extends ModelRecord {
  dir: string;
}

/** Preference order for the default model; anything else comes after, learned first. */
const preferred = ['pixelwise-unet-s', 'pixelwise-colorpos'];

/**
 * sha256 of model files, read 4 MiB at a time and remembered by size and modification time. Reading each model
 * whole at every refresh held its size in memory (up to 2 GiB for one model), and past 2 GiB readFileSync threw,
 * which hid the model instead of listing it as damaged. The embedder checks the sha256 again when it loads a
 * model, so a remembered digest never lets a changed file run.
 */
class FileDigests {
  private readonly known = new Map<string, { size: number; mtimeMs: number; digest: string }>();

  sha256(path: string): string | null {
    if (!existsSync(path)) return null;
    const { size, mtimeMs } = statSync(path);
    const cached = this.known.get(path);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.digest;
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(4 * 1024 * 1024);
    const fd = openSync(path, 'r');
    try {
      for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) hash.update(buffer.subarray(0, read));
    } finally {
      closeSync(fd);
    }
    const digest = hash.digest('hex');
    this.known.set(path, { size, mtimeMs, digest });
    return digest;
  }
}

function readEntry(dir: string, builtin: boolean, digests: FileDigests): ModelEntry | null {
  const manifestPath = join(dir, 'model.json');
  if (!existsSync(manifestPath)) return null;
  try {
    const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
    const available = digests.sha256(join(dir, manifest.file)) === manifest.sha256;
    return { id: manifest.id, manifest, available, builtin, dir, sizeOnDisk: folderSize(dir), source: builtin ? null : installSource(dir) };
  } catch {
    return null; // a broken user model must not take the studio down; it is simply not listed
  }
}

function folderSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isFile() ? statSync(join(dir, entry.name)).size : 0), 0);
}

function installSource(dir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'install.json'), 'utf8')) as InstallRecord).source;
  } catch {
    return null; // copied into the models folder by hand
  }
}

export class ModelRegistry {
  private entries: ModelEntry[] = [];
  private readonly digests = new FileDigests();

  constructor(private readonly folders: Array<{ dir: string; builtin: boolean }>) {
    this.refresh();
  }

  refresh(): void {
    const found = new Map<string, ModelEntry>();
    for (const { dir, builtin } of this.folders) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        if (name.startsWith('.')) continue;
        const entry = readEntry(join(dir, name), builtin, this.digests);
        if (entry && !found.has(entry.id)) found.set(entry.id, entry);
      }
    }
    const rank = (entry: ModelEntry) => {
      const index = preferred.indexOf(entry.id);
      return index >= 0 ? index : preferred.length + (entry.manifest.kind === 'learned' ? 0 : 1);
    };
    this.entries = [...found.values()].sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
  }

  /** The user's models folder, where models are added and removed. */
  userDir(): string {
    const user = this.folders.find((folder) => !folder.builtin);
    if (!user) throw new Error('no user models folder is configured');
    return user.dir;
  }

  /** Verifies and installs a model from a folder, a model.json path or an http(s) URL (see models/install.ts). */
  async add(source: string, options: Omit<AddModelOptions, 'reserved'> = {}): Promise<AddModelResult> {
    try {
      return await addModel(source, this.userDir(), { ...options, reserved: this.builtinIds() });
    } finally {
      this.refresh();
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await removeModel(id, this.userDir(), this.builtinIds());
    } finally {
      this.refresh();
    }
  }

  private builtinIds(): string[] {
    return this.entries.filter((entry) => entry.builtin).map((entry) => entry.id);
  }

  list(): ModelEntry[] {
    return this.entries;
  }

  defaultId(): string {
    const entry = this.entries.find((e) => e.available);
    if (!entry) throw new Error('no usable embedding model found (models/builtin is empty or damaged)');
    return entry.id;
  }

  get(id?: string): ModelEntry {
    const wanted = id ?? this.defaultId();
    const entry = this.entries.find((e) => e.id === wanted);
    if (!entry) throw new Error(`unknown model "${wanted}"; available: ${this.entries.map((e) => e.id).join(', ')}`);
    if (!entry.available) throw new Error(`model "${wanted}" is damaged: its ONNX file is missing or does not match model.json`);
    return entry;
  }
}
