/** Where things are on disk: the app's own files (models, renderer) and the user's data folder. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The folder holding package.json: the repository in development, the app folder when packaged. */
export function appRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the app folder above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** Built-in models: beside the app, or in Electron's resources folder once packaged. */
export function builtinModelsDir(): string {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const packaged = resources ? join(resources, 'models', 'builtin') : null;
  return packaged && existsSync(packaged) ? packaged : join(appRoot(), 'models', 'builtin');
}

export function rendererDir(): string {
  return join(appRoot(), 'out', 'renderer');
}

export function outFile(name: string): string {
  return join(appRoot(), 'out', name);
}

export function defaultDataDir(): string {
  return process.env.PIXELWISE_DATA_DIR ?? join(homedir(), '.pixelwise');
}
