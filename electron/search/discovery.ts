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
import { type DiscoveredCluster, type DiscoveryOptions, discover } from '../../core/search/discovery';
import { gridBoxToImage, gridMaskToImage } from '../../core/search/pooling';
import { type RegionSet, regionGridMask } from '../../core/search/regions';
import type { Project } from '../../db/project';
import { regionsOf } from './indexer';

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

export function createDiscoveryService(project: Project, defaultModelId: () => string, options: Partial<DiscoveryOptions> = {}, maxKept = 4) {
  const kept = new Map<string, StoredDiscovery>();

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
      kept.set(discoveryId, { modelId, clusters, sets });
      while (kept.size > maxKept) kept.delete(kept.keys().next().value as string);
      return { discoveryId, modelId, clusters: clusters.map((cluster, index) => describe(cluster, index, sets)), missing };
    },
    label(input: DiscoveryLabelInput): AcceptResult {
      const found = kept.get(input.discoveryId);
      if (!found) throw new DiscoveryError('not-found', `discovery ${input.discoveryId} has expired; run it again`);
      const cluster = found.clusters[input.cluster];
      if (!cluster) throw new DiscoveryError('not-found', `discovery ${input.discoveryId} has no cluster ${input.cluster}`);
      if (input.classId !== null) project.classes.get(input.classId);
      const wanted = input.imageIds ? new Set(input.imageIds) : null;
      const picks = cluster.picks.filter((pick) => (wanted ? wanted.has(pick.imageId) : pick.covered));
      const masks = picks.map((pick) => {
        const set = found.sets.get(pick.imageId)!;
        return { pick, mask: gridMaskToImage(regionGridMask(set, pick.region), set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight) };
      });
      const annotationIds = project.transaction(() => masks.map(({ pick, mask }) => {
        const annotationId = project.annotations.add(pick.imageId, { classId: input.classId, rle: encodeRle(mask), score: pick.similarity, source: 'discovery' });
        project.images.refreshStatus(pick.imageId);
        return annotationId;
      }));
      return { annotationIds, imageIds: picks.map((pick) => pick.imageId) };
    },
  };
}

function describe(cluster: DiscoveredCluster, index: number, sets: Map<number, RegionSet>): DiscoveryCluster {
  return {
    index, score: cluster.score, coverage: cluster.coverage,
    members: cluster.picks.map((pick) => {
      const set = sets.get(pick.imageId)!;
      return {
        imageId: pick.imageId, similarity: pick.similarity, covered: pick.covered,
        bbox: gridBoxToImage(set.boxes.subarray(pick.region * 5, pick.region * 5 + 4), set.gridWidth, set.gridHeight, set.imageWidth, set.imageHeight),
        grid: encodeRle({ width: set.gridWidth, height: set.gridHeight, data: regionGridMask(set, pick.region) }),
      };
    }),
  };
}
