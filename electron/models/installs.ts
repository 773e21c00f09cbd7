/**
 * Models being added from the Models view: each add runs in the background with its progress (bytes, total, ETA)
 * kept here for the view to poll, and can be cancelled. They belong to the studio, not to a project (no project
 * need be open), so they live in memory: an add cut short by a cancel, a lost connection or a restart keeps its
 * bytes in the installer's staging folder, and adding the same URL again resumes from them (HTTP range request).
 */
import type { ModelInstall } from '../../core/api/models-contract';
import { toApiError } from '../services/errors';
import type { ModelRegistry } from '../models';

/** Finished adds kept for the view (newest first). */
const keepFinished = 20;

export class ModelInstalls {
  private readonly items: ModelInstall[] = [];
  private readonly controllers = new Map<number, AbortController>();
  private nextId = 1;

  constructor(private readonly registry: ModelRegistry) {}

  /** Starts an add and returns its record at once; `settled` resolves when it ends (for the CLI and tests). */
  start(source: string, replace = false): { install: ModelInstall; settled: Promise<ModelInstall> } {
    const install: ModelInstall = {
      id: this.nextId++, source, status: 'running', done: 0, total: null, etaSeconds: null, error: null, modelId: null, startedAt: new Date().toISOString(),
    };
    const controller = new AbortController();
    this.items.unshift(install);
    this.controllers.set(install.id, controller);
    const settled = this.registry.add(source, {
      replace,
      signal: controller.signal,
      onProgress: ({ done, total, etaSeconds }) => Object.assign(install, { done, total, etaSeconds }),
    }).then((result) => {
      Object.assign(install, { status: 'done', modelId: result.id, done: result.bytes, total: result.bytes, etaSeconds: 0 });
    }, (error: unknown) => {
      const cancelled = controller.signal.aborted;
      Object.assign(install, { status: cancelled ? 'cancelled' : 'failed', error: cancelled ? null : toApiError(error).message, etaSeconds: null });
    }).then(() => {
      this.controllers.delete(install.id);
      this.trim();
      return { ...install };
    });
    return { install: { ...install }, settled };
  }

  list(): ModelInstall[] {
    return this.items.map((install) => ({ ...install }));
  }

  /** Stops an add in flight (its downloaded bytes stay for a resume); a finished one is left as it is. */
  cancel(id: number): void {
    this.controllers.get(id)?.abort();
  }

  private trim(): void {
    const finished = this.items.filter((install) => install.status !== 'running');
    for (const old of finished.slice(keepFinished)) this.items.splice(this.items.indexOf(old), 1);
  }
}
