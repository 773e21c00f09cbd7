/**
 * Worker thread that owns the onnxruntime session, so embedding never blocks the main process's event loop.
 * Messages in: {type: 'load', modelDir} then {type: 'embed', id, path}; out: results with transferred bytes.
 */
import { parentPort } from 'node:worker_threads';
import { quantize } from '../../core/embedding';
import { createEmbedder, type Embedder } from './embedder';
import { decodeImageFile } from './image-io';

export type WorkerRequest = { type: 'load'; modelDir: string } | { type: 'embed'; id: number; path: string };
export type WorkerResponse =
  | { type: 'loaded'; provider: Embedder['provider']; attempts: Embedder['attempts'] }
  | { type: 'embedded'; id: number; stored: ReturnType<typeof quantize>; ms: number }
  | { type: 'error'; id: number | null; message: string };

let embedder: Embedder | null = null;
const port = parentPort;
if (!port) throw new Error('embed-worker must run in a worker thread');

port.on('message', async (request: WorkerRequest) => {
  try {
    if (request.type === 'load') {
      await embedder?.close();
      embedder = await createEmbedder(request.modelDir);
      port.postMessage({ type: 'loaded', provider: embedder.provider, attempts: embedder.attempts } satisfies WorkerResponse);
      return;
    }
    if (!embedder) throw new Error('no model loaded');
    const started = performance.now();
    const image = await decodeImageFile(request.path);
    const stored = quantize(await embedder.embed(image));
    const response: WorkerResponse = { type: 'embedded', id: request.id, stored, ms: performance.now() - started };
    port.postMessage(response, [stored.bytes.buffer as ArrayBuffer]);
  } catch (error) {
    const id = request.type === 'embed' ? request.id : null;
    port.postMessage({ type: 'error', id, message: (error as Error).message } satisfies WorkerResponse);
  }
});
