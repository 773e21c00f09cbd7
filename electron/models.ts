/**
 * The model registry: every folder with a model.json under the built-in models folder and the user's models
 * folder. The default is the best learned model present, else the non-learned one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelRecord } from '../core/api/records';
import { parseManifest } from '../core/manifest';

export interface ModelEntry extends ModelRecord {
  dir: string;
}

/** Preference order for the default model; anything else comes after, learned first. */
const preferred = ['pixelwise-unet-s', 'pixelwise-colorpos'];

function readEntry(dir: string, builtin: boolean): ModelEntry | null {
  const manifestPath = join(dir, 'model.json');
  if (!existsSync(manifestPath)) return null;
  try {
    const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
    const file = join(dir, manifest.file);
    const available = existsSync(file) && createHash('sha256').update(readFileSync(file)).digest('hex') === manifest.sha256;
    return { id: manifest.id, manifest, available, builtin, dir };
  } catch {
    return null; // a broken user model must not take the studio down; it is simply not listed
  }
}

export class ModelRegistry {
  private entries: ModelEntry[] = [];

  constructor(private readonly folders: Array<{ dir: string; builtin: boolean }>) {
    this.refresh();
  }

  refresh(): void {
    const found = new Map<string, ModelEntry>();
    for (const { dir, builtin } of this.folders) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        const entry = readEntry(join(dir, name), builtin);
        if (entry && !found.has(entry.id)) found.set(entry.id, entry);
      }
    }
    const rank = (entry: ModelEntry) => {
      const index = preferred.indexOf(entry.id);
      return index >= 0 ? index : preferred.length + (entry.manifest.kind === 'learned' ? 0 : 1);
    };
    this.entries = [...found.values()].sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
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
