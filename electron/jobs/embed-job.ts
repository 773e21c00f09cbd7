/**
 * Embedding job: computes and stores the embedding map of each image that lacks one for the job's model.
 * Each image is committed on its own, so a killed job loses at most the image in flight and resumes with
 * the ones still missing.
 */
import { resolveStoredPath } from '../../db/images';
import type { ModelEntry } from '../models';
import type { EmbeddingWorker } from '../embedding/worker-client';
import { isDiskFull } from '../services/errors';
import type { JobContext } from './runner';

export interface EmbedPayload {
  modelId: string;
  /** null = every image in the project. */
  imageIds: number[] | null;
}

export interface EmbedDependencies {
  worker: EmbeddingWorker;
  model: (id: string) => ModelEntry;
  /** Called after an image's map is stored (the search index hooks in here). */
  afterStore?: (imageId: number, modelId: string) => void | Promise<void>;
}

export function embedHandler(deps: EmbedDependencies) {
  return async ({ project, job, cancelled, progress }: JobContext): Promise<void> => {
    const { modelId, imageIds } = job.payload as EmbedPayload;
    const model = deps.model(modelId);
    project.embeddings.registerModel(model.manifest);
    const missing = new Set(project.embeddings.missing(modelId));
    const wanted = imageIds ?? project.images.ids().filter((id) => project.images.get(id)?.hash);
    const todo = wanted.filter((id) => missing.has(id));
    const total = wanted.length;
    let done = total - todo.length, failed = 0;
    progress(total, done, failed);
    if (todo.length) await deps.worker.load(model.dir);
    for (const id of todo) {
      if (cancelled()) return;
      const image = project.images.get(id);
      if (!image || !image.hash) {
        failed++;
        progress(total, done, failed);
        continue;
      }
      try {
        const { stored } = await deps.worker.embed(id, resolveStoredPath(project.dir, image.path));
        if (!project.db.open) return;
        project.transaction(() => {
          project.embeddings.put(id, modelId, stored);
          project.images.setError(id, null);
          project.images.refreshStatus(id);
          progress(total, ++done, failed);
        });
        await deps.afterStore?.(id, modelId);
      } catch (error) {
        if (!project.db.open) return;
        // A full disk is not this image's fault: the job stops and resumes with it once there is room.
        if (isDiskFull(error)) throw error;
        failed++;
        project.transaction(() => {
          project.images.setError(id, `embedding failed: ${(error as Error).message}`);
          progress(total, done, failed);
        });
      }
    }
  };
}
