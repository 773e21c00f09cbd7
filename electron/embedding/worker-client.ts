/** Main-side handle on the embedding worker thread: one request at a time, promises in, results out. */
import { Worker } from 'node:worker_threads';
import type { RuntimeInfo } from '../../core/api/records';
import type { StoredEmbedding } from '../../core/embedding';
import { outFile } from '../paths';
import type { WorkerRequest, WorkerResponse } from './worker';

export class EmbeddingWorker {
  private worker: Worker | null = null;
  private loadedDir: string | null = null;
  private pending: { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void } | null = null;
  runtime: Pick<RuntimeInfo, 'provider' | 'attempts'> = { provider: null, attempts: [] };

  private request(message: WorkerRequest): Promise<WorkerResponse> {
    if (!this.worker) {
      this.worker = new Worker(outFile('embed-worker.cjs'));
      this.worker.on('message', (response: WorkerResponse) => {
        const pending = this.pending;
        this.pending = null;
        pending?.resolve(response);
      });
      this.worker.on('error', (error) => this.fail(error));
      this.worker.on('exit', (code) => this.fail(new Error(`embedding worker exited with code ${code}`)));
    }
    if (this.pending) return Promise.reject(new Error('embedding worker is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker!.postMessage(message);
    });
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = null;
    this.worker = null;
    this.loadedDir = null;
    pending?.reject(error);
  }

  async load(modelDir: string): Promise<void> {
    if (this.loadedDir === modelDir) return;
    const response = await this.request({ type: 'load', modelDir });
    if (response.type === 'error') throw new Error(response.message);
    if (response.type === 'loaded') this.runtime = { provider: response.provider, attempts: response.attempts };
    this.loadedDir = modelDir;
  }

  /** Decodes, embeds and quantises one image file in the worker. */
  async embed(id: number, path: string): Promise<{ stored: StoredEmbedding; ms: number }> {
    const response = await this.request({ type: 'embed', id, path });
    if (response.type === 'error') throw new Error(response.message);
    if (response.type !== 'embedded') throw new Error(`unexpected worker response ${response.type}`);
    return { stored: response.stored, ms: response.ms };
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.loadedDir = null;
    await worker?.terminate();
  }
}
