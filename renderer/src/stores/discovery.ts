/**
 * Object discovery over a set of images: the most frequent objects as clusters (each member a region of one
 * image), and "label everywhere" (a cluster's regions -> annotations of a class), one undoable step each.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { DiscoveryResult } from '../../../core/api/search-contract';
import { api } from '../api';
import { recordAnnotationBatch } from '../composables/annotationBatch';
import { busyGuard } from '../composables/busyGuard';
import { translate } from '../i18n/index';
import { useSettingsStore } from './settings';

export const useDiscoveryStore = defineStore('discovery', () => {
  const result = shallowRef<DiscoveryResult | null>(null);
  /** How many images the last run was asked about. */
  const imageCount = ref(0);
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
      const found = await api.discovery.run({ imageIds, top: 5 });
      // Coverage counts among the images discovery could use: those without embeddings are listed apart.
      imageCount.value = imageIds.length - found.missing.length;
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
      recordAnnotationBatch(label('search.undo.label', { count: created.annotationIds.length }), created, {
        undone: () => { if (mine()) labeled.value = { ...labeled.value, [cluster]: 0 }; },
        redone: (_, ids) => { if (mine()) labeled.value = { ...labeled.value, [cluster]: ids.length }; },
      });
    });
  }

  function reset(): void {
    result.value = null;
    labeled.value = {};
    classIds.value = {};
    error.value = null;
  }

  return { result, imageCount, busy, error, classIds, labeled, run, labelCluster, reset };
});
