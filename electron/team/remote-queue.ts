/**
 * The embed-task queue and image bytes through the team server's calls, for `pixelwise worker --server`: a GPU
 * machine then needs a worker account, not the database's address and password. Same guarantees as the database
 * queue (the server runs the same Store calls); embeddings travel as base64 in JSON.
 */
import type { EmbedTask, TaskCounts } from '../../db/store';
import type { TeamClient } from './client';
import type { WorkerStore } from './worker';

export function remoteQueue(client: TeamClient): WorkerStore {
  return {
    tasks: {
      claim: (worker, leaseSeconds) => client.call<EmbedTask | null>('tasks.claim', { worker, leaseSeconds }),
      renew: (task, leaseSeconds) => client.call<boolean>('tasks.renew', { task, leaseSeconds }),
      complete: (task, { bytes, ...shape }) => client.call<boolean>('tasks.complete', {
        task, embedding: { ...shape, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') },
      }),
      fail: async (task, error) => void await client.call('tasks.fail', { task, error }),
      counts: () => client.call<TaskCounts>('tasks.counts'),
    },
    images: {
      bytes: async (id) => Buffer.from((await client.call<{ data: string }>('images.download', { id })).data, 'base64'),
    },
  };
}
