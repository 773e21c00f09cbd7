/**
 * Similar-object search: the query's examples (collected in the Annotate view), the ranked hits of the current
 * session, relevance feedback (accept / reject re-ranks at once on the main side) and turning hits into
 * annotations, each batch one undoable step in the dataset history. Hits are plain API records (small: a coarse
 * grid RLE each), kept in a shallowRef and replaced whole on every answer.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { Rle } from '../../../core/rle';
import type { SearchHit, SearchResult } from '../../../core/api/search-contract';
import { api } from '../api';
import { recordAnnotationBatch } from '../composables/annotationBatch';
import { busyGuard } from '../composables/busyGuard';
import { translate } from '../i18n/index';
import { useNoticesStore } from './notices';
import { useSettingsStore } from './settings';
import { onProjectChange } from './projectScope';
import { useProjectStore } from './project';

/** One query example: a saved annotation, or a mask as drawn (image-sized RLE). */
export type SearchExample = { annotationId: number } | { imageId: number; rle: Rle };

export interface QueryExample {
  example: SearchExample;
  /** The image it is on (for the thumbnail and to leave it out of the hits) and its content hash (thumbnail link). */
  imageId: number;
  imageHash: string;
  /** Image-sized mask (for the thumbnail overlay and to recognise the same object added twice). */
  rle: Rle;
  classId: number | null;
}

export type Judgement = 'accepted' | 'rejected';

export const useSearchStore = defineStore('search', () => {
  /** Which results the search view shows. */
  const panel = ref<'similar' | 'discovery'>('similar');
  const examples = ref<QueryExample[]>([]);
  const result = shallowRef<SearchResult | null>(null);
  /** What is in flight: a query, feedback or creating annotations. */
  const busy = ref<'query' | 'feedback' | 'accept' | null>(null);
  const error = ref<string | null>(null);
  /** Class given to the annotations made from hits; defaults to the first example's class on each query. */
  const classId = ref<number | null>(null);
  /** Batch-accept threshold on hit.score (cosine, -1..1). */
  const threshold = ref(0.8);
  /** The class the current results were searched for ("find more of class"), null for a search by examples. */
  const queryClassId = ref<number | null>(null);
  /** Index of the keyboard-focused hit. */
  const focusIndex = ref(0);
  /** Images whose hit became an annotation in this session (and is not undone). */
  const labeled = shallowRef<ReadonlySet<number>>(new Set());

  const hits = computed<SearchHit[]>(() => result.value?.hits ?? []);
  /**
   * Hit masks as accept writes them (search.hitMask: the click engine seeded at the hit, computed on the main side
   * once per hit), for the hits whose thumbnail has been on screen: each thumbnail outlines its mask once it is
   * here (its coarse region until then). An unjudged hit's mask follows the moved query, a judged one keeps its own.
   */
  const outlines = shallowRef<ReadonlyMap<number, Rle>>(new Map());
  /** Images whose thumbnail has been on screen in this session (asked for again when the ranking moves). */
  const onScreen = new Set<number>();
  const wanted: number[] = [];
  let fetching = false;
  watch(result, (next, previous) => {
    const kept = new Map<number, Rle>();
    if (next && previous && next.sessionId === previous.sessionId) {
      for (const hit of next.hits) {
        const known = outlines.value.get(hit.imageId);
        if (known && hit.judgement !== null) kept.set(hit.imageId, known);
      }
    } else {
      onScreen.clear();
    }
    outlines.value = kept;
    wanted.length = 0;
    for (const hit of next?.hits ?? []) if (onScreen.has(hit.imageId)) wantOutline(hit.imageId);
  });

  /** Asks for the hit's mask (one request at a time, in the order the thumbnails came into view). */
  function wantOutline(imageId: number): void {
    onScreen.add(imageId);
    if (!outlines.value.has(imageId) && !wanted.includes(imageId)) wanted.push(imageId);
    if (!fetching) void fetchOutlines();
  }

  async function fetchOutlines(): Promise<void> {
    fetching = true;
    try {
      while (wanted.length > 0) {
        const imageId = wanted.shift()!;
        const current = result.value;
        if (!current || outlines.value.has(imageId) || !current.hits.some((hit) => hit.imageId === imageId)) continue;
        const mask = await api.search.hitMask({ sessionId: current.sessionId, imageId }).catch(() => null);
        // An answer for a ranking since replaced is dropped: the thumbnail asks again if it is still shown.
        if (!mask || result.value !== current) continue;
        outlines.value = new Map(outlines.value).set(imageId, mask.rle);
      }
    } finally {
      fetching = false;
    }
  }
  /** What "label all above" labels: hits at or above the threshold, not rejected, not labelled yet. */
  const aboveThreshold = computed(() => hits.value.filter((hit) => hit.score >= threshold.value && hit.judgement !== 'rejected' && !labeled.value.has(hit.imageId)));
  /** Hits judged accepted and not yet turned into annotations. */
  const acceptedPending = computed(() => hits.value.filter((hit) => hit.judgement === 'accepted' && !labeled.value.has(hit.imageId)));

  const label = (key: string, params?: Record<string, string | number>) => translate(useSettingsStore().language, key, params);

  /** Adds an example unless the same object is already in the query; returns whether it was added. */
  function addExample(example: QueryExample): boolean {
    const same = examples.value.some((item) => item.imageId === example.imageId && item.rle.counts === example.rle.counts);
    if (same) return false;
    examples.value = [...examples.value, example];
    return true;
  }

  function removeExample(index: number): void {
    examples.value = examples.value.filter((_, at) => at !== index);
  }

  function clearExamples(): void {
    examples.value = [];
  }

  const guarded = busyGuard(busy, error);

  /** Runs a new session for the current examples (the example images themselves are left out of the hits). */
  function run(): Promise<boolean> {
    if (examples.value.length === 0) return Promise.resolve(false);
    return guarded('query', async () => {
      result.value = null;
      labeled.value = new Set();
      focusIndex.value = 0;
      classId.value = examples.value[0].classId;
      queryClassId.value = null;
      result.value = await api.search.query({
        examples: examples.value.map((item) => item.example), excludeExampleImages: true, limit: 60,
      });
    });
  }

  /**
   * "Find more of class X": a new session whose examples are all the class's annotations (the server learns the
   * class from them and from the hits rejected for it before); images already holding one are left out.
   */
  function runClass(): Promise<boolean> {
    const wanted = classId.value;
    if (wanted === null) return Promise.resolve(false);
    return guarded('query', async () => {
      result.value = null;
      labeled.value = new Set();
      focusIndex.value = 0;
      queryClassId.value = wanted;
      result.value = await api.search.query({ classId: wanted, excludeExampleImages: true, limit: 60 });
    });
  }

  /**
   * Accept or reject one hit: the model is refitted and the hits come back re-ranked. Focus goes to the best hit
   * not judged yet (the next one to look at), or stays on the judged one when every hit is judged.
   */
  function judge(imageId: number, judgement: Judgement): Promise<boolean> {
    const session = result.value?.sessionId;
    if (!session || useProjectStore().capabilities.refineSearch !== null) return Promise.resolve(false);
    return guarded('feedback', async () => {
      result.value = await api.search.feedback({
        sessionId: session, accepted: judgement === 'accepted' ? [imageId] : [], rejected: judgement === 'rejected' ? [imageId] : [],
      });
      const next = hits.value.findIndex((hit) => hit.judgement === null);
      const index = next >= 0 ? next : hits.value.findIndex((hit) => hit.imageId === imageId);
      if (index >= 0) focusIndex.value = index;
    });
  }

  function markLabeled(imageIds: number[], on: boolean): void {
    const next = new Set(labeled.value);
    for (const imageId of imageIds) {
      if (on) next.add(imageId);
      else next.delete(imageId);
    }
    labeled.value = next;
  }

  /** The hits on these images -> annotations of the chosen class (false when there is nothing to label). */
  function createAnnotations(imageIds: number[]): Promise<boolean> {
    const session = result.value?.sessionId;
    if (!session || imageIds.length === 0 || useProjectStore().capabilities.acceptHits !== null) return Promise.resolve(false);
    return guarded('accept', async () => {
      const created = await api.search.accept({ sessionId: session, classId: classId.value, imageIds });
      const sessionNow = session;
      // Hits of objects annotated before were not written again: they count as labelled, outside the undo batch.
      markLabeled([...created.imageIds, ...created.alreadyLabelled], true);
      if (created.alreadyLabelled.length > 0) useNoticesStore().info(label('search.alreadyLabelled', { count: created.alreadyLabelled.length }));
      // A team project: images another labeler holds were left alone; the server's words say who and until when.
      for (const { reason } of created.skipped ?? []) useNoticesStore().info(reason);
      recordAnnotationBatch(label('search.undo.accept', { count: created.annotationIds.length }), created, {
        undone: (imageIds) => { if (result.value?.sessionId === sessionNow) markLabeled(imageIds, false); },
        redone: (imageIds) => { if (result.value?.sessionId === sessionNow) markLabeled(imageIds, true); },
      });
      // Accepting also counts as positive feedback on the main side: show the re-ranked list.
      result.value = await api.search.feedback({ sessionId: session });
    });
  }

  function labelAccepted(): Promise<boolean> {
    return createAnnotations(acceptedPending.value.map((hit) => hit.imageId));
  }

  /** The hits shown above the threshold (see aboveThreshold), named, so the server labels exactly those. */
  function labelAbove(): Promise<boolean> {
    return createAnnotations(aboveThreshold.value.map((hit) => hit.imageId));
  }

  /** The mask accepting the hit on this image writes (the editor's proposal layer); null outside a session. */
  async function proposal(imageId: number): Promise<Rle | null> {
    const session = result.value?.sessionId;
    if (!session || !hits.value.some((hit) => hit.imageId === imageId)) return null;
    return outlines.value.get(imageId) ?? (await api.search.hitMask({ sessionId: session, imageId })).rle;
  }

  /** Images were removed from the project: drop their examples and hits. */
  function forgetImages(imageIds: number[]): void {
    const gone = new Set(imageIds);
    examples.value = examples.value.filter((item) => !gone.has(item.imageId));
    if (result.value) result.value = { ...result.value, hits: result.value.hits.filter((hit) => !gone.has(hit.imageId)) };
    focusIndex.value = Math.min(focusIndex.value, Math.max(0, hits.value.length - 1));
  }

  /** The project changed: nothing of the old one applies. */
  function reset(): void {
    examples.value = [];
    result.value = null;
    labeled.value = new Set();
    error.value = null;
    focusIndex.value = 0;
    classId.value = null;
    queryClassId.value = null;
  }
  onProjectChange(reset);

  return {
    panel, examples, result, busy, error, classId, queryClassId, threshold, focusIndex, labeled, hits, aboveThreshold, acceptedPending,
    outlines, wantOutline, addExample, removeExample, clearExamples, run, runClass, judge, createAnnotations, labelAccepted, labelAbove, proposal, forgetImages, reset,
  };
});
