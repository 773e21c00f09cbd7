/**
 * discovery.run / discovery.label over one Project: the selected images' stored region trees go through
 * core/search/discovery.ts; results are kept in memory (last few) so a cluster can be labelled everywhere.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/api/contract';
import type {
  AcceptResult, DiscoveryCluster, DiscoveryLabelInput, DiscoveryResult, DiscoveryRunInput,
} from '../../core/api/search-contract';
import { encodeRle } from '../../core/rle';
import { type Mask, maskBbox } from '../../core/mask';
import { denseMatch } from '../../core/search/dense';
import { type DiscoveredCluster, type DiscoveryOptions, type DiscoveryPick, discover, pickGridMask } from '../../core/search/discovery';
import { gridBoxToImage, gridMaskToImage } from '../../core/search/pooling';
import type { RegionSet } from '../../core/search/regions';
import type { Project } from '../../db/project';
import { guideImage } from './guide';
import { regionsOf } from './indexer';
import { writeAnnotations } from './writer';

interface StoredDiscovery {
  modelId: string;
  clusters: DiscoveredCluster[];
  sets: Map<number, RegionSet>;
}

export class DiscoveryError extends ApiError {
  override name = 'DiscoveryError';
  constructor(code: 'not-found' | 'not-embedded', message: string) {
    super(code, message);
  }
}

export interface DiscoveryServiceOptions extends DiscoveryOptions {
  /**
   * Member masks: 'region' = the pick's leaves of the image's region tree; 'dense' = the connected component
   * around the peak of the cluster centre's similarity on the full map (as a search hit; reads every map).
   */
  masks: 'region' | 'dense';
}

export function createDiscoveryService(project: Project, defaultModelId: () => string, options: Partial<DiscoveryServiceOptions> = {}, maxKept = 4) {
  const kept = new Map<string, StoredDiscovery>();
  const masksFrom = options.masks ?? 'region';

  /** Member mask on a grid covering the image, and its box in image pixels. */
  function memberMask(found: StoredDiscovery, cluster: DiscoveredCluster, pick: DiscoveryPick): { grid: Mask; bbox: [number, number, number, number] } {
    const set = found.sets.get(pick.imageId)!;
    const stored = masksFrom === 'dense' ? project.embeddings.get(pick.imageId, found.modelId) : undefined;
    if (stored) {
      const match = denseMatch(stored, [cluster.centroid]);
      // The heat grid samples every step-th map cell; stretched over the image it is off by < one step.
      return { grid: { width: match.width, height: match.height, data: match.component }, bbox: match.bbox };
    }
    const grid = { width: set.gridWidth, height: set.gridHeight, data: pickGridMask(set, pick) };
    return { grid, bbox: gridBoxToImage(maskBbox(grid), set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight) };
  }

  function describe(found: StoredDiscovery, cluster: DiscoveredCluster, index: number): DiscoveryCluster {
    return {
      index, score: cluster.score, coverage: cluster.coverage,
      members: cluster.picks.map((pick) => {
        const { grid, bbox } = memberMask(found, cluster, pick);
        const imageHash = project.images.get(pick.imageId)?.hash ?? '';
        return { imageId: pick.imageId, imageHash, similarity: pick.similarity, covered: pick.covered, bbox, grid: encodeRle(grid) };
      }),
    };
  }

  return {
    run(input: DiscoveryRunInput): DiscoveryResult {
      const modelId = input.modelId ?? defaultModelId();
      const regions = regionsOf(project);
      const sets = new Map<number, RegionSet>();
      const missing: number[] = [];
      for (const imageId of input.imageIds) {
        const set = regions.get(imageId, modelId);
        if (set) sets.set(imageId, set);
        else missing.push(imageId);
      }
      if (sets.size < 2) throw new DiscoveryError('not-embedded', `discovery needs at least 2 embedded images; ${sets.size} of ${input.imageIds.length} have regions for ${modelId}`);
      const imageIds = [...sets.keys()];
      const clusters = discover(imageIds.map((imageId) => sets.get(imageId)!), imageIds, { ...options, top: input.top });
      const discoveryId = randomUUID();
      const found = { modelId, clusters, sets };
      kept.set(discoveryId, found);
      while (kept.size > maxKept) kept.delete(kept.keys().next().value as string);
      return { discoveryId, modelId, clusters: clusters.map((cluster, index) => describe(found, cluster, index)), missing };
    },
    /**
     * The members' masks as shown (their grids, upsampled along the image's colour edges; one image decoded at a
     * time), then written in one transaction, leaving out objects already annotated (writer.ts).
     */
    async label(input: DiscoveryLabelInput): Promise<AcceptResult> {
      const found = kept.get(input.discoveryId);
      if (!found) throw new DiscoveryError('not-found', `discovery ${input.discoveryId} has expired; run it again`);
      const cluster = found.clusters[input.cluster];
      if (!cluster) throw new DiscoveryError('not-found', `discovery ${input.discoveryId} has no cluster ${input.cluster}`);
      if (input.classId !== null) project.classes.get(input.classId);
      const wanted = input.imageIds ? new Set(input.imageIds) : null;
      const masks: Array<{ pick: DiscoveryPick; mask: Mask }> = [];
      for (const pick of cluster.picks.filter((candidate) => (wanted ? wanted.has(candidate.imageId) : candidate.covered))) {
        const set = found.sets.get(pick.imageId)!;
        const { grid } = memberMask(found, cluster, pick);
        // An image whose mask came out empty (nothing beat its background) gets no annotation.
        if (!grid.data.includes(1)) continue;
        const image = await guideImage(project, pick.imageId, set.imageWidth, set.imageHeight);
        masks.push({ pick, mask: gridMaskToImage(grid.data, grid.width, grid.height, set.imageWidth, set.imageHeight, image ?? undefined) });
      }
      return writeAnnotations(project, masks.map(({ pick, mask }) => ({ imageId: pick.imageId, mask, score: pick.similarity })), input.classId, 'discovery');
    },
  };
}
