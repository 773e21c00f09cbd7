/**
 * Click-to-mask on the team server: the same engine as electron/services/segment.ts, with the embedding and the
 * image's bytes read from the Store. The per-image set-up is cached for the last few images (a labeler clicks many
 * times on one image), and concurrent first requests for one image share one set-up.
 */
import { ApiError, type SegmentRequest, type SegmentResult } from '../../core/api/contract';
import { dequantize } from '../../core/embedding';
import { boxFromCorners, createSegmenter, type Segmenter } from '../../core/engine';
import { encodeRle } from '../../core/rle';
import type { Store } from '../../db/store';
import { decodeImage } from '../embedding/image-io';

const cacheSize = 16;

export class TeamSegmenter {
  private cache = new Map<string, Promise<Segmenter>>();

  constructor(private readonly store: Store, private readonly defaultModel: () => string) {}

  private segmenter(imageId: number, modelId: string): Promise<Segmenter> {
    const key = `${imageId}\0${modelId}`;
    let entry = this.cache.get(key);
    if (entry) {
      this.cache.delete(key);
    } else {
      entry = this.build(imageId, modelId);
      entry.catch(() => this.cache.delete(key));
    }
    this.cache.set(key, entry);
    if (this.cache.size > cacheSize) {
      const [oldest, built] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      void built.then((s) => s.release?.(), () => undefined);
    }
    return entry;
  }

  private async build(imageId: number, modelId: string): Promise<Segmenter> {
    const stored = await this.store.embeddings.get(imageId, modelId);
    if (!stored) throw new ApiError('not-embedded', `image ${imageId} has no embedding for model ${modelId} yet; start a worker (pixelwise worker)`);
    const bytes = await this.store.images.bytes(imageId);
    const image = bytes ? await decodeImage(bytes).catch(() => null) : null;
    return createSegmenter(dequantize(stored), image);
  }

  async segment(request: SegmentRequest & { image: number }): Promise<SegmentResult> {
    const record = await this.store.images.get(request.image);
    if (!record) throw new ApiError('not-found', `no image ${request.image}`);
    const { width, height } = record;
    const outside = request.clicks.find(([x, y]) => !(x >= 0 && y >= 0 && x < width && y < height));
    if (outside) throw new ApiError('invalid-input', `click (${outside[0]}, ${outside[1]}) is outside the ${width}x${height} image`);
    const box = request.box && boxFromCorners(...request.box, width, height);
    if (box && (box[2] === 0 || box[3] === 0)) throw new ApiError('invalid-input', `box [${request.box!.join(', ')}] does not overlap the ${width}x${height} image`);
    const segmenter = await this.segmenter(record.id, request.modelId ?? this.defaultModel());
    const started = performance.now();
    const { mask, score } = segmenter.segment(request.clicks.map(([x, y, positive]) => ({ x, y, positive: positive === 1 })), box);
    return { rle: encodeRle(mask), score, ms: Math.round((performance.now() - started) * 1000) / 1000 };
  }
}
