/**
 * The team server: the calls of api.ts over HTTP for many users, on a Store (PostgreSQL for a team; a project
 * file works too). POST /api/<service>/<method> with a JSON body and `Authorization: Bearer <session token>`;
 * POST /api/auth/login is the one call without a token. GET /thumbnail/<id> (same header) for image lists.
 * Answers: { ok: true, result } or { ok: false, error: { code, message[, current] } } with a 4xx for what the user
 * or the input caused (409 with the stored version on a stale save), 503 when the database cannot be reached.
 * It speaks plain HTTP: off loopback it belongs behind a TLS reverse proxy (README, "Team server").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { ApiError } from '../../core/api/contract';
import { StaleVersionError, type Store } from '../../db/store';
import type { ModelRegistry } from '../models';
import { toApiError } from '../services/errors';
import { readBody } from '../web/body';
import { teamCalls, runCall } from './api';
import { authenticate, login } from './auth';
import { defaultScanThreads, ScanPool } from './scan-pool';


export interface TeamServerOptions {
  store: Store;
  registry: ModelRegistry;
  host: string;
  port: number;
  sessionHours?: number;
  leaseSeconds?: number;
  /** Where the loud warning about plain HTTP off loopback goes (stderr by default). */
  warn?: (message: string) => void;
  /** Worker threads for search's stage 1 (default: the cores but one, at least one; 0: on the event loop). */
  scanThreads?: number;
  /** MiB of maps search keeps in memory (default 512; 0: every map read from the store each time). */
  mapCacheMB?: number;
}

export const loopbackHosts = ['127.0.0.1', 'localhost', '::1'];

const statusByCode: Record<string, number> = {
  unauthorized: 401, forbidden: 403, 'account-disabled': 403, 'last-admin': 409, 'model-mismatch': 409, 'not-found': 404, exists: 409, conflict: 409, leased: 409, 'lease-required': 409,
  'newer-version': 409, 'too-large': 413, 'too-many-attempts': 429, unavailable: 503, 'disk-full': 507, internal: 500,
};

const loginInput = z.object({ name: z.string().min(1).max(100), password: z.string().min(1).max(1024) });

export async function startTeamServer(options: TeamServerOptions) {
  const { store } = options;
  const sessionHours = options.sessionHours ?? 12;
  const scanThreads = options.scanThreads ?? defaultScanThreads();
  const scanPool = scanThreads > 0 ? new ScanPool({ threads: scanThreads }) : undefined;
  const mapCacheBytes = (options.mapCacheMB ?? 512) * 1024 * 1024;
  const calls = teamCalls({ store, registry: options.registry, leaseSeconds: options.leaseSeconds ?? 15 * 60, scanPool, mapCacheBytes });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method === 'GET' && url.pathname.startsWith('/thumbnail/')) {
      await authenticate(store, request.headers.authorization);
      const thumbnail = await store.images.thumbnail(Number(url.pathname.slice('/thumbnail/'.length)));
      if (!thumbnail) throw new ApiError('not-found', 'no such image');
      response.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=3600', 'x-content-type-options': 'nosniff' });
      return void response.end(thumbnail);
    }
    const [, api, service, method, extra] = url.pathname.split('/');
    if (api !== 'api' || !service || !method || extra !== undefined) throw new ApiError('not-found', `nothing at ${url.pathname}`);
    if (request.method !== 'POST') throw new ApiError('method-not-allowed', 'API calls are POST requests');
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) throw new ApiError('invalid-input', 'send the input as application/json');
    const body = await readBody(request);
    let input: unknown;
    try {
      input = body.length ? JSON.parse(body) : {};
    } catch {
      throw new ApiError('invalid-json', 'the request body is not JSON');
    }
    if (service === 'auth' && method === 'login') {
      const parsed = loginInput.safeParse(input);
      if (!parsed.success) throw new ApiError('invalid-input', 'sign in with { name, password }');
      return sendJson(response, 200, { ok: true, result: await login(store, parsed.data.name, parsed.data.password, sessionHours) });
    }
    const user = await authenticate(store, request.headers.authorization);
    const token = request.headers.authorization!.slice('Bearer '.length);
    const result = await runCall(calls, `${service}.${method}`, input, user, token);
    sendJson(response, 200, { ok: true, result: result ?? null });
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => sendError(response, error));
  });
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  if (!loopbackHosts.includes(options.host)) {
    (options.warn ?? ((message) => process.stderr.write(message)))([
      '',
      '!!! WARNING: the team server is listening on ' + `${options.host}:${port}` + ' in plain HTTP.',
      '!!! Passwords and session tokens cross the network readable by anyone on it.',
      '!!! Put a TLS reverse proxy in front of it (README, "Team server") and bind the server to 127.0.0.1.',
      '', '',
    ].join('\n'));
  }
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await scanPool?.close();
    },
  };
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(JSON.stringify(value));
}

function sendError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) return void response.end();
  const { code, message } = toApiError(error);
  const current = error instanceof StaleVersionError ? error.current : undefined;
  const status = code === 'method-not-allowed' ? 405 : statusByCode[code] ?? 400;
  sendJson(response, status, { ok: false, error: { code, message: status === 500 ? `the server failed: ${message}` : message, current } });
}
