/**
 * Which models projects use, for the Models view: the open project (live) and the recent ones, each read
 * read-only without migrating (an older file simply has no settings table yet; a damaged or locked one is listed
 * with its error). Counts come from the stored embeddings, the chosen model from the project's settings.
 */
import { basename } from 'node:path';
import Database from 'better-sqlite3';
import type { ProjectModelUsage } from '../../core/api/models-contract';
import { applicationId } from '../../db/connection';

export function projectModelUsage(path: string, nativeBinding?: string): ProjectModelUsage {
  const name = basename(path).replace(/\.[^.]+$/, '');
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, nativeBinding });
    if (db.pragma('application_id', { simple: true }) !== applicationId) throw new Error('not a Pixelwise project');
    const rows = db.prepare('SELECT model_id AS modelId, count(*) AS count FROM embeddings GROUP BY model_id ORDER BY count DESC').all() as Array<{ modelId: string; count: number }>;
    const hasSettings = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'").get() !== undefined;
    const chosen = hasSettings ? (db.prepare("SELECT value FROM settings WHERE key = 'model'").pluck().get() as string | undefined) : undefined;
    return {
      path, name, open: false,
      // Without a choice the studio works with the model that has the most maps (electron/services/studio.ts).
      activeModelId: chosen ? (JSON.parse(chosen) as string) : rows[0]?.modelId ?? null,
      embeddings: Object.fromEntries(rows.map((row) => [row.modelId, row.count])),
      error: null,
    };
  } catch (error) {
    return { path, name, open: false, activeModelId: null, embeddings: {}, error: (error as Error).message };
  } finally {
    db?.close();
  }
}
