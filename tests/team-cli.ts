/**
 * Runs the `pixelwise` command from source (node --import tsx, one process, so a signal reaches the CLI itself)
 * for the team tests and the team load bench; and a small client for the team server's HTTP API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(__dirname, '..');

export interface CliProcess {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'electron/cli/main.ts'), ...args], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { process: child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until the output matches (or the process ends, or the time runs out: an error with what it printed). */
export async function waitForOutput(cli: CliProcess, pattern: RegExp, ms = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = pattern.exec(cli.stdout()) ?? pattern.exec(cli.stderr());
    if (found) return found;
    if (cli.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${pattern} (exit ${cli.process.exitCode}):\n${cli.stdout()}\n${cli.stderr()}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

export interface Reply<T = any> {
  status: number;
  ok: boolean;
  result: T;
  error?: { code: string; message: string; current?: any };
  ms: number;
}

/** One API call: the HTTP status, the body, and the time it took. */
export async function teamCall<T = any>(origin: string, token: string | null, call: string, input: unknown = {}): Promise<Reply<T>> {
  const started = performance.now();
  const response = await fetch(`${origin}/api/${call.replace('.', '/')}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { ok: boolean; result: T; error?: Reply['error'] };
  return { status: response.status, ...body, ms: performance.now() - started };
}

export async function signIn(origin: string, name: string, password: string): Promise<string> {
  const reply = await teamCall(origin, null, 'auth.login', { name, password });
  if (!reply.ok) throw new Error(`sign-in as ${name} failed: ${reply.error?.message}`);
  return reply.result.token as string;
}
