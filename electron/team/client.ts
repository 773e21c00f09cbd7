/**
 * A client of the team server for the command line (push, pull): signs in, calls, and says in words what went
 * wrong (not a server address, nothing answering, a refused call). Requests that got no answer are retried a few
 * times; the calls it makes are safe to repeat (uploads are deduplicated by content, saves carry a saveId).
 */
import { ApiError } from '../../core/api/contract';

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

  async signIn(name: string, password: string): Promise<void> {
    this.token = ((await this.call('auth.login', { name, password })) as { token: string }).token;
    this.credentials = { name, password };
  }

  /** One call; an ApiError with the server's code and words when it is refused. */
  async call<T = unknown>(name: string, input: unknown = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.origin}/api/${name.replace('.', '/')}`, {
          method: 'POST', body: JSON.stringify(input), signal: AbortSignal.timeout(120_000),
          headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        });
      } catch (error) {
        if (attempt < 3) {
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
          continue;
        }
        const cause = ((error as { cause?: { code?: string } }).cause?.code) ?? (error as Error).name;
        throw new ApiError('unavailable', `cannot reach the team server at ${this.origin} (${cause}): is it running, and is the address right?`);
      }
      const body = await response.json().catch(() => null) as { ok: boolean; result: T; error?: { code: string; message: string } } | null;
      if (!body) throw new ApiError('unavailable', `${this.origin} answered ${response.status} without a Pixelwise reply: is it a Pixelwise team server?`);
      if (response.status === 503 && attempt < 3) continue;
      // A session that expired under a long-running client (a worker): sign in again, once, and repeat the call.
      if (response.status === 401 && this.credentials && name !== 'auth.login' && attempt < 3) {
        const { name: user, password } = this.credentials;
        this.credentials = null;
        await this.signIn(user, password);
        continue;
      }
      if (!body.ok) throw new ApiError(body.error?.code ?? 'internal', body.error?.message ?? `the server answered ${response.status}`);
      return body.result;
    }
  }
}
