/**
 * Stage 1 of search: int8 dot products of a query against every region vector of many images, laid out as one
 * contiguous buffer per chunk of images, keeping each image's best region and the best `limit` images.
 */

/** Region vectors of consecutive images: image i owns regions offsets[i] .. offsets[i + 1] - 1. */
export interface RegionChunk {
  dim: number;
  imageIds: Int32Array;
  /** imageIds.length + 1 region offsets. */
  offsets: Int32Array;
  /** regions * dim int8, value = q / 127. */
  vectors: Int8Array;
}

export interface ScanHit {
  imageId: number;
  region: number;
  /** Cosine of the query with the image's best region, -1 .. 1. */
  score: number;
}

/** Unit float vector -> int8 (x 127) for the integer kernel. */
export function toInt8(vector: Float32Array): Int8Array {
  const out = new Int8Array(vector.length);
  for (let k = 0; k < vector.length; k++) out[k] = Math.max(-127, Math.min(127, Math.round(vector[k] * 127)));
  return out;
}

/** Bounded min-heap of the best hits by score (one per image: callers push each image once). */
export class TopHits {
  private readonly scores: Float64Array;
  private readonly items: ScanHit[] = [];
  constructor(readonly limit: number) {
    this.scores = new Float64Array(limit);
  }
  /** Lowest score kept, or -Infinity while not full: scans skip images that cannot enter. */
  get floor(): number {
    return this.items.length < this.limit ? -Infinity : this.scores[0];
  }
  push(hit: ScanHit): void {
    if (this.limit === 0) return;
    const { items, scores } = this;
    if (items.length < this.limit) {
      let i = items.length;
      items.push(hit);
      scores[i] = hit.score;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (scores[parent] <= scores[i]) break;
        this.swap(i, parent);
        i = parent;
      }
      return;
    }
    if (hit.score <= scores[0]) return;
    items[0] = hit;
    scores[0] = hit.score;
    for (let i = 0; ;) {
      const left = 2 * i + 1, right = left + 1;
      let smallest = i;
      if (left < items.length && scores[left] < scores[smallest]) smallest = left;
      if (right < items.length && scores[right] < scores[smallest]) smallest = right;
      if (smallest === i) break;
      this.swap(i, smallest);
      i = smallest;
    }
  }
  private swap(a: number, b: number): void {
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
    [this.scores[a], this.scores[b]] = [this.scores[b], this.scores[a]];
  }
  /** Best first. */
  sorted(): ScanHit[] {
    return [...this.items].sort((a, b) => b.score - a.score || a.imageId - b.imageId);
  }
}

/**
 * Negative examples of a query: a region closer to one of them than to any query loses `weight` x the difference
 * (its best cosine with a negative minus its best with a query).
 */
export interface Negatives {
  vectors: Int8Array[];
  weight: number;
}

/**
 * Scores every image of the chunk by its best region against each query (max over queries, less the negatives'
 * penalty) and offers it to `top`. `exclude` skips images (already judged, the query's own image when asked).
 */
export function scanChunk(chunk: RegionChunk, queries: Int8Array[], top: TopHits, exclude?: ReadonlySet<number>, negatives?: Negatives): void {
  const { dim, imageIds, offsets, vectors } = chunk;
  const norm = 1 / (127 * 127);
  const penalised = negatives && negatives.vectors.length > 0 && negatives.weight > 0 ? negatives : null;
  for (let i = 0; i < imageIds.length; i++) {
    const imageId = imageIds[i];
    if (exclude?.has(imageId)) continue;
    let best = -Infinity, bestRegion = -1;
    const first = offsets[i], last = offsets[i + 1];
    for (let region = first; region < last; region++) {
      let score = -Infinity;
      for (const query of queries) score = Math.max(score, dot(vectors, region * dim, query, dim));
      // The penalty only lowers a score: a region that cannot beat this image's best or enter the top is done.
      if (score <= best || score * norm <= top.floor) continue;
      if (penalised) {
        let closest = -Infinity;
        for (const negative of penalised.vectors) closest = Math.max(closest, dot(vectors, region * dim, negative, dim));
        if (closest > score) score -= penalised.weight * (closest - score);
      }
      if (score > best) {
        best = score;
        bestRegion = region - first;
      }
    }
    if (bestRegion < 0) continue;
    const score = best * norm;
    if (score > top.floor) top.push({ imageId, region: bestRegion, score });
  }
}

/** Integer dot product; unrolled by 4 (dims are multiples of 4 in practice, the tail loop covers the rest). */
function dot(vectors: Int8Array, offset: number, query: Int8Array, dim: number): number {
  let sum = 0, k = 0;
  for (; k + 3 < dim; k += 4) {
    sum += vectors[offset + k] * query[k] + vectors[offset + k + 1] * query[k + 1]
      + vectors[offset + k + 2] * query[k + 2] + vectors[offset + k + 3] * query[k + 3];
  }
  for (; k < dim; k++) sum += vectors[offset + k] * query[k];
  return sum;
}
