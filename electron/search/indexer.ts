/**
 * Keeps the region index (db/regions.ts) in step with stored embeddings. The embedding job calls indexImage()
 * right after it stores a map; reindexMissing() catches up on anything stored before (or by another version).
 * Both are idempotent: a region row is replaced whole, in one statement.
 */
import { type EmbeddingMap, dequantize } from '../../core/embedding';
import { computeRegions, type RegionOptions } from '../../core/search/regions';
import type { Project } from '../../db/project';
import { regionRepository, type RegionRepository } from '../../db/regions';

export class SearchIndexError extends Error {
  override name = 'SearchIndexError';
}

const repositories = new WeakMap<Project, RegionRepository>();

/** One region repository per open project (statements are prepared once). */
export function regionsOf(project: Project): RegionRepository {
  let repository = repositories.get(project);
  if (!repository) repositories.set(project, (repository = regionRepository(project.db)));
  return repository;
}

/**
 * Computes and stores the region tree of one image's map (HWC float32 unit vectors, as embedder.embed returns or
 * dequantize gives). The embedding row for (imageId, modelId) must already be stored.
 */
export function indexImage(project: Project, imageId: number, modelId: string, map: EmbeddingMap, options?: Partial<RegionOptions>): void {
  if (!project.embeddings.has(imageId, modelId)) {
    throw new SearchIndexError(`image ${imageId} has no stored embedding for model ${modelId}; store the map before indexing it`);
  }
  regionsOf(project).put(imageId, modelId, computeRegions(map, options));
}

/** indexImage() on the map as stored (for hooks that get ids only, like the embed job's afterStore). */
export function indexStored(project: Project, imageId: number, modelId: string, options?: Partial<RegionOptions>): void {
  const stored = project.embeddings.get(imageId, modelId);
  if (!stored) throw new SearchIndexError(`image ${imageId} has no stored embedding for model ${modelId}; store the map before indexing it`);
  regionsOf(project).put(imageId, modelId, computeRegions(dequantize(stored), options));
}

export interface ReindexProgress {
  done: number;
  total: number;
}

/**
 * Indexes every image that has an embedding for the model but no regions, one at a time, yielding to the event
 * loop between images so the main process stays responsive. Returns how many images were indexed.
 */
export async function reindexMissing(project: Project, modelId: string, options: {
  signal?: AbortSignal;
  onProgress?: (progress: ReindexProgress) => void;
  regionOptions?: Partial<RegionOptions>;
} = {}): Promise<number> {
  const ids = regionsOf(project).missing(modelId);
  let done = 0;
  for (const imageId of ids) {
    if (options.signal?.aborted) break;
    if (project.embeddings.has(imageId, modelId)) indexStored(project, imageId, modelId, options.regionOptions);
    done++;
    options.onProgress?.({ done, total: ids.length });
    if (done % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return done;
}
