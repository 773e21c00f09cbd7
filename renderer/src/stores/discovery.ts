/**
 * Object discovery over a set of images: the most frequent objects as clusters (each member a region of one
 * image), and "label everywhere" (a cluster's regions -> annotations of a class), one undoable step each.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DiscoveryResult } from '../../../core/api/search-contract';
import { api } from '../api';
import { recordAnnotationBatch } from '../composables/annotationBatch';
import { busyGuard } from '../composables/busyGuard';
import { translate } from '../i18n/index';
import { useNoticesStore } from './notices';
import { useSettingsStore } from './settings';
import { onProjectChange } from './projectScope';

export const useDiscoveryStore = defineStore('discovery', () => {
  const result = shallowRef<DiscoveryResult | null>(null);
  /** The images the last run used (asked about, with embeddings, not removed since): coverage counts among them. */
  const searched = shallowRef<ReadonlySet<number>>(new Set());
  const imageCount = computed(() => searched.value.size);
  const busy = ref<'run' | 'label' | null>(null);
  const error = ref<string | null>(null);
  /** Class chosen per cluster (by cluster index). */
  const classIds = ref<Record<number, number | null>>({});
  /** Clusters labelled (and not undone), by index: how many annotations. */
  const labeled = ref<Record<number, number>>({});

  const label = (key: string, params?: Record<string, string | number>) => translate(useSettingsStore().language, key, params);

  const guarded = busyGuard(busy, error);

  function run(imageIds: number[]): Promise<boolean> {
    if (imageIds.length < 2) return Promise.resolve(false);
    return guarded('run', async () => {
      result.value = null;
      labeled.value = {};
      searched.value = new Set(imageIds); // the progress line counts what was asked
      const found = await api.discovery.run({ imageIds, top: 5 });
      const missing = new Set(found.missing);
      searched.value = new Set(imageIds.filter((id) => !missing.has(id)));
      result.value = found;
    });
  }

  /** Annotations of `classId` on the cluster's covered images. */
  function labelCluster(cluster: number, classId: number | null): Promise<boolean> {
    const discovery = result.value;
    if (!discovery) return Promise.resolve(false);
    return guarded('label', async () => {
      const created = await api.discovery.label({ discoveryId: discovery.discoveryId, cluster, classId });
      const mine = () => result.value?.discoveryId === discovery.discoveryId;
      labeled.value = { ...labeled.value, [cluster]: created.annotationIds.length };
      if (created.alreadyLabelled.length > 0) useNoticesStore().info(label('search.alreadyLabelled', { count: created.alreadyLabelled.length }));
      recordAnnotationBatch(label('search.undo.label', { count: created.annotationIds.length }), created, {
        undone: () => { if (mine()) labeled.value = { ...labeled.value, [cluster]: 0 }; },
        redone: (_, ids) => { if (mine()) labeled.value = { ...labeled.value, [cluster]: ids.length }; },
      });
    });
  }

  /** Images were removed from the project: drop them from every group (and from the groups' coverage). */
  function forgetImages(imageIds: number[]): void {
    const found = result.value;
    if (!found) return;
    const gone = new Set(imageIds);
    const clusters = found.clusters.map((cluster) => {
      const members = cluster.members.filter((member) => !gone.has(member.imageId));
      return { ...cluster, members, coverage: members.filter((member) => member.covered).length };
    });
    searched.value = new Set([...searched.value].filter((id) => !gone.has(id)));
    result.value = { ...found, clusters, missing: found.missing.filter((id) => !gone.has(id)) };
  }

  function reset(): void {
    result.value = null;
    searched.value = new Set();
    labeled.value = {};
    classIds.value = {};
    error.value = null;
  }
  onProjectChange(reset);

  return { result, imageCount, busy, error, classIds, labeled, run, labelCluster, forgetImages, reset };
});
