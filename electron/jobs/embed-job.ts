/**
 * Embedding job: computes and stores the embedding map of each image that lacks one for the job's model.
 * Each image is committed on its own, so a killed job loses at most the image in flight and resumes with
 * the ones still missing.
 *
 * The same job switches a project to another model (payload `activate`): it embeds every image with the new model
 * while the project keeps working with its current one, also embeds images imported meanwhile, and only then hands
 * over to `activate` (which checks completeness, records the project's model and builds its search index).
 */
import { resolveStoredPath } from '../../db/images';
import type { Project } from '../../db/project';
import type { ModelEntry } from '../models';
import type { EmbeddingWorker } from '../embedding/worker-client';
import { isDiskFull } from '../services/errors';
import type { JobContext } from './runner';

export interface EmbedPayload {
  modelId: string;
  /** null = every image in the project. */
  imageIds: number[] | null;
  /** Make `modelId` the project's model once every image has a map from it (a model switch). */
  activate?: boolean;
}

export interface EmbedDependencies {
  worker: EmbeddingWorker;
  model: (id: string) => ModelEntry;
  /** Called after an image's map is stored (the search index hooks in here). */
  afterStore?: (imageId: number, modelId: string) => void | Promise<void>;
  /** Completes a model switch; throws (the job fails, saying why) when the project cannot switch yet. */
  activate?: (project: Project, modelId: string) => Promise<void>;
}

export function embedHandler(deps: EmbedDependencies) {
  return async ({ project, job, cancelled, progress }: JobContext): Promise<void> => {
    const { modelId, imageIds, activate } = job.payload as EmbedPayload;
    const model = deps.model(modelId);
    project.embeddings.registerModel(model.manifest);
    const missing = new Set(project.embeddings.missing(modelId));
    const wanted = imageIds ?? project.images.ids().filter((id) => project.images.get(id)?.hash);
    const counts = { total: wanted.length, done: 0, failed: 0 };
    let todo = wanted.filter((id) => missing.has(id));
    counts.done = counts.total - todo.length;
    progress(counts.total, counts.done, counts.failed);
    const attempted = new Set<number>();
    let loaded = false;
    while (todo.length) {
      if (!loaded) await deps.worker.load(model.dir);
      loaded = true;
      for (const id of todo) {
        if (cancelled() || !project.db.open) return;
        attempted.add(id);
        await embedOne(deps, project, id, modelId, counts, progress);
      }
      // A switch covers images imported while it ran (their import queued them for the old model only).
      todo = activate && project.db.open ? project.embeddings.missing(modelId).filter((id) => !attempted.has(id)) : [];
      counts.total += todo.length;
    }
    if (activate && !cancelled() && project.db.open) await deps.activate?.(project, modelId);
  };
}

async function embedOne(deps: EmbedDependencies, project: Project, id: number, modelId: string, counts: { total: number; done: number; failed: number },
  progress: JobContext['progress']): Promise<void> {
  const image = project.images.get(id);
  if (!image || !image.hash) {
    counts.failed++;
    progress(counts.total, counts.done, counts.failed);
    return;
  }
  try {
    const { stored } = await deps.worker.embed(id, resolveStoredPath(project.dir, image.path));
    if (!project.db.open) return;
    project.transaction(() => {
      project.embeddings.put(id, modelId, stored);
      project.images.setError(id, null);
      project.images.refreshStatus(id);
      counts.done++;
      progress(counts.total, counts.done, counts.failed);
    });
    await deps.afterStore?.(id, modelId);
  } catch (error) {
    if (!project.db.open) return;
    // A full disk is not this image's fault: the job stops and resumes with it once there is room.
    if (isDiskFull(error)) throw error;
    counts.failed++;
    project.transaction(() => {
      project.images.setError(id, `embedding failed: ${(error as Error).message}`);
      progress(counts.total, counts.done, counts.failed);
    });
  }
}
