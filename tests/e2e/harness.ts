/**
 * End-to-end harness: the real web-mode server (out/web.cjs, built by `npm run build`) in a child process with a
 * temp data folder, and Debian's Chromium driven by playwright-core, its page opened with the access token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

const root = resolve(__dirname, '..', '..');

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export interface ServerProcess {
  url: string;
  origin: string;
  /** The access token from the printed URL: API calls send it as `Authorization: Bearer`. */
  token: string;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

/** Starts `node out/web.cjs` (as another user where `as` says so) and waits for the URL it prints. */
export function startServer(
  dataDir: string, extraArgs: string[] = [], as: { uid?: number; gid?: number } = {}, env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [join(root, 'out', 'web.cjs'), '--port', '0', '--data-dir', dataDir, ...extraArgs], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIXELWISE_PROVIDERS: 'cpu', ...env }, ...as,
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  return new Promise((resolveStart, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`web server did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      stdout += String(chunk);
      const match = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        const url = new URL(match[1]);
        resolveStart({ url: match[1], origin: url.origin, token: url.searchParams.get('token')!, process: child, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`web server exited with ${code}: ${stderr}`));
    });
  });
}

export interface Studio {
  page: Page;
  browser: Browser;
  server: ServerProcess;
  url: string;
  dataDir: string;
  /** Calls an API method from the test side (with the page's token; no Origin, like any non-browser client). */
  call<T>(service: string, method: string, input?: unknown): Promise<T>;
  close(): Promise<void>;
}

/** `env` adds to the server's environment (which runs on the CPU only unless it sets PIXELWISE_PROVIDERS). */
export async function startStudio(options: { dataDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Studio> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pixelwise-e2e-'));
  const server = await startServer(dataDir, [], {}, options.env);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(server.url);
  return {
    page, browser, server, url: server.origin, dataDir,
    async call<T>(service: string, method: string, input: unknown = {}) {
      const reply = await page.request.post(`${server.origin}/api/${service}/${method}`, {
        data: input, headers: { authorization: `Bearer ${server.token}` },
      });
      const body = (await reply.json()) as { ok: boolean; result: T; error?: { message: string } };
      if (!body.ok) throw new Error(body.error?.message);
      return body.result;
    },
    async close() {
      await browser.close();
      server.process.kill('SIGTERM');
      await server.exited;
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Reads `read` every `everyMs` until `done` holds for its value, and returns that value; after `ms` it throws with
 * `what` and the last value. For waits outside a test (beforeAll, scripts), where expect.poll cannot run.
 */
export async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms: number, everyMs = 250): Promise<T> {
  for (let waited = 0; ; waited += everyMs) {
    const value = await read();
    if (done(value)) return value;
    if (waited > ms) throw new Error(`${what} did not happen within ${ms / 1000} s (last: ${JSON.stringify(value)?.slice(0, 300)})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
