/**
 * The editor's side of the segmenter: loads an image (record, objects, pixels, stored embedding into the worker),
 * offers to embed an image that has no embedding yet, asks the worker for each draft's mask and for hover previews
 * (at most one preview in flight, the latest pointer position wins, one per animation frame).
 */
import { ref, shallowRef, watch } from 'vue';
import { blobPaths } from '../../../core/api/blobs';
import type { AnnotationRecord, ImageRecord, JobRecord } from '../../../core/api/records';
import type { Mask } from '../../../core/mask';
import type { Polygon } from '../../../core/polygon';
import type { Rle } from '../../../core/rle';
import { api, blobUrl } from '../api';
import { useJobsStore } from '../stores/jobs';
import { useSettingsStore } from '../stores/settings';
import { errorMessage } from '../stores/notices';
import { type PreviewGrid, SegmentClient, type SegmentResult } from '../workers/segmentClient';
import type { DraftState } from './history';

export type EngineState = 'idle' | 'loading' | 'ready' | 'missing' | 'embedding' | 'error';

export class SupersededError extends Error {
  override name = 'SupersededError';
}

interface EngineHooks {
  draft: () => DraftState | null;
  onSegmented: (draft: DraftState, rle: Rle, mask: Mask, score: number) => void;
}

const pollMs = 500;

export function useAnnotateEngine(hooks: EngineHooks) {
  const jobs = useJobsStore();
  const settings = useSettingsStore();
  const imageId = ref<number | null>(null);
  const image = shallowRef<ImageRecord | null>(null);
  const bitmap = shallowRef<ImageBitmap | null>(null);
  /** The image file as fetched (for background decodes at other sizes). */
  const imageFile = shallowRef<Blob | null>(null);
  const engineState = ref<EngineState>('idle');
  const engineError = ref<string | null>(null);
  const embedJob = shallowRef<JobRecord | null>(null);
  /** Embedding grid size [width, height] in cells. */
  const grid = shallowRef<[number, number] | null>(null);
  const segmenting = ref(false);
  /** Engine milliseconds of the last click. */
  const lastMs = ref<number | null>(null);
  const preview = shallowRef<PreviewGrid | null>(null);
  let client: SegmentClient | null = null;
  let file: Blob | null = null;
  let token = 0;
  let modelId: string | null = null;
  let pollTimer: ReturnType<typeof setTimeout> | null = null;
  const requested = new WeakSet<DraftState>();
  const answers = new WeakMap<DraftState, SegmentResult>();
  let inFlight = 0;

  /** Loads image `id`: record, stored objects and pixels now; the segmenter in the background. */
  async function load(id: number): Promise<AnnotationRecord[]> {
    const mine = ++token;
    stopPolling();
    endHover();
    imageId.value = id;
    image.value = null;
    bitmap.value?.close();
    bitmap.value = null;
    grid.value = null;
    embedJob.value = null;
    engineError.value = null;
    lastMs.value = null; // the last click's time belongs to the image left
    engineState.value = 'loading';
    const [record, annotations] = await Promise.all([api.images.get({ id }), api.annotations.list({ imageId: id })]);
    // A failed import has no pixels to show; say which file and why rather than what the blob route answers.
    if (!record.hash) throw new Error(`${record.fileName}: ${record.error ?? 'not imported'}`);
    const response = await fetch(blobUrl(blobPaths.image(id, record.hash)), { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`${record.fileName}: ${(await response.text()) || `HTTP ${response.status}`}`);
    const blob = await response.blob();
    const decoded = await createImageBitmap(blob);
    if (mine !== token) {
      decoded.close();
      throw new SupersededError(`image ${id} was left while loading`);
    }
    image.value = record;
    imageFile.value = blob;
    bitmap.value = decoded;
    file = blob;
    void loadEngine(mine);
    return annotations;
  }

  async function loadEngine(mine: number): Promise<void> {
    const id = imageId.value, hash = image.value?.hash;
    if (id === null || !hash) return;
    engineState.value = 'loading';
    try {
      // Asked per image, not once: switching the project's model (Models view) changes it while the editor is open.
      modelId = jobs.runtime?.defaultModelId ?? (await api.system.runtime()).defaultModelId;
      client ??= new SegmentClient();
      const result = await client.open(id, hash, modelId, file, settings.clickStep);
      if (mine !== token) return;
      if (result.kind === 'missing') {
        engineState.value = 'missing';
        return;
      }
      grid.value = result.grid;
      engineState.value = 'ready';
      ensureSegmented(hooks.draft());
    } catch (error) {
      if (mine !== token) return;
      engineState.value = 'error';
      engineError.value = errorMessage(error);
    }
  }

  // Another click step reloads the open image's segmenter; the next click uses it.
  watch(() => settings.clickStep, () => {
    if (engineState.value === 'ready') void loadEngine(token);
  });

  /** Queues an embedding job for the open image and loads the segmenter when it is done. */
  async function startEmbedding(): Promise<void> {
    const id = imageId.value;
    if (id === null || engineState.value === 'embedding') return;
    const mine = token;
    engineError.value = null;
    try {
      modelId ??= jobs.runtime?.defaultModelId ?? (await api.system.runtime()).defaultModelId;
      const job = await api.embeddings.start({ imageIds: [id], modelId });
      if (mine !== token) return;
      embedJob.value = job;
      engineState.value = 'embedding';
      jobs.track(job);
      poll(job.id, mine);
    } catch (error) {
      engineState.value = 'error';
      engineError.value = errorMessage(error);
    }
  }

  function poll(jobId: number, mine: number): void {
    pollTimer = setTimeout(async () => {
      pollTimer = null;
      if (mine !== token) return;
      try {
        const job = (await api.jobs.list({ activeOnly: false })).find((item) => item.id === jobId);
        if (mine !== token) return;
        if (!job) throw new Error(`job ${jobId} disappeared`);
        embedJob.value = job;
        if (job.status === 'done') {
          await loadEngine(mine);
          if (engineState.value === 'missing') {
            const record = await api.images.get({ id: imageId.value as number });
            engineState.value = 'error';
            engineError.value = record.error ?? 'the embedding job finished without an embedding for this image';
          }
        } else if (job.status === 'failed' || job.status === 'cancelled') {
          engineState.value = 'error';
          engineError.value = job.error ?? job.status;
        } else {
          poll(jobId, mine);
        }
      } catch (error) {
        engineState.value = 'error';
        engineError.value = errorMessage(error);
      }
    }, pollMs);
  }

  function stopPolling(): void {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  // Someone else's embedding job (the grid's "Embed") may be computing this image: retry when one ends.
  watch(() => jobs.active.length, (count, before) => {
    if (count < before && engineState.value === 'missing') void loadEngine(token);
  });

  /**
   * Asks the worker for `draft`'s mask when it has clicks or a box and no mask yet. Answers are kept per draft,
   * so a draft that comes back through undo/redo before its answer was applied gets it without a new request.
   */
  function ensureSegmented(draft: DraftState | null): void {
    if (!client || engineState.value !== 'ready' || !draft || draft.engine !== null) return;
    if (draft.clicks.length === 0 && !draft.box) return;
    const known = answers.get(draft);
    if (known) {
      queueMicrotask(() => hooks.onSegmented(draft, known.rle, known.mask, known.score));
      return;
    }
    if (requested.has(draft)) return;
    requested.add(draft);
    inFlight++;
    segmenting.value = true;
    // The click answers the hover there; preview again only once the pointer moves.
    preview.value = null;
    hoverPoint = null;
    hoverSent = '';
    client.segment([...draft.clicks], draft.box).then((result) => {
      lastMs.value = result.ms;
      answers.set(draft, result);
      hooks.onSegmented(draft, result.rle, result.mask, result.score);
    }).catch((error: unknown) => {
      requested.delete(draft); // asked again when the draft is current again
      engineError.value = errorMessage(error);
    }).finally(() => {
      segmenting.value = --inFlight > 0;
    });
  }

  let hoverPoint: [number, number] | null = null;
  let hoverSent = '';
  let hoverBusy = false;
  let frame = 0;

  /** Pointer over image pixel (x, y) with the click tool: preview the mask a positive click there would give. */
  function hover(x: number, y: number): void {
    const cells = grid.value, record = image.value;
    if (engineState.value !== 'ready' || !cells || !record) return;
    // Snap to the grid cell centre: the engine caches per-click fields, so revisiting a cell costs nothing.
    const sx = ((Math.floor((x * cells[0]) / record.width) + 0.5) * record.width) / cells[0];
    const sy = ((Math.floor((y * cells[1]) / record.height) + 0.5) * record.height) / cells[1];
    hoverPoint = [sx, sy];
    if (!frame) frame = requestAnimationFrame(sendHover);
  }

  function endHover(): void {
    hoverPoint = null;
    hoverSent = '';
    preview.value = null;
  }

  async function sendHover(): Promise<void> {
    frame = 0;
    const point = hoverPoint;
    if (hoverBusy || !point || !client || inFlight > 0) return;
    const key = `${point[0]},${point[1]}`;
    if (key === hoverSent) return;
    hoverSent = key;
    hoverBusy = true;
    const draft = hooks.draft();
    try {
      const result = await client.preview([...(draft?.clicks ?? []), { x: point[0], y: point[1], positive: true }], draft?.box ?? null);
      if (hoverPoint && inFlight === 0) preview.value = result;
    } catch {
      // A preview is a hint: a failed one (image switched, worker busy loading) just shows nothing.
    } finally {
      hoverBusy = false;
      if (hoverPoint && `${hoverPoint[0]},${hoverPoint[1]}` !== hoverSent && !frame) frame = requestAnimationFrame(sendHover);
    }
  }

  /** Outline polygons of `rle`, traced in the worker (see polygonEdit.ts). */
  function trace(rle: Rle, tolerance: number): Promise<Polygon[]> {
    client ??= new SegmentClient();
    return client.trace(rle, tolerance);
  }

  /** Frees the worker (the segmenter holds the map and per-click fields) when the editor closes. */
  function closeEngine(): void {
    token++;
    stopPolling();
    endHover();
    client?.dispose();
    client = null;
    imageId.value = null;
    engineState.value = 'idle';
  }

  return {
    imageId, image, bitmap, imageFile, engineState, engineError, embedJob, grid, segmenting, lastMs, preview,
    load, startEmbedding, ensureSegmented, hover, endHover, trace, closeEngine,
  };
}
