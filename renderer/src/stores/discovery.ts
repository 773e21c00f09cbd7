/**
 * Object discovery over a set of images: the most frequent objects as clusters (each member a region of one
 * image), and "label everywhere" (a cluster's regions -> annotations of a class), one undoable step each.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { DiscoveryResult } from '../../../core/api/search-contract';
import { api } from '../api';
import { recordAnnotationBatch } from '../composables/annotationBatch';
import { translate } from '../i18n/index';
import { errorMessage } from './notices';
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

  async function run(imageIds: number[]): Promise<boolean> {
    if (busy.value || imageIds.length < 2) return false;
    busy.value = 'run';
    error.value = null;
    result.value = null;
    labeled.value = {};
    imageCount.value = imageIds.length;
    try {
      result.value = await api.discovery.run({ imageIds, top: 5 });
      return true;
    } catch (cause) {
      error.value = errorMessage(cause);
      return false;
    } finally {
      busy.value = null;
    }
  }

  /** Annotations of `classId` on the cluster's covered images. */
  async function labelCluster(cluster: number, classId: number | null): Promise<boolean> {
    const discovery = result.value;
    if (busy.value || !discovery) return false;
    busy.value = 'label';
    error.value = null;
    try {
      const created = await api.discovery.label({ discoveryId: discovery.discoveryId, cluster, classId });
      const mine = () => result.value?.discoveryId === discovery.discoveryId;
      labeled.value = { ...labeled.value, [cluster]: created.annotationIds.length };
      recordAnnotationBatch(label('search.undo.label', { count: created.annotationIds.length }), created, {
        undone: () => { if (mine()) labeled.value = { ...labeled.value, [cluster]: 0 }; },
        redone: (_, ids) => { if (mine()) labeled.value = { ...labeled.value, [cluster]: ids.length }; },
      });
      return true;
    } catch (cause) {
      error.value = errorMessage(cause);
      return false;
    } finally {
      busy.value = null;
    }
  }

  function reset(): void {
    result.value = null;
    labeled.value = {};
    classIds.value = {};
    error.value = null;
  }

  return { result, imageCount, busy, error, classIds, labeled, run, labelCluster, reset };
});
