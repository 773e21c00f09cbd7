/**
 * Resumable, bounded HTTP(S) download of one file to disk. An interrupted download leaves its bytes in `dest`;
 * the next call asks for the rest with `Range: bytes=N-` and appends only when the server answers 206 with a
 * Content-Range that starts at N (anything else restarts from zero, so bytes of two different bodies never mix).
 */
import { createWriteStream, existsSync, statSync, truncateSync } from 'node:fs';
import { once } from 'node:events';

export interface DownloadProgress {
  /** Bytes on disk, including those resumed from an earlier attempt. */
  done: number;
  /** Total bytes, when the server said; null otherwise. */
  total: number | null;
  /** Seconds left at this attempt's average speed; null until it can be estimated. */
  etaSeconds: number | null;
}

export interface DownloadOptions {
  /** Refuse a body larger than this many bytes (declared or received). */
  maxBytes: number;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Give up after this many seconds without a byte (default 30). */
  stallSeconds?: number;
}

export class DownloadError extends Error {
  override name = 'DownloadError';
  /** Whether the bytes received so far are worth keeping for the next attempt (not when the body is refused). */
  constructor(message: string, readonly resumable = true) {
    super(message);
  }
}

/** Seconds without a byte from the server before a download is given up (its bytes are kept for a resume). */
const defaultStallSeconds = 30;

/**
 * One signal for a transfer that aborts when the caller cancels or when the server sends nothing for `seconds`
 * (a stalled connection otherwise hangs forever: the download tools users report most often do exactly that).
 */
class Watchdog {
  readonly signal: AbortSignal;
  private readonly stalled = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly seconds: number, private readonly cancel?: AbortSignal) {
    this.signal = cancel ? AbortSignal.any([cancel, this.stalled.signal]) : this.stalled.signal;
    this.feed();
  }

  feed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stalled.abort(), this.seconds * 1000);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** What went wrong, in the user's words. */
  reason(url: string, error: unknown): string {
    if (this.cancel?.aborted) return `${url}: download cancelled`;
    if (this.stalled.signal.aborted) return `${url}: the server sent nothing for ${this.seconds} s`;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? '';
    return `${url}: ${networkProblems[code] ?? `cannot download (${code || cause?.message || (error as Error).message})`}`;
  }
}

/** undici's socket and DNS error codes, in the user's words. */
const networkProblems: Record<string, string> = {
  ECONNREFUSED: 'the server refused the connection (is the address right and the server running?)',
  ENOTFOUND: 'no such host (check the address and the network connection)',
  EAI_AGAIN: 'the host name could not be looked up (check the network connection)',
  ECONNRESET: 'the connection was reset by the server',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted",
};

/** Fetches a small text resource (a model.json) in full, refusing bodies over `maxBytes`. */
export async function fetchText(url: string, maxBytes: number, signal?: AbortSignal, stallSeconds = defaultStallSeconds): Promise<string> {
  const watchdog = new Watchdog(stallSeconds, signal);
  try {
    const response = await request(url, {}, watchdog);
    if (!response.ok) throw new DownloadError(`${url}: the server answered HTTP ${response.status} ${response.statusText}`.trim());
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      watchdog.feed();
      size += chunk.byteLength;
      if (size > maxBytes) throw new DownloadError(`${url}: larger than ${maxBytes} bytes, not a model manifest`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw error instanceof DownloadError ? error : new DownloadError(watchdog.reason(url, error));
  } finally {
    watchdog.stop();
  }
}

/** Downloads `url` into `dest`, resuming from the bytes already there. Returns the final size. */
export async function downloadFile(url: string, dest: string, options: DownloadOptions): Promise<number> {
  const watchdog = new Watchdog(options.stallSeconds ?? defaultStallSeconds, options.signal);
  try {
    return await download(url, dest, options, watchdog);
  } finally {
    watchdog.stop();
  }
}

async function download(url: string, dest: string, options: DownloadOptions, watchdog: Watchdog): Promise<number> {
  let offset = existsSync(dest) ? statSync(dest).size : 0;
  let response = await request(url, offset > 0 ? { range: `bytes=${offset}-` } : {}, watchdog);
  if (offset > 0 && response.status === 416) {
    // Range past the end: complete already if the server's total is exactly what we hold.
    const total = /^bytes \*\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
    await response.body?.cancel();
    if (Number(total) === offset) return offset;
    response = await request(url, {}, watchdog);
    offset = 0;
  } else if (offset > 0 && !resumes(response, offset)) {
    // 200 (server ignores ranges) or a range that does not start where we stopped: start over cleanly.
    await response.body?.cancel();
    response = await request(url, {}, watchdog);
    offset = 0;
  }
  if (!response.ok) throw new DownloadError(`${url}: the server answered HTTP ${response.status} ${response.statusText}`.trim());
  if (offset === 0 && existsSync(dest)) truncateSync(dest, 0);

  const length = response.headers.get('content-length');
  const total = length !== null && /^\d+$/.test(length) ? offset + Number(length) : null;
  if (total !== null && total > options.maxBytes) {
    await response.body?.cancel();
    throw new DownloadError(`${url}: ${total} bytes is more than the ${options.maxBytes}-byte limit for a model`, false);
  }
  return await receive(response, dest, offset, total, url, options, watchdog);
}

function resumes(response: Response, offset: number): boolean {
  if (response.status !== 206) return false;
  const start = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '')?.[1];
  return Number(start) === offset;
}

async function request(url: string, headers: Record<string, string>, watchdog: Watchdog): Promise<Response> {
  try {
    // identity: Content-Length and Range must count the file's own bytes, not a compressed form of them.
    const response = await fetch(url, { headers: { ...headers, 'accept-encoding': 'identity' }, signal: watchdog.signal, redirect: 'follow' });
    watchdog.feed();
    return response;
  } catch (error) {
    throw new DownloadError(watchdog.reason(url, error));
  }
}

async function receive(response: Response, dest: string, offset: number, total: number | null, url: string, options: DownloadOptions, watchdog: Watchdog) {
  const out = createWriteStream(dest, { flags: 'a' });
  let writeError: Error | null = null;
  out.on('error', (error) => (writeError = error));
  const started = Date.now();
  let done = offset;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      watchdog.feed();
      done += chunk.byteLength;
      if (total !== null && done > total) throw new DownloadError(`${url}: the server sent more than the ${total} bytes it announced`, false);
      if (done > options.maxBytes) throw new DownloadError(`${url}: more than the ${options.maxBytes}-byte limit for a model`, false);
      if (writeError) throw writeError;
      if (!out.write(chunk)) await once(out, 'drain');
      const seconds = (Date.now() - started) / 1000;
      const speed = (done - offset) / seconds;
      const etaSeconds = total !== null && seconds > 0.5 && speed > 0 ? Math.round((total - done) / speed) : null;
      options.onProgress?.({ done, total, etaSeconds });
    }
  } catch (error) {
    if (error instanceof DownloadError || error === writeError) throw error;
    throw new DownloadError(`${watchdog.reason(url, error)}; ${done} bytes kept, adding it again resumes`);
  } finally {
    out.end();
    if (!out.closed) await once(out, 'close');
  }
  if (writeError) throw writeError;
  if (total !== null && done < total) {
    throw new DownloadError(`${url}: the connection closed after ${done} of ${total} bytes; ${done} bytes kept, adding it again resumes`);
  }
  return done;
}
