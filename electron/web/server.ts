/**
 * Web mode: the same renderer and the same API over HTTP on 127.0.0.1, for headless GPU machines and browser
 * tests. A per-run access token (printed in the URL, like Jupyter's) is kept by the page in its origin's storage
 * and sent with every API and blob request (request-guard.ts says how, and why not a cookie).
 * Run: `npm run web -- [--port 4173] [--data-dir DIR] [--project FILE]`.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBlobPath } from '../../core/api/blobs';
import { dispatch } from '../../core/api/contract';
import { toApiError } from '../services/errors';
import { readBody } from './body';
import { defaultDataDir, rendererDir } from '../paths';
import { createApiImplementation } from '../services/api';
import { blobErrorStatus, readBlob } from '../services/blobs';
import { Studio } from '../services/studio';
import { checkApiRequest, checkBlobRequest, loopbackHost, type Refusal } from './request-guard';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.json': 'application/json', '.woff2': 'font/woff2', '.map': 'application/json',
};

export interface WebServerOptions {
  port: number;
  host: string;
  dataDir: string;
  project?: string;
  token?: string;
}

export async function startWebServer(options: WebServerOptions) {
  const token = options.token ?? randomBytes(24).toString('base64url');
  // It goes into URLs (the first page's query, blob paths) as it is.
  if (!/^[A-Za-z0-9_~.-]+$/.test(token)) throw new Error('the access token may use only letters, digits and - _ . ~');
  const studio = new Studio({ dataDir: options.dataDir, mode: 'web' });
  const api = createApiImplementation(studio, null);
  if (options.project) await studio.openProject(options.project, false);
  const root = rendererDir();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    // DNS rebinding: only answer requests addressed to the loopback host we bound.
    if (!loopbackHost(request.headers.host)) return send(response, 403, 'text/plain', 'forbidden host');
    if (url.pathname.startsWith('/api/')) {
      const refused = checkApiRequest(request.method, request.headers, token);
      if (refused) return sendRefusal(response, refused);
      const [, , service, method] = url.pathname.split('/');
      try {
        const body = await readBody(request);
        const result = await dispatch(api, service, method, body.length ? JSON.parse(body) : {});
        return sendJson(response, 200, { ok: true, result: result ?? null });
      } catch (error) {
        return sendError(response, error);
      }
    }
    if (url.pathname.startsWith('/blob/')) {
      const path = checkBlobRequest(url.pathname.slice('/blob/'.length) + url.search, request.headers, token);
      if (typeof path !== 'string') return send(response, path.status, 'text/plain', path.message);
      const blob = parseBlobPath(path);
      if (!blob) return send(response, 404, 'text/plain', 'not found');
      try {
        const { status, contentType, body } = await readBlob(studio, blob);
        return send(response, status, contentType, body, status === 200 ? 'private, max-age=60' : 'no-store');
      } catch (error) {
        return send(response, blobErrorStatus(error), 'text/plain', (error as Error).message);
      }
    }
    return serveStatic(root, url.pathname, response);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error) => sendError(response, error));
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}/?token=${token}`,
    port,
    token,
    studio,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await studio.close();
    },
  };
}

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array, cache = 'no-store'): void {
  // no-referrer: the page's first URL carries the token until the page takes it out. No framing: the page holds
  // the token, so another local port's page must not be able to show it in a frame and steer the user's clicks.
  response.writeHead(status, {
    'content-type': type, 'cache-control': cache, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY', 'content-security-policy': "frame-ancestors 'none'",
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json', JSON.stringify(value));
}

function sendRefusal(response: ServerResponse, refusal: Refusal): void {
  sendJson(response, refusal.status, { ok: false, error: { code: refusal.code, message: refusal.message } });
}

/** HTTP status by error code: 500 only for our own faults; what the user or the input caused is a 4xx. */
const statusByCode: Record<string, number> = {
  'not-found': 404, 'no-project': 409, exists: 409, 'in-use': 409, conflict: 409, 'too-large': 413, 'disk-full': 507, internal: 500,
};

function sendError(response: ServerResponse, error: unknown): void {
  if (response.headersSent) return void response.end();
  if (error instanceof SyntaxError) return sendJson(response, 400, { ok: false, error: { code: 'invalid-json', message: error.message } });
  const { code, message } = toApiError(error);
  sendJson(response, statusByCode[code] ?? 400, { ok: false, error: { code, message } });
}

async function serveStatic(root: string, pathname: string, response: ServerResponse): Promise<void> {
  const relative = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname)).replace(/^([/\\])+/, '');
  const file = join(root, relative);
  if (!file.startsWith(root + sep)) return send(response, 403, 'text/plain', 'forbidden');
  try {
    const body = await readFile(file);
    send(response, 200, contentTypes[extname(file)] ?? 'application/octet-stream', body, relative === 'index.html' ? 'no-store' : 'max-age=3600');
  } catch {
    // Unknown paths get the app (single-page), missing assets a 404.
    if (extname(relative)) return send(response, 404, 'text/plain', 'not found');
    send(response, 200, contentTypes['.html'], await readFile(join(root, 'index.html')), 'no-store');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4173' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      project: { type: 'string' },
      token: { type: 'string' },
    },
  });
  if (!['127.0.0.1', 'localhost', '::1'].includes(values.host!)) {
    console.error('web mode serves only on the loopback interface; use an SSH tunnel to reach it from elsewhere');
    process.exit(2);
  }
  const server = await startWebServer({
    port: Number(values.port), host: values.host!, dataDir: values['data-dir'] ?? defaultDataDir(), project: values.project,
    token: values.token ?? process.env.PIXELWISE_TOKEN,
  });
  console.log(`Pixelwise Studio web mode: ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (typeof require !== 'undefined' && require.main === module) {
  // A project that cannot be opened (in use, read-only...) or a port that is taken: one line, no stack trace.
  main().catch((error: unknown) => {
    console.error(`pixelwise web: ${toApiError(error).message}`);
    process.exit(1);
  });
}
