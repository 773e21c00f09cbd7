/**
 * Click-to-mask on the main side, for the CLI and the web API (the studio's editor runs the same engine in a
 * Web Worker). The per-image set-up (decoding, dequantising, createSegmenter) is cached for the last few images,
 * so a stream of requests on one image costs only the per-click path.
 */
import { ApiError, type SegmentRequest, type SegmentResult } from '../../core/api/contract';
import { dequantize } from '../../core/embedding';
import { boxFromCorners, createSegmenter, type Segmenter } from '../../core/engine';
import { encodeRle } from '../../core/rle';
import { resolve } from 'node:path';
import { resolveStoredPath, storedPath } from '../../db/images';
import type { Project } from '../../db/project';
import { decodeImageFile } from '../embedding/image-io';

const cacheSize = 4;

export class SegmentService {
  private cache = new Map<string, Segmenter>();
  /**
   * Set-ups under way: concurrent first requests for one image share one decode and one createSegmenter (audit
   * F10: 3 concurrent cold requests on a 12000x12000 image took 7.4-13.7 s and 1.96 GB, one took 4.0 s, 0.84 GB).
   */
  private building = new Map<string, Promise<Segmenter>>();

  constructor(private readonly project: () => Project, private readonly defaultModel: () => string) {}

  private imageId(project: Project, image: number | string): number {
    if (typeof image === 'number') return image;
    // As stored (relative to the project's folder), or as imported: absolute or relative to the working folder.
    const found = project.images.findByPath(image) ?? project.images.findByPath(image.replace(/\\/g, '/'))
      ?? project.images.findByPath(storedPath(project.dir, resolve(image)));
    if (!found) throw new ApiError('not-found', `no image "${image}" in the project`);
    return found.id;
  }

  private async segmenter(project: Project, imageId: number, modelId: string): Promise<Segmenter> {
    const key = `${project.path}\0${imageId}\0${modelId}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const pending = this.building.get(key);
    if (pending) return pending;
    const built = this.build(project, imageId, modelId, key).finally(() => this.building.delete(key));
    this.building.set(key, built);
    return built;
  }

  private async build(project: Project, imageId: number, modelId: string, key: string): Promise<Segmenter> {
    const record = project.images.get(imageId);
    if (!record || !record.hash) throw new ApiError('not-found', `image ${imageId} does not exist or failed to import`);
    const stored = project.embeddings.get(imageId, modelId);
    if (!stored) throw new ApiError('not-embedded', `image ${imageId} has no embedding for model ${modelId}; run "pixelwise embed" first`);
    const image = await decodeImageFile(resolveStoredPath(project.dir, record.path)).catch(() => null);
    const segmenter = createSegmenter(dequantize(stored), image);
    this.cache.set(key, segmenter);
    if (this.cache.size > cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.get(oldest)!.release?.();
      this.cache.delete(oldest);
    }
    return segmenter;
  }

  async segment(request: SegmentRequest): Promise<SegmentResult> {
    const project = this.project();
    const imageId = this.imageId(project, request.image);
    const segmenter = await this.segmenter(project, imageId, request.modelId ?? this.defaultModel());
    const { width, height } = project.images.get(imageId)!;
    const outside = request.clicks.find(([x, y]) => !(x >= 0 && y >= 0 && x < width && y < height));
    if (outside) throw new ApiError('invalid-input', `click (${outside[0]}, ${outside[1]}) is outside the ${width}x${height} image`);
    const clicks = request.clicks.map(([x, y, positive]) => ({ x, y, positive: positive === 1 }));
    // Two corners in either order; the box is clipped to the image.
    const box = request.box && boxFromCorners(...request.box, width, height);
    if (box && (box[2] === 0 || box[3] === 0)) {
      throw new ApiError('invalid-input', `box [${request.box!.join(', ')}] does not overlap the ${width}x${height} image`);
    }
    const started = performance.now();
    const { mask, score } = segmenter.segment(clicks, box);
    const ms = performance.now() - started;
    return { rle: encodeRle(mask), score, ms: Math.round(ms * 1000) / 1000 };
  }
}
