/**
 * Typed handle on segment.worker.ts. One worker per editor; `open()` loads an image (the expensive step, once),
 * `segment()` and `preview()` are the per-click and per-hover steps. Replies to superseded requests are dropped
 * by the caller through request ids; a newer `open()` invalidates everything before it (the token).
 */
import { blobPaths } from '../../../core/api/blobs';
import type { Box, Click } from '../../../core/engine/types';
import type { Mask } from '../../../core/mask';
import type { Polygon } from '../../../core/polygon';
import type { Rle } from '../../../core/rle';
import { blobUrl } from '../api';

export type SegmentRequest =
  | { type: 'load'; token: number; embedding: ArrayBuffer; image: Blob | null; step?: 'engine' | 'learned' }
  | { type: 'segment' | 'preview'; id: number; token: number; clicks: Click[]; box: Box | null }
  | { type: 'trace'; id: number; rle: Rle; tolerance: number };

export type SegmentResponse =
  | { type: 'loaded'; token: number; grid: [number, number]; imageSize: [number, number]; guided: boolean }
  | { type: 'segmented'; id: number; width: number; height: number; data: ArrayBuffer; score: number; rle: Rle; ms: number }
  | { type: 'previewed'; id: number; width: number; height: number; data: ArrayBuffer }
  | { type: 'traced'; id: number; polygons: Polygon[] }
  | { type: 'error'; id: number; token: number; message: string };

export interface SegmentResult {
  /** Full image resolution, row-major, 0/1. */
  mask: Mask;
  rle: Rle;
  score: number;
  ms: number;
}

/** Object probability per embedding grid cell, row-major, grid resolution. */
export interface PreviewGrid {
  width: number;
  height: number;
  data: Float32Array;
}

export type OpenResult =
  | { kind: 'ready'; grid: [number, number]; guided: boolean }
  | { kind: 'missing' };

interface Pending {
  resolve: (response: SegmentResponse) => void;
  reject: (error: Error) => void;
}

export class SegmentClient {
  private readonly worker: Worker;
  private token = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private loading: Pending | null = null;

  constructor() {
    this.worker = new Worker(new URL('./segment.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<SegmentResponse>) => this.receive(event.data);
    this.worker.onerror = (event) => this.failAll(new Error(`segment worker failed: ${event.message}`));
  }

  /**
   * Fetches image `imageId`'s (content `hash`, see core/api/blobs.ts) stored embedding for `modelId` and hands it, with the image file `image` (for the
   * colour-guided upsampling; null to go without), to the worker, whose clicks then use `step`. Resolves `missing`
   * when the image has no embedding for that model yet.
   */
  async open(imageId: number, hash: string, modelId: string, image: Blob | null, step: 'engine' | 'learned' = 'learned'): Promise<OpenResult> {
    const token = ++this.token;
    this.failAll(new Error('superseded by another image'));
    const embedding = await fetch(blobUrl(blobPaths.embedding(imageId, hash, modelId)), { credentials: 'same-origin' });
    // 204: no embedding for this model yet (electron/services/blobs.ts).
    if (embedding.status === 204) return { kind: 'missing' };
    if (!embedding.ok) throw new Error(`embedding of image ${imageId}: HTTP ${embedding.status} ${(await embedding.text()).slice(0, 200)}`);
    const bytes = await embedding.arrayBuffer();
    if (token !== this.token) throw new Error('superseded by another image');
    const loaded = await new Promise<SegmentResponse>((resolve, reject) => {
      this.loading = { resolve, reject };
      this.post({ type: 'load', token, embedding: bytes, image, step }, [bytes]);
    });
    if (loaded.type !== 'loaded') throw new Error('unexpected worker reply');
    return { kind: 'ready', grid: loaded.grid, guided: loaded.guided };
  }

  async segment(clicks: Click[], box: Box | null): Promise<SegmentResult> {
    const response = await this.request('segment', clicks, box);
    if (response.type !== 'segmented') throw new Error('unexpected worker reply');
    const mask = { width: response.width, height: response.height, data: new Uint8Array(response.data) };
    return { mask, rle: response.rle, score: response.score, ms: response.ms };
  }

  async preview(clicks: Click[], box: Box | null): Promise<PreviewGrid> {
    const response = await this.request('preview', clicks, box);
    if (response.type !== 'previewed') throw new Error('unexpected worker reply');
    return { width: response.width, height: response.height, data: new Float32Array(response.data) };
  }

  /** Outline polygons of an RLE mask (core/polygon maskToPolygons with `tolerance` pixels), traced in the worker. */
  async trace(rle: Rle, tolerance: number): Promise<Polygon[]> {
    const id = this.nextId++;
    const response = await new Promise<SegmentResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ type: 'trace', id, rle: { size: [rle.size[0], rle.size[1]], counts: rle.counts }, tolerance });
    });
    if (response.type !== 'traced') throw new Error('unexpected worker reply');
    return response.polygons;
  }

  dispose(): void {
    this.failAll(new Error('segmenter closed'));
    this.worker.terminate();
  }

  private request(type: 'segment' | 'preview', clicks: Click[], box: Box | null): Promise<SegmentResponse> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Plain copies: Vue proxies cannot be structured-cloned.
      this.post({ type, id, token: this.token, clicks: clicks.map(({ x, y, positive }) => ({ x, y, positive })), box: box ? [...box] : null });
    });
  }

  private post(message: SegmentRequest, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  private receive(response: SegmentResponse): void {
    if (response.type === 'loaded' || (response.type === 'error' && response.id === -1)) {
      if (response.token !== this.token) return;
      const loading = this.loading;
      this.loading = null;
      if (response.type === 'loaded') loading?.resolve(response);
      else loading?.reject(new Error(response.message));
      return;
    }
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    if (response.type === 'error') pending.reject(new Error(response.message));
    else pending.resolve(response);
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.loading?.reject(error);
    this.loading = null;
  }
}
