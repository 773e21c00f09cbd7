/**
 * An embedding worker for a team project: takes embed tasks from the shared queue (Store.tasks.claim: FOR UPDATE
 * SKIP LOCKED on PostgreSQL, so many workers never take the same task), embeds the image read from the database,
 * and stores the map together with the task's completion. Its lease is renewed while it works; a worker that dies
 * stops renewing, and its task is claimed again once the lease has run out. A worker whose lease was taken over
 * writes nothing (its completion is refused), so every image ends with exactly one stored embedding.
 */
import { hostname } from 'node:os';
import { quantize } from '../../core/embedding';
import type { EmbedTask, Store } from '../../db/store';
import { createEmbedder, type Embedder } from '../embedding/embedder';
import { decodeImage } from '../embedding/image-io';
import type { ModelRegistry } from '../models';

/** What a worker needs of a project: the task queue and image bytes (a Store, or the server's calls: remote-queue.ts). */
export interface WorkerStore {
  tasks: Pick<Store['tasks'], 'claim' | 'renew' | 'complete' | 'fail' | 'counts'>;
  images: Pick<Store['images'], 'bytes'>;
}

export interface WorkerOptions {
  store: WorkerStore;
  registry: ModelRegistry;
  /** Shown in the queue's rows (default host:pid). */
  name?: string;
  leaseSeconds?: number;
  /** Stop when the queue is empty instead of polling for more. */
  exitWhenIdle?: boolean;
  pollMs?: number;
  signal?: AbortSignal;
  onTask?: (event: { task: EmbedTask; outcome: 'done' | 'taken-over' | 'failed'; ms: number; error?: string }) => void;
}

export async function runWorker(options: WorkerOptions): Promise<{ done: number; failed: number }> {
  const { store, registry } = options;
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const leaseSeconds = options.leaseSeconds ?? 60;
  const embedders = new Map<string, Promise<Embedder>>();
  const embedder = (modelId: string) => {
    let found = embedders.get(modelId);
    if (!found) embedders.set(modelId, found = createEmbedder(registry.get(modelId).dir));
    return found;
  };
  let done = 0, failed = 0;
  try {
    while (!options.signal?.aborted) {
      const task = await store.tasks.claim(name, leaseSeconds);
      if (!task) {
        if (options.exitWhenIdle && (await store.tasks.counts()).running === 0) break;
        await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
        continue;
      }
      const started = performance.now();
      const renewal = setInterval(() => void store.tasks.renew(task, leaseSeconds).catch(() => undefined), (leaseSeconds * 1000) / 3);
      try {
        const bytes = await store.images.bytes(task.imageId);
        if (!bytes) throw new Error(`image ${task.imageId} is gone from the project`);
        const stored = quantize(await (await embedder(task.modelId)).embed(await decodeImage(bytes)));
        const completed = await store.tasks.complete(task, stored);
        if (completed) done++;
        options.onTask?.({ task, outcome: completed ? 'done' : 'taken-over', ms: performance.now() - started });
      } catch (error) {
        const message = (error as Error).message;
        // The database being away, or the worker's account disabled or signed out, is not the image's fault: leave
        // the task to be claimed again.
        if (['unavailable', 'unauthorized', 'account-disabled'].includes((error as { code?: string }).code ?? '')) throw error;
        await store.tasks.fail(task, message);
        failed++;
        options.onTask?.({ task, outcome: 'failed', ms: performance.now() - started, error: message });
      } finally {
        clearInterval(renewal);
      }
    }
  } finally {
    for (const pending of embedders.values()) await (await pending.catch(() => null))?.close();
  }
  return { done, failed };
}
