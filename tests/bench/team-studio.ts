/**
 * What a team project costs the studio per call, on a throwaway PostgreSQL cluster and a `pixelwise serve` process:
 * a labeler's studio in web mode (the renderer's HTTP transport) against the same calls made to the server
 * directly, so the difference is the studio's hop (web request, routing, version memory, one more HTTP request).
 *   - annotations.save of one object, N times in a row (each based on the last);
 *   - annotations.list;
 *   - the image blob and the embedding map: first fetch (images.download / embeddings.get, base64) and cached ones;
 *     the thumbnail.
 * Prints one JSON line per measurement: p50 and p95 milliseconds.
 *
 * Run: npx tsx tests/bench/team-studio.ts [--saves 200] [--size 1024x768]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeRle } from '../../core/rle';
import { openStore } from '../../db/store-open';
import { ModelRegistry } from '../../electron/models';
import { builtinModelsDir } from '../../electron/paths';
import { runWorker } from '../../electron/team/worker';
import { startWebServer } from '../../electron/web/server';
import { tempDir, writeImages } from '../fixtures';
import { freePort, startPgCluster } from '../pg-cluster';
import { signIn, spawnCli, teamCall, waitForOutput } from '../team-cli';

const { values } = parseArgs({ options: { saves: { type: 'string', default: '200' }, size: { type: 'string', default: '1024x768' } } });
const saves = Number(values.saves);
const [width, height] = values.size!.split('x').map(Number);
const password = 'bench password 1';

function percentiles(name: string, times: number[]): void {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
  console.log(JSON.stringify({ measure: name, n: times.length, p50Ms: at(0.5), p95Ms: at(0.95) }));
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const result = await fn();
  return [performance.now() - started, result];
}

function mask(w: number) {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < 32; y++) pixels.fill(1, y * width, y * width + w);
  return encodeRle({ width, height, data: pixels });
}

async function main(): Promise<void> {
  const cluster = await startPgCluster();
  const dir = tempDir();
  const database = await cluster.createDatabase('bench');
  writeFileSync(join(dir, 'admin'), password);
  const port = await freePort();
  const server = spawnCli(['serve', '--database', database, '--port', String(port), '--admin-password-file', join(dir, 'admin')]);
  const web = await startWebServer({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'studio'), token: 'bench-token' });
  try {
    await waitForOutput(server, /Pixelwise team server/);
    const origin = `http://127.0.0.1:${port}`;
    const admin = await signIn(origin, 'admin', password);
    await teamCall(origin, admin, 'users.create', { name: 'ann', role: 'labeler', password });
    const files = await writeImages(join(dir, 'images'), 2, width, height);
    const ids: number[] = [];
    for (const file of files) ids.push((await teamCall(origin, admin, 'images.upload', { path: file.split('/').pop(), data: readFileSync(file).toString('base64') })).result.id);
    await teamCall(origin, admin, 'embeddings.start', { modelId: 'pixelwise-colorpos' });
    const store = await openStore(database);
    await runWorker({ store, registry: new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }]), exitWhenIdle: true });
    await store.close();

    const base = `http://127.0.0.1:${web.port}`;
    const call = async (name: string, input: unknown) => {
      const response = await fetch(`${base}/api/${name.replace('.', '/')}`, {
        method: 'POST', body: JSON.stringify(input), headers: { 'content-type': 'application/json', authorization: `Bearer ${web.token}` },
      });
      const body = await response.json() as { ok: boolean; result: unknown; error?: { message: string } };
      if (!body.ok) throw new Error(body.error?.message);
      return body.result;
    };
    const blob = async (path: string) => {
      const response = await fetch(`${base}/blob/${web.token}/${path}`);
      if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
      return response.arrayBuffer();
    };
    await call('team.open', { server: origin, user: 'ann', password });
    const ann = await signIn(origin, 'ann', password);
    const [viaStudio, direct] = ids;
    const image = (await teamCall(origin, ann, 'images.get', { id: viaStudio })).result as { hash: string };

    await call('team.claim', { imageId: viaStudio });
    await call('annotations.list', { imageId: viaStudio });
    const studioSaves: number[] = [];
    for (let i = 0; i < saves; i++) studioSaves.push((await timed(() => call('annotations.save', { imageId: viaStudio, annotations: [{ classId: null, rle: mask(10 + (i % 50)) }] })))[0]);
    percentiles('studio annotations.save', studioSaves);

    await teamCall(origin, ann, 'leases.claim', { imageId: direct });
    const directSaves: number[] = [];
    for (let i = 0; i < saves; i++) {
      const reply = await teamCall(origin, ann, 'annotations.save', { imageId: direct, baseVersion: i, saveId: `bench-${i}`, annotations: [{ classId: null, rle: mask(10 + (i % 50)) }] });
      if (!reply.ok) throw new Error(reply.error?.message);
      directSaves.push(reply.ms);
    }
    percentiles('server annotations.save (direct)', directSaves);

    const lists: number[] = [];
    for (let i = 0; i < 50; i++) lists.push((await timed(() => call('annotations.list', { imageId: viaStudio })))[0]);
    percentiles('studio annotations.list', lists);

    const [first, bytes] = await timed(() => blob(`image/${viaStudio}?v=${image.hash}`));
    console.log(JSON.stringify({ measure: 'studio image blob, first (download)', ms: Math.round(first * 10) / 10, bytes: bytes.byteLength }));
    const cached: number[] = [];
    for (let i = 0; i < 50; i++) cached.push((await timed(() => blob(`image/${viaStudio}?v=${image.hash}`)))[0]);
    percentiles('studio image blob, cached', cached);
    const mapPath = (id: number) => `embedding/${id}?v=${image.hash}&model=pixelwise-colorpos`;
    const [mapFirst, map] = await timed(() => blob(mapPath(viaStudio)));
    console.log(JSON.stringify({ measure: 'studio embedding blob, first (embeddings.get)', ms: Math.round(mapFirst * 10) / 10, bytes: map.byteLength }));
    const embeddings: number[] = [];
    for (let i = 0; i < 20; i++) embeddings.push((await timed(() => blob(mapPath(viaStudio))))[0]);
    percentiles('studio embedding blob, cached', embeddings);
    const thumbnails: number[] = [];
    for (let i = 0; i < 20; i++) thumbnails.push((await timed(() => blob(`thumbnail/${viaStudio}?v=${image.hash}`)))[0]);
    percentiles('studio thumbnail blob (cached after the first)', thumbnails);
  } finally {
    await web.close();
    server.process.kill('SIGTERM');
    await server.exited;
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
