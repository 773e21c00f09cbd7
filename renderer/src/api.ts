/**
 * The renderer's handle on the main side. In Electron the preload exposes one function per contract method
 * (window.pixelwise); in web mode the same contract goes over HTTP to the local server, each call carrying the
 * access token (electron/web/request-guard.ts: a header for the API, the first path segment for blobs).
 */
import { ApiError, type Api, createApi } from '../../core/api/contract';

interface PreloadBridge {
  api: Api;
  blobBase: string;
}

declare global {
  interface Window {
    pixelwise?: PreloadBridge;
  }
}

const tokenKey = 'pixelwise.token';

/**
 * Web mode: the server prints `/?token=...`; the page keeps the token in localStorage, which belongs to this
 * origin (scheme, host and port) alone, unlike a cookie, which every port on the host receives. The token leaves
 * the address bar at once so it is not bookmarked or shared with a screenshot.
 */
function takeWebToken(): string {
  if (window.pixelwise) return '';
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given) {
    localStorage.setItem(tokenKey, given);
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  }
  return localStorage.getItem(tokenKey) ?? '';
}

const webToken = takeWebToken();

/** One API request as the web server expects it (request-guard.ts): JSON body, the access token in a header. */
function apiRequest(service: string, method: string, body: string, keepalive = false): Promise<Response> {
  return fetch(`/api/${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${webToken}` },
    body,
    credentials: 'same-origin',
    keepalive,
  });
}

async function httpInvoke(service: string, method: string, input: unknown): Promise<unknown> {
  const response = await apiRequest(service, method, JSON.stringify(input ?? {}));
  const body = (await response.json().catch(() => null)) as { ok: boolean; result?: unknown; error?: { code: string; message: string } } | null;
  if (!body) throw new ApiError('transport', `${service}.${method}: HTTP ${response.status}`);
  if (!body.ok) throw new ApiError(body.error?.code ?? 'error', body.error?.message ?? 'unknown error');
  return body.result;
}

export const api: Api = window.pixelwise?.api ?? createApi(httpInvoke);

/** Base for blob paths (core/api/blobs.ts): the custom protocol in Electron, the server's /blob/ route on the web. */
export const blobBase: string = window.pixelwise?.blobBase ?? `/blob/${encodeURIComponent(webToken)}/`;

export function blobUrl(path: string): string {
  return blobBase + path;
}

export const mode: 'electron' | 'web' = window.pixelwise ? 'electron' : 'web';

/**
 * Web mode, while the page goes away: sends one call that outlives the page (keepalive) and is not waited for.
 * Browsers cap such bodies at 64 KiB; false when this one is larger (the caller relies on the beforeunload prompt).
 */
export function sendWhileLeaving(service: string, method: string, input: unknown): boolean {
  const body = JSON.stringify(input);
  if (mode !== 'web' || body.length >= 60_000) return false;
  void apiRequest(service, method, body, true).catch(() => undefined);
  return true;
}
