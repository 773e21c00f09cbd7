/**
 * Audit F1: a page on another 127.0.0.1 port must not be able to drive the web server's API, read its blobs or
 * receive its access token. A real server (out/web.cjs) and a real "attacker" server on another loopback port;
 * Chromium opens the studio with its token (as a user would), then visits the attacker's page, which tries a
 * no-cors text/plain fetch, a text/plain form POST, a CORS JSON fetch and a blob read with a leaked token, and
 * frames the studio's page.
 * Nothing may be created, and the attacker's server must not see the token in any request it receives.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassRecord, ImagePage, JobRecord } from '../../core/api/records';
import { tempDir, writeImages } from '../fixtures';
import { type Studio, startStudio, waitUntil } from './harness';

let studio: Studio;
let attacker: Server;
let attackerOrigin: string;
const seenByAttacker: IncomingHttpHeaders[] = [];

/** The attacker's page: every way a cross-origin page can send a request, each naming its class after itself. */
function attackPage(target: string, leakedToken: string): string {
  const body = (name: string) => JSON.stringify(JSON.stringify({ name }));
  return `<!doctype html><body>
<form id="form" method="POST" enctype="text/plain" target="sink" action="${target}/api/classes/create">
  <input name='{"name":"csrf-form","x":"' value='"}'></form>
<iframe name="sink"></iframe><iframe id="framed" src="${target}/"></iframe>
<img src="${target}/blob/image/1"><img src="${target}/blob/${leakedToken}/image/1">
<script>
  const results = {};
  const attempt = (label, promise) => promise.then((r) => { results[label] = 'status ' + r.status; }, (e) => { results[label] = 'error ' + e.message; });
  Promise.all([
    attempt('no-cors', fetch('${target}/api/classes/create', { method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'content-type': 'text/plain' }, body: ${body('csrf-no-cors')} })),
    attempt('cors-json', fetch('${target}/api/classes/create', { method: 'POST', credentials: 'include',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ${leakedToken}' }, body: ${body('csrf-cors')} })),
    attempt('blob-read', fetch('${target}/blob/${leakedToken}/image/1', { credentials: 'include' })),
  ]).then(() => { document.getElementById('form').submit(); window.done = results; });
</script></body>`;
}

beforeAll(async () => {
  studio = await startStudio();
  const dir = tempDir();
  await writeImages(join(dir, 'images'), 2, 64, 48);
  await studio.call('projects', 'create', { path: join(dir, 'victim.pixelwise') });
  await studio.call<JobRecord>('images', 'import', { paths: [join(dir, 'images')] });
  await waitUntil(() => studio.call<JobRecord[]>('jobs', 'list', { activeOnly: true }), (jobs) => jobs.length === 0, 'the import', 30_000, 100);

  attacker = createServer((request, response) => {
    seenByAttacker.push(request.headers);
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(attackPage(studio.server.origin, studio.server.token));
  });
  await new Promise<void>((done) => attacker.listen(0, '127.0.0.1', done));
  const address = attacker.address();
  attackerOrigin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await studio?.close();
  attacker?.close();
});

/** A raw request to the studio's server with the given extra headers. */
function post(path: string, headers: Record<string, string>, body = '{"name":"direct"}') {
  return fetch(`${studio.server.origin}${path}`, { method: 'POST', headers, body });
}

describe('web mode: other local ports', () => {
  it('the studio page keeps working with its token taken out of the address bar', async () => {
    await studio.page.reload();
    expect(studio.page.url()).not.toContain('token');
    const thumbnail = studio.page.locator('[data-testid="image-tile"] img').first();
    await expect.poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 15_000 }).toBeGreaterThan(0);
  });

  it('a page on another 127.0.0.1 port creates nothing, reads no blob and never receives the token', async () => {
    // The studio's own tab (the browser profile that opened the studio) goes on to the other port's page.
    const page = studio.page;
    await page.goto(`${attackerOrigin}/attack.html`);
    const results = await page.waitForFunction(() => (window as unknown as { done?: Record<string, string> }).done).then((handle) => handle.jsonValue() as Promise<Record<string, string>>);
    await page.waitForTimeout(500); // the form's navigation
    expect(results['cors-json']).toMatch(/^error/); // the preflight is never granted
    expect(results['blob-read']).toMatch(/^error/);
    // The studio's page refuses to be framed by it (it would hold the token and take the user's clicks).
    const framed = page.frames().find((frame) => frame.url() === `${studio.server.origin}/`);
    expect(await framed?.evaluate(() => document.querySelector('#app') !== null).catch(() => false) ?? false).toBe(false);
    await page.goto(studio.server.origin);
    const classes = await studio.call<ClassRecord[]>('classes', 'list');
    expect(classes.map((c) => c.name)).toEqual([]);
    expect(seenByAttacker.length).toBeGreaterThan(0);
    for (const headers of seenByAttacker) expect(JSON.stringify(headers)).not.toContain(studio.server.token);
  });

  it('refuses API calls from another origin, without JSON, or without the token, even with everything else right', async () => {
    const token = { authorization: `Bearer ${studio.server.token}` };
    const json = { 'content-type': 'application/json' };
    const ownOrigin = { origin: studio.server.origin };
    expect((await post('/api/classes/create', { ...token, ...json, origin: attackerOrigin })).status).toBe(403);
    expect((await post('/api/classes/create', { ...token, ...json, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post('/api/classes/create', { ...token, ...json, origin: 'null' })).status).toBe(403);
    expect((await post('/api/classes/create', { ...token, ...json, 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post('/api/classes/create', { ...token, ...ownOrigin, 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/api/classes/create', { ...ownOrigin, ...json })).status).toBe(401);
    expect((await post('/api/classes/create', { ...ownOrigin, ...json, cookie: `pixelwise_token=${studio.server.token}` })).status).toBe(401);
    expect(await studio.call<ClassRecord[]>('classes', 'list')).toEqual([]);

    const created = await post('/api/classes/create', { ...token, ...json, ...ownOrigin, 'sec-fetch-site': 'same-origin' }, '{"name":"mine"}');
    expect(created.status).toBe(200);
    expect((await studio.call<ClassRecord[]>('classes', 'list')).map((c) => c.name)).toEqual(['mine']);
  });

  it('serves blobs only with the token in the path and only to its own pages', async () => {
    const { items } = await studio.call<ImagePage>('images', 'list', {});
    const path = `image/${items[0].id}?v=${items[0].hash}`;
    const origin = studio.server.origin, token = studio.server.token;
    expect((await fetch(`${origin}/blob/${path}`)).status).toBe(401);
    expect((await fetch(`${origin}/blob/${path}`, { headers: { cookie: `pixelwise_token=${token}` } })).status).toBe(401);
    expect((await fetch(`${origin}/blob/${token}/${path}`, { headers: { 'sec-fetch-site': 'same-site' } })).status).toBe(403);
    expect((await fetch(`${origin}/blob/${token}/${path}`, { headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
  });
});
