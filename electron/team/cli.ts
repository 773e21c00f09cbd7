/**
 * `pixelwise serve` and `pixelwise worker`: the team server and its embedding workers on the command line.
 * The first admin's password comes from a file or the environment, never from a default or the command line
 * (where other users could read it in the process list).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { openStore } from '../../db/store-open';
import { acquireProjectLock } from '../services/project-lock';
import type { Store } from '../../db/store';
import { ModelRegistry } from '../models';
import { builtinModelsDir, defaultDataDir } from '../paths';
import { type AccountRequest, hashPassword, updateAccount } from './auth';
import { roles, type Role } from '../../db/store';
import { defaultScanThreads } from './scan-pool';
import { startTeamServer } from './server';
import { runWorker, type WorkerStore } from './worker';
import { remoteQueue } from './remote-queue';
import { TeamClient } from './client';
import { pull, push } from './transfer';

export const teamUsage = `  pixelwise serve --database <postgres://user:pass@host/db | project-file> [--host 127.0.0.1] [--port 4180]
                  [--admin-name admin --admin-password-file <file>] [--session-hours 12] [--lease-minutes 15]
                  [--scan-threads <cores - 1>]            the studio's team server; the first start creates the
                  [--map-cache-mb 512]                    admin (password from the file or PIXELWISE_ADMIN_PASSWORD);
                                                          search scans in that many threads (0: the event loop) and
                                                          keeps that many MiB of maps in memory (0: none)
  pixelwise worker (--database <url | project-file> | --server <url> --user <worker account> [--password-file <f>])
                   [--lease-seconds 60] [--exit-when-idle] [--name <name>]
                                                          take embed jobs from the team queue; one JSON line per image
  pixelwise push <project-file> <server-url> --user <name> [--password-file <file>]
                                                          upload a project's images, classes and annotations
  pixelwise pull <server-url> <project-file> --user <name> [--password-file <file>]
                                                          make or update a local project file from a server
                                                          (password from the file or PIXELWISE_PASSWORD; both resume)
  pixelwise users list --database <url | project-file>    the accounts, as JSON
  pixelwise users <set-role <name> <role> | reset-password <name> | disable <name> | enable <name>> --database <...>
                  [--password-file <file>]                change an account on the server machine (the new password
                                                          from the file or PIXELWISE_PASSWORD); disabling ends its
                                                          sessions and frees its image leases`;

/** The commands teamCommand runs. */
export const teamCommands = ['serve', 'worker', 'push', 'pull', 'users'];

export class TeamUsageError extends Error {}

/**
 * The Store `--database` names. A project file is locked the way the studio locks it, so the desktop app, the CLI
 * and a server never write one file at once; close() gives the lock back.
 */
async function openLocked(database: string): Promise<Store> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(database)) return openStore(database);
  const release = acquireProjectLock(resolve(database));
  try {
    const store = await openStore(database);
    const close = store.close.bind(store);
    return Object.assign(store, { close: async () => { await close(); release(); } });
  } catch (error) {
    release();
    throw error;
  }
}

function registry(dataDir: string | undefined): ModelRegistry {
  return new ModelRegistry([
    { dir: builtinModelsDir(), builtin: true },
    { dir: join(dataDir ?? defaultDataDir(), 'models'), builtin: false },
  ]);
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new TeamUsageError(`${name} takes a positive number, not "${text}"`);
  return value;
}

/** --scan-threads: a whole number, 0 for scans on the event loop. */
function scanThreads(text: string | undefined): number {
  if (text === undefined) return defaultScanThreads();
  if (!/^\d+$/.test(text.trim())) throw new TeamUsageError(`--scan-threads takes a whole number of threads (0: search scans on the event loop), not "${text}"`);
  return Number(text);
}

/** --map-cache-mb: a whole number of MiB, 0 for no cache. */
function mapCacheMB(text: string | undefined): number {
  if (text === undefined) return 512;
  if (!/^\d+$/.test(text.trim())) throw new TeamUsageError(`--map-cache-mb takes a whole number of MiB (0: search reads every map from the database), not "${text}"`);
  return Number(text);
}

/** Creates the first admin when the project has no accounts; a password is required then. */
async function ensureAdmin(store: Store, name: string, passwordFile: string | undefined): Promise<void> {
  if ((await store.users.list()).length > 0) return;
  let password = process.env.PIXELWISE_ADMIN_PASSWORD;
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new TeamUsageError(`--admin-password-file ${passwordFile}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  }
  if (!password) {
    throw new TeamUsageError('this team project has no accounts yet: give the first admin\'s password with --admin-password-file <file> or PIXELWISE_ADMIN_PASSWORD');
  }
  await store.users.create(name, 'admin', await hashPassword(password));
  process.stderr.write(`created the admin account "${name}"\n`);
}

export async function teamCommand(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'push' || command === 'pull') return transferCommand(command, rest);
  if (command === 'users') return usersCommand(rest);
  const { values } = parseArgs({
    args: rest,
    options: {
      database: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '4180' },
      'admin-name': { type: 'string', default: 'admin' }, 'admin-password-file': { type: 'string' }, 'session-hours': { type: 'string' },
      'lease-minutes': { type: 'string' }, 'scan-threads': { type: 'string' }, 'map-cache-mb': { type: 'string' }, 'lease-seconds': { type: 'string' }, 'exit-when-idle': { type: 'boolean' }, name: { type: 'string' },
      'data-dir': { type: 'string' }, server: { type: 'string' }, user: { type: 'string' }, 'password-file': { type: 'string' },
    },
  });
  if (command === 'worker') return workerCommand(values);
  if (!values.database) throw new TeamUsageError('serve needs --database <postgres://... or project file>');
  const threads = scanThreads(values['scan-threads']);
  const cacheMB = mapCacheMB(values['map-cache-mb']);
  const store = await openLocked(values.database);
  try {
    await ensureAdmin(store, values['admin-name']!, values['admin-password-file']);
    const port = number('--port', values.port, 4180);
    const server = await startTeamServer({
      store, registry: registry(values['data-dir']), host: values.host!, port,
      sessionHours: number('--session-hours', values['session-hours'], 12), leaseSeconds: 60 * number('--lease-minutes', values['lease-minutes'], 15),
      scanThreads: threads, mapCacheMB: cacheMB,
    });
    console.log(`Pixelwise team server: ${server.url} (database ${store.location})`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  } finally {
    await store.close();
  }
}

/** A worker on the database (--database) or through the server with a worker account (--server --user). */
async function workerCommand(values: Record<string, string | boolean | undefined>): Promise<void> {
  const text = (name: string) => values[name] as string | undefined;
  if (!text('database') === !text('server')) throw new TeamUsageError('worker needs --database <url> or --server <url> --user <name> (one of them)');
  let queue: WorkerStore, close = async () => undefined as void;
  if (text('server')) {
    if (!text('user')) throw new TeamUsageError('worker --server needs --user <name> (a worker account on the server)');
    const client = new TeamClient(text('server')!);
    await client.signIn(text('user')!, readSecret('--password-file', text('password-file'), 'PIXELWISE_PASSWORD'));
    queue = remoteQueue(client);
  } else {
    const store = await openLocked(text('database')!);
    queue = store;
    close = () => store.close();
  }
  try {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    const result = await runWorker({
      store: queue, registry: registry(text('data-dir')), name: text('name'), leaseSeconds: number('--lease-seconds', text('lease-seconds'), 60),
      exitWhenIdle: values['exit-when-idle'] === true, signal: controller.signal,
      onTask: ({ task, outcome, ms, error }) => console.log(JSON.stringify({ task: task.id, image: task.imageId, outcome, ms: Math.round(ms), error })),
    });
    console.log(JSON.stringify({ worker: 'stopped', ...result }));
  } finally {
    await close();
  }
}

function readSecret(option: string, file: string | undefined, env: string): string {
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new TeamUsageError(`${option} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  }
  const value = process.env[env];
  if (!value) throw new TeamUsageError(`give the password with ${option} <file> or ${env}`);
  return value;
}

/** `pixelwise push <project-file> <server-url>` and `pixelwise pull <server-url> <project-file>`; JSON report on stdout. */
async function transferCommand(command: 'push' | 'pull', argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { user: { type: 'string' }, 'password-file': { type: 'string' } },
  });
  if (positionals.length !== 2) throw new TeamUsageError(command === 'push' ? 'usage: pixelwise push <project-file> <server-url> --user <name>' : 'usage: pixelwise pull <server-url> <project-file> --user <name>');
  if (!values.user) throw new TeamUsageError(`${command} needs --user <name> (an account on the server)`);
  const [projectFile, serverUrl] = command === 'push' ? positionals : [positionals[1], positionals[0]];
  const client = new TeamClient(serverUrl);
  await client.signIn(values.user, readSecret('--password-file', values['password-file'], 'PIXELWISE_PASSWORD'));
  let shown = 0;
  const progress = (done: number, total: number) => {
    if (Date.now() - shown < 200 && done !== total) return;
    shown = Date.now();
    process.stderr.write(`\r${command}: ${done}/${total} images   `);
  };
  const report = command === 'push' ? await push(projectFile, client, progress) : await pull(client, projectFile, progress);
  if (shown) process.stderr.write('\n');
  console.log(JSON.stringify(report, null, 2));
}

/**
 * `pixelwise users ...`: account changes for the admin on the server machine, straight on the database (no session
 * needed: whoever holds the database address holds the data anyway). Same rules as the users.update call.
 */
async function usersCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, options: { database: { type: 'string' }, 'password-file': { type: 'string' } },
  });
  const [action, name, role] = positionals;
  const arity: Record<string, number> = { list: 1, 'set-role': 3, 'reset-password': 2, disable: 2, enable: 2 };
  if (arity[action] === undefined || positionals.length !== arity[action]) {
    throw new TeamUsageError('usage: pixelwise users <list | set-role <name> <role> | reset-password <name> | disable <name> | enable <name>> --database <url | project-file>');
  }
  if (!values.database) throw new TeamUsageError(`users ${action} needs --database <postgres://... or project file>`);
  if (action === 'set-role' && !roles.includes(role as Role)) throw new TeamUsageError(`"${role}" is not a role; roles: ${roles.join(', ')}`);
  const request: AccountRequest | null = action === 'list' ? null : action === 'set-role' ? { role: role as Role }
    : action === 'reset-password' ? { password: readSecret('--password-file', values['password-file'], 'PIXELWISE_PASSWORD') }
      : { disabled: action === 'disable' };
  const store = await openLocked(values.database);
  try {
    const result = request ? await updateAccount(store, name, request, null) : await store.users.list();
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await store.close();
  }
}
