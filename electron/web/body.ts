/** Reading an HTTP request's body with a size cap: the studio's web server and the team server share it. */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../core/api/contract';

/** Requests carry JSON of at most this many bytes (uploads and mask RLEs of very large photos stay under it). */
export const maxBody = 64 * 1024 * 1024;

/** The body as UTF-8 text; over `maxBody` bytes it stops reading and throws 'too-large'. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new ApiError('too-large', `request body over ${maxBody / 1024 / 1024} MB`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
