/**
 * Opening the team database: the URL checked before anything connects, the connection's failures in a user's
 * words (wrong address, nothing listening, wrong password, no such database, connection lost), and pending schema
 * migrations applied in one transaction under an advisory lock, so a server and its workers starting together
 * migrate once. A database of a newer schema is refused before anything is written.
 */
import pg from 'pg';
import { ApiError } from '../../core/api/contract';
import { NewerSchemaError } from '../store';
import { pgMigrations, pgSchemaVersion } from './schema';

/** The URL as it may be shown: without its password. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

export function parseDatabaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiError('invalid-input', `"${url}" is not a database address; expected postgres://user:password@host:5432/database`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ApiError('invalid-input', `${redactUrl(url)} is not a PostgreSQL address (it should start with postgres://)`);
  }
  if (!parsed.hostname) throw new ApiError('invalid-input', `${redactUrl(url)} names no server (postgres://user:password@host:5432/database)`);
  return parsed;
}

interface PgError extends Error {
  code?: string;
}

/** Connection-class failures: the request did not reach the database, or its answer did not come back. */
export function isConnectionLost(error: unknown): boolean {
  const { code = '', message = '' } = (error ?? {}) as PgError;
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08006', '08003', '08001'].includes(code)
    || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

/** What went wrong with the database, in words; other errors pass through. */
export function databaseError(error: unknown, url: string): unknown {
  if (error instanceof ApiError) return error;
  const { code = '', message = '' } = (error ?? {}) as PgError;
  const where = (() => {
    try {
      const parsed = new URL(url);
      return `${parsed.hostname}:${parsed.port || 5432}`;
    } catch {
      return url;
    }
  })();
  const database = (() => {
    try {
      return new URL(url).pathname.slice(1) || 'postgres';
    } catch {
      return '';
    }
  })();
  if (code === 'ECONNREFUSED') return new ApiError('unavailable', `cannot reach the database server at ${where}: nothing is listening there (is PostgreSQL running, and is the port right?)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ApiError('unavailable', `cannot reach the database server at ${where}: no such host`);
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) return new ApiError('unavailable', `the database server at ${where} did not answer in time`);
  if (code === '28P01' || code === '28000') return new ApiError('unauthorized', `the database server at ${where} refused the user name or password in the address`);
  if (code === '3D000') return new ApiError('not-found', `the database server at ${where} has no database "${database}" (create it with createdb ${database})`);
  if (isConnectionLost(error)) {
    return new ApiError('unavailable', `the connection to the database at ${where} was lost; what was being saved did not reach it (save again)`);
  }
  return error;
}

export interface Connection {
  pool: pg.Pool;
  url: string;
}

/** Connects, checks the schema and applies pending migrations. */
export async function connectDatabase(url: string, options: { max?: number; connectTimeoutMs?: number } = {}): Promise<Connection> {
  parseDatabaseUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 20, connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000 });
  // An idle client whose server went away: the next query reports it; the pool must not crash the process.
  pool.on('error', () => undefined);
  try {
    await migrate(pool, url);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw databaseError(error, url);
  }
  return { pool, url };
}

async function migrate(pool: pg.Pool, url: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // One migrator at a time; the others wait here and then find nothing to do.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('pixelwise-schema'))");
    await client.query('CREATE TABLE IF NOT EXISTS pixelwise_schema (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM pixelwise_schema');
    if (rows.length === 0) await client.query('INSERT INTO pixelwise_schema (version) VALUES (0)');
    const version = rows[0]?.version ?? 0;
    if (version > pgSchemaVersion) throw new NewerSchemaError(`The database ${redactUrl(url)}`, version, pgSchemaVersion);
    for (let i = version; i < pgSchemaVersion; i++) await client.query(pgMigrations[i]);
    if (version < pgSchemaVersion) await client.query('UPDATE pixelwise_schema SET version = $1', [pgSchemaVersion]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
