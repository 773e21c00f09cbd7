/**
 * The renderer's handle on the main side. In Electron the preload exposes one function per contract method
 * (window.pixelwise); in web mode the same contract goes over HTTP to the local server (the session cookie
 * set from the access token authenticates each call).
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

async function httpInvoke(service: string, method: string, input: unknown): Promise<unknown> {
  const response = await fetch(`/api/${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input ?? {}),
    credentials: 'same-origin',
  });
  const body = (await response.json().catch(() => null)) as { ok: boolean; result?: unknown; error?: { code: string; message: string } } | null;
  if (!body) throw new ApiError('transport', `${service}.${method}: HTTP ${response.status}`);
  if (!body.ok) throw new ApiError(body.error?.code ?? 'error', body.error?.message ?? 'unknown error');
  return body.result;
}

export const api: Api = window.pixelwise?.api ?? createApi(httpInvoke);

/** Base for blob paths (core/api/blobs.ts): the custom protocol in Electron, the server's /blob/ route on the web. */
export const blobBase: string = window.pixelwise?.blobBase ?? '/blob/';

export function blobUrl(path: string): string {
  return blobBase + path;
}

export const mode: 'electron' | 'web' = window.pixelwise ? 'electron' : 'web';
