/** Per-project settings (key -> JSON value), e.g. the embedding model the project works with. */
import type { Db } from './connection';

export function settingsRepository(db: Db) {
  const get = db.prepare('SELECT value FROM settings WHERE key = ?').pluck();
  const set = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  return {
    /** The stored value, or undefined when unset or not valid JSON (the file was edited outside the app). */
    get<T>(key: string): T | undefined {
      const text = get.get(key) as string | undefined;
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as T;
      } catch {
        return undefined;
      }
    },
    set(key: string, value: unknown): void {
      set.run(key, JSON.stringify(value));
    },
  };
}

export type SettingsRepository = ReturnType<typeof settingsRepository>;
