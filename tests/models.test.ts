/**
 * Adding models: a real HTTP server on 127.0.0.1 (node:http, with Range support and switches that misbehave the
 * way real servers do) serves a copy of the built-in colour+position model; installs go into a real models folder
 * and are read back through the registry; every ONNX check opens a real onnxruntime session.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../electron/models';
import { addModel } from '../electron/models/install';
import { builtinModelsDir } from '../electron/paths';
import { tempDir } from './fixtures';

const builtin = JSON.parse(readFileSync(join(builtinModelsDir(), 'pixelwise-colorpos', 'model.json'), 'utf8'));
const onnx = readFileSync(join(builtinModelsDir(), 'pixelwise-colorpos', 'model.onnx'));
const manifest = { ...builtin, id: 'test-colorpos', name: 'Test copy of colour + position' };

interface Behaviour {
  /** Close the connection after this many body bytes (Content-Length still announces the whole file). */
  dropAfter?: number;
  /** Answer 200 with the whole file even when asked for a range. */
  ignoreRange?: boolean;
  /** Send this many bytes without Content-Length and end the response normally. */
  chunkedShort?: number;
  /** Send this many body bytes, then nothing more while keeping the connection open. */
  stallAfter?: number;
  /** Send the body in pieces of this many bytes, one every 100 ms. */
  trickle?: number;
  /** With trickle: leave Content-Length out (chunked encoding). */
  noLength?: boolean;
}

/** Files by URL path; what each request asked for is logged. */
class ModelServer {
  files = new Map<string, Buffer | string>();
  behaviour: Behaviour = {};
  requests: Array<{ path: string; range: string | null; status: number }> = [];
  private server: Server = createServer((req, res) => this.answer(req, res));

  async start(): Promise<string> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const body = this.files.get(req.url ?? '');
    const range = req.headers.range ?? null;
    const log = (status: number) => this.requests.push({ path: req.url ?? '', range, status });
    if (body === undefined) return void (log(404), res.writeHead(404).end('not found'));
    const bytes = Buffer.from(body);
    const { dropAfter, ignoreRange, chunkedShort, stallAfter, trickle, noLength } = this.behaviour;
    if (chunkedShort !== undefined && typeof body !== 'string') {
      log(200);
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      return void res.end(bytes.subarray(0, chunkedShort));
    }
    const match = /^bytes=(\d+)-$/.exec(range ?? '');
    const start = match && !ignoreRange ? Number(match[1]) : 0;
    if (start >= bytes.length && start > 0) {
      log(416);
      return void res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
    }
    const status = start > 0 ? 206 : 200;
    log(status);
    res.writeHead(status, {
      ...(noLength ? {} : { 'content-length': bytes.length - start }),
      ...(status === 206 ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    const rest = bytes.subarray(start);
    if (trickle !== undefined && typeof body !== 'string') {
      const send = (from: number): void => {
        if (from + trickle >= rest.length) return void res.end(rest.subarray(from));
        res.write(rest.subarray(from, from + trickle));
        setTimeout(() => send(from + trickle), 100);
      };
      send(0);
    } else if (stallAfter !== undefined && typeof body !== 'string') {
      res.write(rest.subarray(0, stallAfter));
    } else if (dropAfter !== undefined && typeof body !== 'string') {
      res.write(rest.subarray(0, dropAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    } else {
      res.end(rest);
    }
  }
}

const server = new ModelServer();
let base = '';
let dir = '';
let modelsDir = '';
const registry = () => new ModelRegistry([{ dir: builtinModelsDir(), builtin: true }, { dir: modelsDir, builtin: false }]);

function serve(path: string, model: object = manifest, bytes: Buffer = onnx): string {
  server.files.set(`${path}/model.json`, JSON.stringify(model));
  server.files.set(`${path}/model.onnx`, bytes);
  return `${base}${path}/model.json`;
}

beforeAll(async () => {
  base = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  dir = tempDir('pixelwise-models-');
  modelsDir = join(dir, 'models');
  server.behaviour = {};
  server.requests = [];
});

describe('adding a model from a URL', () => {
  it('downloads, verifies and installs it; the registry lists it as available with its source and size', async () => {
    const url = serve('/ok');
    const progress: Array<{ done: number; total: number | null }> = [];
    const result = await registry().add(url, { onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({ id: 'test-colorpos', bytes: onnx.length, source: url });
    expect(progress.at(-1)).toMatchObject({ done: onnx.length, total: onnx.length });
    const entry = registry().list().find((m) => m.id === 'test-colorpos');
    expect(entry).toMatchObject({ available: true, builtin: false, source: url });
    expect(entry!.sizeOnDisk).toBeGreaterThan(onnx.length);
    expect(readdirSync(modelsDir)).toEqual(['test-colorpos']);
    expect(registry().get('test-colorpos').manifest.output.name).toBe('embedding');
  });

  it('reports an ETA while a slow download runs', async () => {
    const url = serve('/slow');
    server.behaviour = { trickle: Math.ceil(onnx.length / 12) }; // about 1.2 s in all
    const progress: Array<{ done: number; etaSeconds: number | null }> = [];
    await addModel(url, modelsDir, { onProgress: (p) => progress.push(p) });
    const estimates = progress.filter((p) => p.etaSeconds !== null);
    expect(estimates.length).toBeGreaterThan(0);
    for (const { etaSeconds } of estimates) expect(etaSeconds).toBeLessThan(10); // about 1 s in all: a sane estimate
    expect(estimates[0].etaSeconds).toBeGreaterThanOrEqual(estimates.at(-1)!.etaSeconds!);
    expect(progress.at(-1)).toMatchObject({ done: onnx.length, etaSeconds: 0 });
  });

  it('refuses a wrong sha256 and leaves nothing installed', async () => {
    const url = serve('/badsum', { ...manifest, sha256: 'a'.repeat(64) });
    await expect(addModel(url, modelsDir)).rejects.toThrow(/model\.onnx: sha256 is [0-9a-f]{64} but model\.json says a{64}/);
    expect(readdirSync(modelsDir)).toEqual([]);
    expect(registry().list().map((m) => m.id)).not.toContain('test-colorpos');
  });

  it('refuses a body that ends early without a length (caught by the checksum) and keeps nothing', async () => {
    const url = serve('/short');
    server.behaviour = { chunkedShort: 5000 };
    await expect(addModel(url, modelsDir)).rejects.toThrow(/sha256 is .* but model\.json says/);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('after a connection dropped halfway, refuses the truncated file, then the next add resumes with a Range request', async () => {
    const url = serve('/drop');
    server.behaviour = { dropAfter: 12_000 };
    await expect(addModel(url, modelsDir)).rejects.toThrow(/drop\/model\.onnx: the connection closed unexpectedly; 12000 bytes kept, adding it again resumes$/);
    expect(registry().list().map((m) => m.id)).not.toContain('test-colorpos');
    expect(readFileSync(join(modelsDir, '.partial-test-colorpos', 'model.onnx'))).toEqual(onnx.subarray(0, 12_000));

    server.behaviour = {};
    server.requests = [];
    await addModel(url, modelsDir);
    const download = server.requests.find((r) => r.path === '/drop/model.onnx');
    expect(download).toEqual({ path: '/drop/model.onnx', range: 'bytes=12000-', status: 206 });
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
    expect(readdirSync(modelsDir)).toEqual(['test-colorpos']);
    expect(registry().get('test-colorpos').available).toBe(true);
  });

  it('finishes an add whose download completed before the process stopped (416 for the range past the end)', async () => {
    const url = serve('/complete');
    const staging = join(modelsDir, '.partial-test-colorpos');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'model.json'), JSON.stringify(manifest));
    writeFileSync(join(staging, 'model.onnx'), onnx);
    await addModel(url, modelsDir);
    expect(server.requests.filter((r) => r.path === '/complete/model.onnx')).toEqual([{ path: '/complete/model.onnx', range: `bytes=${onnx.length}-`, status: 416 }]);
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
  });

  it('starts over when the staged bytes belong to another version of the model', async () => {
    const url = serve('/newer');
    const staging = join(modelsDir, '.partial-test-colorpos');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'model.json'), JSON.stringify({ ...manifest, version: '0.9.0', sha256: 'c'.repeat(64) }));
    writeFileSync(join(staging, 'model.onnx'), Buffer.alloc(5000, 7));
    await addModel(url, modelsDir);
    expect(server.requests.find((r) => r.path === '/newer/model.onnx')).toMatchObject({ range: null, status: 200 });
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
  });

  it('restarts cleanly when the server answers a Range request with the whole file (200)', async () => {
    const url = serve('/norange');
    server.behaviour = { dropAfter: 9_000 };
    await expect(addModel(url, modelsDir)).rejects.toThrow(/resumes/);
    server.behaviour = { ignoreRange: true };
    server.requests = [];
    await addModel(url, modelsDir);
    expect(server.requests.filter((r) => r.path === '/norange/model.onnx').map((r) => r.status)).toEqual([200, 200]);
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
  });

  it('refuses an ONNX whose outputs or inputs do not match its manifest, naming the difference', async () => {
    const output = serve('/mismatch-out', { ...manifest, output: { ...manifest.output, name: 'features' } });
    await expect(addModel(output, modelsDir)).rejects.toThrow('model.onnx does not match model.json: output.name is "features" but the model\'s outputs are "embedding"');
    const input = serve('/mismatch-in', { ...manifest, input: { ...manifest.input, name: 'pixels' } });
    await expect(addModel(input, modelsDir)).rejects.toThrow(/input\.name is "pixels" but the model's input is "image"/);
    const garbage = Buffer.from('this is not an onnx model');
    const notOnnx = serve('/not-onnx', { ...manifest, sha256: createHash('sha256').update(garbage).digest('hex') }, garbage);
    await expect(addModel(notOnnx, modelsDir)).rejects.toThrow(/model\.onnx: onnxruntime cannot open it as a model/);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('refuses a manifest it cannot read, an HTTP error and a file path outside the model folder', async () => {
    server.files.set('/broken/model.json', '{ "id": "x", ');
    await expect(addModel(`${base}/broken/model.json`, modelsDir)).rejects.toThrow(`${base}/broken/model.json: the model manifest is not valid JSON`);
    server.files.set('/partial/model.json', JSON.stringify({ ...manifest, output: undefined }));
    await expect(addModel(`${base}/partial/model.json`, modelsDir)).rejects.toThrow(/partial\/model\.json: output: Invalid input/);
    await expect(addModel(`${base}/missing/model.json`, modelsDir)).rejects.toThrow(/missing\/model\.json: the server answered HTTP 404/);
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    await expect(addModel(`http://127.0.0.1:${port}/model.json`, modelsDir)).rejects.toThrow(`http://127.0.0.1:${port}/model.json: the server refused the connection`);
    const escape = serve('/escape', { ...manifest, file: '../../etc/passwd' });
    await expect(addModel(escape, modelsDir)).rejects.toThrow(/file must be the name of the ONNX file beside model\.json/);
    const clobber = serve('/clobber', { ...manifest, file: 'model.json' });
    await expect(addModel(clobber, modelsDir)).rejects.toThrow('file must be the name of the ONNX file beside model.json, not "model.json"');
    expect(existsSync(modelsDir) ? readdirSync(modelsDir) : []).toEqual([]);
  });

  it('refuses a file larger than the limit before reading it', async () => {
    const url = serve('/big');
    await expect(addModel(url, modelsDir, { maxBytes: 1000 })).rejects.toThrow(`${onnx.length} bytes is more than the 1000-byte limit`);
    expect(server.requests.filter((r) => r.path === '/big/model.onnx')).toHaveLength(1);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('stops reading a body without a length at the limit and keeps none of it', async () => {
    const url = serve('/big-chunked');
    server.behaviour = { trickle: 2000, noLength: true };
    await expect(addModel(url, modelsDir, { maxBytes: 5000 })).rejects.toThrow(/big-chunked\/model\.onnx: more than the 5000-byte limit for a model$/);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('gives up on a server that stops sending, keeps the bytes, and resumes from them', async () => {
    const url = serve('/stall');
    server.behaviour = { stallAfter: 10_000 };
    const started = Date.now();
    await expect(addModel(url, modelsDir, { stallSeconds: 0.5 })).rejects.toThrow(/model\.onnx: the server sent nothing for 0\.5 s; 10000 bytes kept, adding it again resumes/);
    expect(Date.now() - started).toBeLessThan(5000);
    server.behaviour = {};
    server.requests = [];
    await addModel(url, modelsDir);
    expect(server.requests.find((r) => r.path === '/stall/model.onnx')?.range).toBe('bytes=10000-');
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
  });

  it('refuses a second add of a model being added; a lock left by a finished process is taken over', async () => {
    const url = serve('/locked');
    mkdirSync(modelsDir, { recursive: true });
    const lock = join(modelsDir, '.adding-test-colorpos.lock');
    writeFileSync(lock, String(process.pid));
    await expect(addModel(url, modelsDir)).rejects.toThrow(`model "test-colorpos" is being added already (process ${process.pid}); wait for it to finish`);
    expect(readdirSync(modelsDir)).toEqual(['.adding-test-colorpos.lock']);

    writeFileSync(lock, String(spawnSync(process.execPath, ['-e', '']).pid)); // a process that has exited
    await addModel(url, modelsDir);
    expect(readdirSync(modelsDir)).toEqual(['test-colorpos']);
  });

  it('stops on cancel and keeps the bytes for a resume', async () => {
    const url = serve('/cancel');
    server.behaviour = { dropAfter: 7_000 }; // the first chunk arrives, then the connection hangs until dropped
    const controller = new AbortController();
    const adding = addModel(url, modelsDir, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(adding).rejects.toThrow(/download cancelled; 7000 bytes kept/);
    server.behaviour = {};
    await addModel(url, modelsDir);
    expect(readFileSync(join(modelsDir, 'test-colorpos', 'model.onnx'))).toEqual(onnx);
  });
});

describe('adding a model from disk, replacing and removing', () => {
  function writeModelFolder(model: object = manifest): string {
    const folder = join(dir, 'source');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.json'), JSON.stringify(model));
    writeFileSync(join(folder, 'model.onnx'), onnx);
    return folder;
  }

  it('installs from a folder or a model.json path; an installed id needs --replace; built-ins are refused', async () => {
    const folder = writeModelFolder();
    const models = registry();
    await models.add(folder);
    expect(models.get('test-colorpos')).toMatchObject({ available: true, source: folder });
    await expect(models.add(join(folder, 'model.json'))).rejects.toThrow('model "test-colorpos" is already installed (add it with --replace to replace it)');
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ ...manifest, version: '2.0.0' }));
    await models.add(join(folder, 'model.json'), { replace: true });
    expect(models.get('test-colorpos').manifest.version).toBe('2.0.0');
    expect(readdirSync(modelsDir)).toEqual(['test-colorpos']);

    writeFileSync(join(folder, 'model.json'), JSON.stringify(builtin));
    await expect(models.add(folder)).rejects.toThrow(/model "pixelwise-colorpos" is built in/);
    await expect(models.add(join(dir, 'nowhere'))).rejects.toThrow(/nowhere: no such file or folder/);
  });

  it('removes a user model; built-in and unknown ids are refused', async () => {
    const models = registry();
    await models.add(writeModelFolder());
    await expect(models.remove('pixelwise-colorpos')).rejects.toThrow('model "pixelwise-colorpos" is built in and cannot be removed');
    await expect(models.remove('../models')).rejects.toThrow(/no installed model "..\/models"/);
    // What a process killed in the middle of deleting a model left behind.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(join(modelsDir, `.trash-${deadPid}-1-abc`, 'big'), { recursive: true });
    writeFileSync(join(modelsDir, `.trash-${deadPid}-1-abc`, 'big', 'model.onnx'), onnx);
    mkdirSync(join(modelsDir, `.trash-${process.pid}-1-abc`)); // a delete still running in a live process
    await models.remove('test-colorpos');
    expect(models.list().map((m) => m.id)).not.toContain('test-colorpos');
    expect(readdirSync(modelsDir)).toEqual([`.trash-${process.pid}-1-abc`]);
  });
});

describe('the registry', () => {
  it('lists a model whose file changed after it was checked as damaged', async () => {
    const models = registry();
    await models.add(serve('/changed'));
    expect(models.get('test-colorpos').available).toBe(true);
    const file = join(modelsDir, 'test-colorpos', 'model.onnx');
    const changed = Buffer.from(onnx);
    changed[100] ^= 0xff;
    writeFileSync(file, changed);
    utimesSync(file, new Date(), new Date(Date.now() + 5000)); // a different mtime even on a coarse clock
    models.refresh();
    expect(models.list().find((m) => m.id === 'test-colorpos')?.available).toBe(false);
    expect(() => models.get('test-colorpos')).toThrow('model "test-colorpos" is damaged');
  });

  it('lists a hand-copied model over 2 GiB as damaged instead of hiding it (the file is hashed in pieces)', () => {
    const folder = join(modelsDir, 'huge');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ ...manifest, id: 'huge' }));
    writeFileSync(join(folder, 'model.onnx'), '');
    truncateSync(join(folder, 'model.onnx'), 2 ** 31 + 4096); // sparse: no disk space used
    const entry = registry().list().find((m) => m.id === 'huge');
    expect(entry).toMatchObject({ available: false, sizeOnDisk: 2 ** 31 + 4096 + JSON.stringify({ ...manifest, id: 'huge' }).length });
  });
});

describe('pixelwise models (the built CLI)', () => {
  const bin = resolve(__dirname, '..', 'bin', 'pixelwise.cjs');
  const pixelwise = (data: string, args: string[]) => {
    const result = spawnSync(process.execPath, [bin, ...args, '--data-dir', data], { encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  it('adds from a URL (resuming after a dropped connection) and from a folder with progress on stderr, lists, refuses a bad model, removes', async () => {
    const data = join(dir, 'data');
    const url = serve('/cli');
    // spawnSync would block this process's event loop, and with it the test server: adds run with spawn.
    server.behaviour = { dropAfter: 10_000 };
    const dropped = await runAsync(bin, ['models', 'add', url, '--data-dir', data]);
    expect(dropped.code).toBe(1);
    expect(dropped.stderr).toMatch(/pixelwise: .*\/cli\/model\.onnx: .*10000 bytes kept, adding it again resumes/);
    server.behaviour = {};
    server.requests = [];
    const added = await runAsync(bin, ['models', 'add', url, '--data-dir', data]);
    expect(server.requests.find((r) => r.path === '/cli/model.onnx')).toMatchObject({ range: 'bytes=10000-', status: 206 });
    expect(added.stderr).toMatch(/download: \d+ kB of \d+ kB \(100%\)/);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ id: 'test-colorpos', available: true, source: url, bytes: onnx.length });

    const listed = JSON.parse(pixelwise(data, ['models']).stdout) as Array<{ id: string; sizeOnDisk: number; source: string | null }>;
    expect(listed.find((m) => m.id === 'test-colorpos')).toMatchObject({ source: url });
    expect(listed.find((m) => m.id === 'pixelwise-colorpos')).toMatchObject({ source: null, sizeOnDisk: expect.any(Number) });

    const bad = await runAsync(bin, ['models', 'add', serve('/cli-bad', { ...manifest, id: 'other', sha256: 'b'.repeat(64) }), '--data-dir', data]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/pixelwise: model\.onnx: sha256 is [0-9a-f]{64} but model\.json says b{64}/);
    expect(bad.stdout).toBe('');

    const folder = join(dir, 'local');
    mkdirSync(folder);
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ ...manifest, id: 'local-colorpos' }));
    writeFileSync(join(folder, 'model.onnx'), onnx);
    const copied = pixelwise(data, ['models', 'add', folder]);
    expect(copied.code).toBe(0);
    expect(copied.stderr).toMatch(/copy: \d+ kB of \d+ kB \(100%\)/);
    expect(JSON.parse(copied.stdout)).toMatchObject({ id: 'local-colorpos', available: true, source: folder });

    const removed = pixelwise(data, ['models', 'remove', 'test-colorpos']);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({ removed: 'test-colorpos' });
    const builtinRemoval = pixelwise(data, ['models', 'remove', 'pixelwise-colorpos']);
    expect(builtinRemoval.code).toBe(1);
    expect(builtinRemoval.stderr).toMatch(/built in and cannot be removed/);
    expect(pixelwise(data, ['models', 'frobnicate', 'x']).code).toBe(2);
    expect((JSON.parse(pixelwise(data, ['models']).stdout) as Array<{ id: string }>).map((m) => m.id)).not.toContain('test-colorpos');
  });
});

async function runAsync(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args]);
  let stdout = '', stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  return { code, stdout, stderr };
}
