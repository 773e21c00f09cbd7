/**
 * Click-to-mask engine off the UI thread. The page sends one image's stored embedding (packEmbedding bytes) and
 * the image file once; the worker decodes both, builds the segmenter (the expensive part: normalising the map,
 * edge costs, colour guide) and then answers each click with a full-resolution mask, transferred, never copied.
 * It also traces mask outlines for the polygon view. Messages: see SegmentRequest / SegmentResponse in segmentClient.ts.
 */
import { dequantize } from '../../../core/embedding';
import { unpackEmbedding } from '../../../core/api/blobs';
import { createSegmenter, type Segmenter } from '../../../core/engine';
import type { RgbImage } from '../../../core/image';
import { maskToPolygons } from '../../../core/polygon';
import { decodeRle, encodeRle } from '../../../core/rle';
import type { SegmentRequest, SegmentResponse } from './segmentClient';

const scope = self as unknown as DedicatedWorkerGlobalScope;
let segmenter: Segmenter | null = null;
let loadedToken = -1;

/** Decodes an image file to RGB at its own resolution (HWC uint8) with the browser's decoder. */
async function decodeRgb(file: Blob): Promise<RgbImage> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('no 2D context in the worker');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array(canvas.width * canvas.height * 3);
  for (let source = 0, target = 0; source < rgba.length; source += 4, target += 3) {
    rgb[target] = rgba[source];
    rgb[target + 1] = rgba[source + 1];
    rgb[target + 2] = rgba[source + 2];
  }
  return { width: canvas.width, height: canvas.height, data: rgb };
}

/**
 * Pixels of idle-time work per task (Segmenter.prepare: vote weights, along the boundary a hover previews, then
 * over the whole image; about 1-2 ms): small enough that a click arriving meanwhile waits at most one slice.
 */
const prepareSlice = 4096;
let preparing: ReturnType<typeof setTimeout> | null = null;

function prepareSoon(): void {
  preparing ??= setTimeout(() => {
    preparing = null;
    if (segmenter?.prepare && !segmenter.prepare(prepareSlice)) prepareSoon();
  }, 0);
}

function post(message: SegmentResponse, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function load(token: number, embedding: ArrayBuffer, image: Blob | null, step: 'engine' | 'learned' = 'learned'): Promise<void> {
  segmenter?.release?.();
  segmenter = null;
  loadedToken = token;
  const map = dequantize(unpackEmbedding(new Uint8Array(embedding)));
  let rgb: RgbImage | null = image ? await decodeRgb(image) : null;
  // The colour guide only sharpens edges; a size mismatch (a re-encoded file) must not block clicking.
  if (rgb && (rgb.width !== map.imageWidth || rgb.height !== map.imageHeight)) rgb = null;
  if (token !== loadedToken) return; // a newer image was opened while this one decoded
  // The click step: the learned step (core/engine/clickstep.ts) by default, the hand-made engine's formula on request.
  segmenter = createSegmenter(map, rgb, {}, { weights: step === 'engine' ? null : undefined });
  post({ type: 'loaded', token, grid: [map.width, map.height], imageSize: [map.imageWidth, map.imageHeight], guided: rgb !== null });
  if (!warmedUp) warmUp(segmenter, map.imageWidth, map.imageHeight);
  prepareSoon();
}

/**
 * A fresh worker's first clicks run code the JavaScript engine has not compiled yet: in Chromium, on the sample
 * project, the first click took 61-70 ms and later ones 6-20 ms. So the first image a worker loads gets eight
 * clicks of its own, one task each in the idle time after 'loaded', whose answers are dropped (first click then
 * 20-22 ms). Masks do not depend on earlier calls (the upsampler's kept state gives exactly a full pass's
 * result), only their speed does.
 */
let warmedUp = false;
function warmUp(target: Segmenter, width: number, height: number, left = 8): void {
  warmedUp = true;
  setTimeout(() => {
    if (segmenter !== target) return;
    target.segment([{ x: Math.floor((width * left) / 9), y: Math.floor(height / 2), positive: true }]);
    if (left > 1) warmUp(target, width, height, left - 1);
  }, 0);
}

scope.onmessage = (event: MessageEvent<SegmentRequest>) => {
  const request = event.data;
  if (request.type === 'load') {
    load(request.token, request.embedding, request.image, request.step).catch((error: unknown) => {
      post({ type: 'error', id: -1, token: request.token, message: error instanceof Error ? error.message : String(error) });
    });
    return;
  }
  try {
    if (request.type === 'trace') {
      // Outlines for the polygon view: tracing a large mask takes long enough to stutter the page.
      post({ type: 'traced', id: request.id, polygons: maskToPolygons(decodeRle(request.rle), { tolerance: request.tolerance }) });
      return;
    }
    if (!segmenter || request.token !== loadedToken) throw new Error('the image is not loaded in the segmenter');
    if (request.type === 'segment') {
      const started = performance.now();
      const { mask, score } = segmenter.segment(request.clicks, request.box ?? undefined);
      const rle = encodeRle(mask);
      post({
        type: 'segmented', id: request.id, width: mask.width, height: mask.height, data: mask.data.buffer as ArrayBuffer,
        score, rle, ms: performance.now() - started,
      }, [mask.data.buffer]);
    } else {
      const grid = segmenter.preview
        ? segmenter.preview(request.clicks, request.box ?? undefined)
        : null;
      if (!grid) return;
      post({ type: 'previewed', id: request.id, width: grid.width, height: grid.height, data: grid.data.buffer as ArrayBuffer }, [grid.data.buffer]);
      prepareSoon();
    }
  } catch (error) {
    post({ type: 'error', id: request.id, token: 'token' in request ? request.token : -1, message: error instanceof Error ? error.message : String(error) });
  }
};
