/**
 * A client of the team server for the command line (push, pull) and the studio (team projects): signs in, calls,
 * and says in words what went wrong (not a server address, nothing answering, a refused call). Requests that got no
 * answer are retried a few times; the calls it makes are safe to repeat (uploads are deduplicated by content, saves
 * carry a saveId).
 */
import { ApiError } from '../../core/api/contract';

/** A call the server refused: its code and words, and what it sent along (a stale save's stored version). */
export class TeamCallError extends ApiError {
  override name = 'TeamCallError';
  constructor(code: string, message: string, readonly detail: unknown) {
    super(code, message);
  }
}

export interface CallOptions {
  /**
   * Pauses before each retry of a request that got no answer (nothing listening, a dropped connection, a 503);
   * as many retries as pauses. Saves wait longer than the rest (a server restarting takes seconds).
   */
  retryDelaysMs?: readonly number[];
}

const defaultRetryDelaysMs = [500, 1000, 2000];

export class TeamClient {
  private token: string | null = null;
  private credentials: { name: string; password: string } | null = null;
  readonly origin: string;

  constructor(serverUrl: string) {
    let parsed: URL;
    try {
      parsed = new URL(serverUrl);
    } catch {
      throw new ApiError('invalid-input', `"${serverUrl}" is not a server address (expected https://studio.example.com)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ApiError('invalid-input', `${serverUrl} is not a team server address (it should start with https:// or http://)`);
    }
    this.origin = parsed.origin;
  }

  /** Signs in (the password stays in memory only, to sign in again when the session expires); the account. */
  async signIn(name: string, password: string, options: CallOptions = {}): Promise<{ id: number; name: string; role: string }> {
    const reply = await this.call<{ token: string; user: { id: number; name: string; role: string } }>('auth.login', { name, password }, options);
    this.token = reply.token;
    this.credentials = { name, password };
    return reply.user;
  }

  /** Ends the session on the server (best effort: a server that is gone has nothing to end) and forgets it. */
  async signOut(): Promise<void> {
    if (this.token) await this.call('auth.logout', {}, { retryDelaysMs: [] }).catch(() => undefined);
    this.token = null;
    this.credentials = null;
  }

  /** One call; an ApiError with the server's code and words when it is refused. */
  async call<T = unknown>(name: string, input: unknown = {}, options: CallOptions = {}): Promise<T> {
    const delays = options.retryDelaysMs ?? defaultRetryDelaysMs;
    for (let attempt = 0; ; attempt++) {
      const retry = attempt < delays.length ? () => new Promise((resolve) => setTimeout(resolve, delays[attempt])) : null;
      let response: Response;
      try {
        response = await fetch(`${this.origin}/api/${name.replace('.', '/')}`, {
          method: 'POST', body: JSON.stringify(input), signal: AbortSignal.timeout(120_000),
          headers: { 'content-type': 'application/json', ...this.authorization() },
        });
      } catch (error) {
        if (retry) {
          await retry();
          continue;
        }
        throw this.unreachable(error);
      }
      const body = await response.json().catch(() => null) as { ok: boolean; result: T; error?: { code: string; message: string; current?: unknown } } | null;
      if (!body) throw new ApiError('unavailable', `${this.origin} answered ${response.status} without a Pixelwise reply: is it a Pixelwise team server?`);
      if (response.status === 503 && retry) {
        await retry();
        continue;
      }
      // A session that expired under a long-running client (a worker): sign in again, once, and repeat the call.
      if (response.status === 401 && this.credentials && name !== 'auth.login' && attempt < 3) {
        await this.signInAgain();
        continue;
      }
      if (!body.ok) throw new TeamCallError(body.error?.code ?? 'internal', body.error?.message ?? `the server answered ${response.status}`, body.error?.current);
      return body.result;
    }
  }

  /** A binary resource (GET, e.g. `thumbnail/12`): its bytes, or an ApiError in words. */
  async bytes(path: string): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.origin}/${path}`, { signal: AbortSignal.timeout(120_000), headers: this.authorization() });
      } catch (error) {
        if (attempt < defaultRetryDelaysMs.length) {
          await new Promise((resolve) => setTimeout(resolve, defaultRetryDelaysMs[attempt]));
          continue;
        }
        throw this.unreachable(error);
      }
      if (response.status === 401 && this.credentials && attempt < 3) {
        await this.signInAgain();
        continue;
      }
      if (response.ok) return new Uint8Array(await response.arrayBuffer());
      const body = await response.json().catch(() => null) as { error?: { code: string; message: string } } | null;
      throw new ApiError(body?.error?.code ?? (response.status === 404 ? 'not-found' : 'unavailable'), body?.error?.message ?? `${this.origin}/${path} answered ${response.status}`);
    }
  }

  private authorization(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async signInAgain(): Promise<void> {
    const { name, password } = this.credentials!;
    this.credentials = null;
    await this.signIn(name, password);
  }

  private unreachable(error: unknown): ApiError {
    const cause = ((error as { cause?: { code?: string } }).cause?.code) ?? (error as Error).name;
    return new ApiError('unavailable', `cannot reach the team server at ${this.origin} (${cause}): is it running, and is the address right?`);
  }
}
