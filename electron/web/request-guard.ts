/**
 * Who may call the web server. Browsers scope cookies by host, not port, so any page or service on another
 * 127.0.0.1 port would receive a session cookie and could drive the API with it (audit F1). So there is no
 * cookie: the token travels only where another origin cannot put or read it.
 *
 * - API calls: `Authorization: Bearer <token>`. The page keeps the token in its origin's storage (origin =
 *   scheme, host and port); another port's page cannot read it, and a cross-origin request cannot carry it
 *   without a CORS preflight, which this server never grants.
 * - Blobs (image, thumbnail, embedding; also used as <img src>): the token is the first path segment,
 *   `/blob/<token>/thumbnail/1?v=...`, known only to the page.
 *
 * On top of the token, two browser-side checks refuse what a browser sends for another origin's page:
 * an API call must have `content-type: application/json` (a form or no-cors fetch cannot send it without a
 * preflight), and its `Origin` (or else `Sec-Fetch-Site`) must name this server's own origin. Browsers send
 * Origin with every POST, and Sec-Fetch-Site with every request to a loopback URL, so a request with neither
 * comes from a non-browser client (curl, the CLI's tests, Playwright's `page.request`); it is accepted because
 * it must still present the token, which only someone who was given the URL has.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type Refusal = { status: number; code: string; message: string };

/** The loopback host names the server answers to (DNS rebinding: anything else is refused). */
export function loopbackHost(hostHeader: string | undefined): boolean {
  const host = (hostHeader ?? '').replace(/:\d+$/, '');
  return ['127.0.0.1', 'localhost', '[::1]'].includes(host);
}

export function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether the request comes from this server's own pages (or from no browser at all). The own origin is
 * `http://` + the Host header as the browser sent it: through an SSH tunnel the browser's port differs from the
 * one the server listens on, and Host is already limited to loopback names.
 */
export function sameOriginOrNoBrowser(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin !== undefined) return origin === `http://${headers.host}`;
  const site = headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin';
}

/** Checks an /api/ call's headers (the body is not read before they pass). */
export function checkApiRequest(method: string | undefined, headers: IncomingHttpHeaders, token: string): Refusal | null {
  if (method !== 'POST') return { status: 405, code: 'method', message: 'POST only' };
  if (!sameOriginOrNoBrowser(headers)) return { status: 403, code: 'forbidden-origin', message: 'the API answers only pages of this server' };
  const bearer = /^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1] ?? '';
  if (!tokenMatches(bearer, token)) return { status: 401, code: 'unauthorised', message: 'open the URL with the access token printed at start' };
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, code: 'unsupported-media-type', message: 'API calls send content-type: application/json' };
  return null;
}

/** Checks a /blob/<token>/<path> request; returns the blob path after the token, or a refusal. */
export function checkBlobRequest(pathAndQuery: string, headers: IncomingHttpHeaders, token: string): Refusal | string {
  // 'none': the user opened the blob URL themselves (address bar, bookmark).
  if (!sameOriginOrNoBrowser(headers) && headers['sec-fetch-site'] !== 'none') return { status: 403, code: 'forbidden-origin', message: 'forbidden' };
  const slash = pathAndQuery.indexOf('/');
  if (slash < 0 || !tokenMatches(pathAndQuery.slice(0, slash), token)) return { status: 401, code: 'unauthorised', message: 'unauthorised' };
  return pathAndQuery.slice(slash + 1);
}
