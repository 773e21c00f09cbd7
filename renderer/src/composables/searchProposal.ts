/**
 * The editor's side of a search hit: when an image is opened from the search results, the mask "Label accepted"
 * would write for its hit (search.hitMask, the same bits) is shown as a proposal layer over the image, with Accept
 * and Reject (A / R, as in the results). Escape goes back to the results as before; their state is the store's.
 */
import { computed, shallowRef, watch } from 'vue';
import { decodeRle } from '../../../core/rle';
import { useSearchStore } from '../stores/search';
import { useViewStore } from '../stores/view';
import { useNoticesStore } from '../stores/notices';
import { useI18n } from '../i18n/index';
import { registerShortcuts } from '../shortcuts';
import { hexRgb, paintRegion } from './regionPaint';

registerShortcuts({ keys: 'A / R', description: 'search.shortcuts.proposal', view: 'annotate' });

/** Fill colour of the proposal: amber, unlike any default class colour, under the white and black outline. */
const proposalColor = '#ffb020';

export function useSearchProposal() {
  const search = useSearchStore();
  const view = useViewStore();
  const notices = useNoticesStore();
  const { t } = useI18n();
  /** The proposal painted at image resolution (fill + outline), for AnnotationCanvas; null when there is none. */
  const layer = shallowRef<HTMLCanvasElement | null>(null);
  let asked = 0;

  const hit = computed(() => (view.returnTo === 'search' && view.imageId !== null ? search.hits.find((item) => item.imageId === view.imageId) ?? null : null));
  const labelled = computed(() => hit.value !== null && search.labeled.has(hit.value.imageId));

  async function load(imageId: number | null): Promise<void> {
    const ask = ++asked;
    layer.value = null;
    if (imageId === null) return;
    try {
      const rle = await search.proposal(imageId);
      if (ask !== asked || !rle) return;
      const mask = decodeRle(rle);
      // Painted at image resolution up to a long side of 2048 (a 17-megapixel photo would need ~150 MB of buffers).
      const scale = Math.min(1, 2048 / Math.max(mask.width, mask.height));
      const width = Math.max(1, Math.round(mask.width * scale)), height = Math.max(1, Math.round(mask.height * scale));
      const element = document.createElement('canvas');
      element.width = width;
      element.height = height;
      // Lines of about 2 screen pixels when the image is fitted to the view.
      const line = Math.max(2, Math.round(Math.max(width, height) / 500));
      element.getContext('2d')?.putImageData(new ImageData(paintRegion(mask, width, height, hexRgb(proposalColor), line), width, height), 0, 0);
      element.dataset.area = String(mask.data.reduce((sum, value) => sum + value, 0));
      layer.value = element;
    } catch (cause) {
      if (ask === asked) notices.error(t('search.proposal.failed'), cause);
    }
  }

  watch(() => hit.value?.imageId ?? null, (imageId) => void load(imageId), { immediate: true });

  function judge(judgement: 'accepted' | 'rejected'): void {
    if (hit.value && search.busy === null) void search.judge(hit.value.imageId, judgement);
  }

  /** A / R while a proposal is shown (before the editor's own meaning of those keys); true when handled. */
  function onKey(event: KeyboardEvent): boolean {
    if (!hit.value || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return false;
    const key = event.key.toLowerCase();
    if (key !== 'a' && key !== 'r') return false;
    event.preventDefault();
    if (!event.repeat) judge(key === 'a' ? 'accepted' : 'rejected');
    return true;
  }

  return { hit, labelled, layer: computed(() => (labelled.value ? null : layer.value)), judge, onKey };
}

export type SearchProposal = ReturnType<typeof useSearchProposal>;
