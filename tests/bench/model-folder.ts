/** How every benchmark script finds a model: an id under models/builtin or models/experiments, or a folder path. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/** The folder holding the model's model.json, or null. */
export function findModelFolder(model: string): string | null {
  for (const candidate of [join(root, 'models/builtin', model), join(root, 'models/experiments', model), resolve(model)]) {
    if (existsSync(join(candidate, 'model.json'))) return candidate;
  }
  return null;
}

export function modelFolder(model: string): string {
  const folder = findModelFolder(model);
  if (!folder) throw new Error(`no model.json for model ${model} (looked in models/builtin, models/experiments and as a path)`);
  return folder;
}

/** The first 12 hex digits of the model file's sha256 (from its manifest): cache keys change when the weights do. */
export function modelSha(model: string): string {
  return (JSON.parse(readFileSync(join(modelFolder(model), 'model.json'), 'utf8')) as { sha256: string }).sha256.slice(0, 12);
}
