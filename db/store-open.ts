/** Opens the Store a `--database` option names: a postgres:// URL, or a project file (SQLite). */
import { PgStore } from './pg/store';
import { parseDatabaseUrl } from './pg/connect';
import { SqliteStore } from './sqlite-store';
import type { Store } from './store';

export async function openStore(database: string, options: { max?: number } = {}): Promise<Store> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(database)) return PgStore.open(parseDatabaseUrl(database).toString(), options);
  return new SqliteStore(database, { create: false });
}
