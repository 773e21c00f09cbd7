/**
 * Stage 1 over a project's region index: pages of region rows are read from SQLite in image-id order, packed into
 * contiguous int8 chunks and scanned (core/search/scan.ts). Memory stays bounded: at most `cacheBytes` of chunks
 * are kept between queries (the first ones in id order); beyond that the rest is streamed again on every query,
 * one chunk at a time. The cache is checked against the table's signature on each query, so re-embedding,
 * re-indexing and deleting images are seen at once.
 */
import { type RegionChunk, type ScanHit, TopHits, scanChunk, toInt8 } from '../../core/search/scan';
import type { RegionRepository, RegionVectorRow } from '../../db/regions';

export interface ScannerOptions {
  /** Bytes of region vectors kept in memory between queries (default 256 MiB). */
  cacheBytes: number;
  /** Images per chunk read from SQLite. */
  chunkImages: number;
}

export interface ScanResult {
  hits: ScanHit[];
  images: number;
  regions: number;
  ms: number;
}

interface ModelCache {
  signature: string;
  chunks: RegionChunk[];
  bytes: number;
  /** Every row is in `chunks`. */
  complete: boolean;
  /** Last image id in `chunks`. */
  lastImageId: number;
}

export function packChunk(rows: RegionVectorRow[]): RegionChunk {
  const dim = rows[0].dim;
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((row, i) => {
    if (row.dim !== dim) throw new RangeError(`image ${row.image_id} has ${row.dim}-d regions, expected ${dim}`);
    offsets[i + 1] = offsets[i] + row.region_count;
  });
  const vectors = new Int8Array(offsets[rows.length] * dim);
  rows.forEach((row, i) => vectors.set(new Int8Array(row.vectors.buffer, row.vectors.byteOffset, row.vectors.byteLength), offsets[i] * dim));
  return { dim, imageIds: Int32Array.from(rows, (row) => row.image_id), offsets, vectors };
}

export class RegionScanner {
  private readonly settings: ScannerOptions;
  private readonly caches = new Map<string, ModelCache>();

  constructor(private readonly regions: RegionRepository, options: Partial<ScannerOptions> = {}) {
    this.settings = { cacheBytes: 256 * 1024 * 1024, chunkImages: 2048, ...options };
  }

  /** Bytes of region vectors held now (all models). */
  get cachedBytes(): number {
    let total = 0;
    for (const cache of this.caches.values()) total += cache.bytes;
    return total;
  }

  clear(): void {
    this.caches.clear();
  }

  /** Every chunk of the model's regions, cached ones first, then streamed ones. */
  *chunks(modelId: string): Generator<RegionChunk> {
    const signature = this.regions.signature(modelId);
    let cache = this.caches.get(modelId);
    if (!cache || cache.signature !== signature) {
      cache = { signature, chunks: [], bytes: 0, complete: false, lastImageId: 0 };
      this.caches.set(modelId, cache);
    }
    yield* cache.chunks;
    let after = cache.lastImageId;
    let complete = cache.complete;
    // Streaming resumes right after the cached prefix; chunks join the cache until one does not fit.
    let caching = true;
    while (!complete) {
      const rows = this.regions.page(modelId, after, this.settings.chunkImages);
      if (rows.length === 0) {
        if (caching) cache.complete = true;
        break;
      }
      const chunk = packChunk(rows);
      after = rows[rows.length - 1].image_id;
      complete = rows.length < this.settings.chunkImages;
      caching &&= cache.bytes + chunk.vectors.byteLength <= this.settings.cacheBytes;
      if (caching) {
        cache.chunks.push(chunk);
        cache.bytes += chunk.vectors.byteLength;
        cache.lastImageId = after;
        cache.complete = complete;
      }
      yield chunk;
    }
  }

  /**
   * Best `limit` images by their best region against the query vectors (unit float32, max over queries), less
   * `negatives.weight` x the region's best cosine with a negative (core/search/classmodel.ts).
   */
  scan(modelId: string, queries: Float32Array[], options: {
    limit: number; exclude?: ReadonlySet<number>; only?: ReadonlySet<number>; negatives?: { vectors: Float32Array[]; weight: number };
  }): ScanResult {
    const started = performance.now();
    const top = new TopHits(options.limit);
    const int8 = queries.map(toInt8);
    const negatives = options.negatives && { vectors: options.negatives.vectors.map(toInt8), weight: options.negatives.weight };
    let images = 0, regions = 0;
    for (const chunk of this.chunks(modelId)) {
      if (chunk.dim !== queries[0].length) {
        throw new RangeError(`query is ${queries[0].length}-d but ${modelId} regions are ${chunk.dim}-d`);
      }
      images += chunk.imageIds.length;
      regions += chunk.offsets[chunk.offsets.length - 1];
      scanChunk(chunk, int8, top, options.only ? excludeAllBut(chunk, options.only, options.exclude) : options.exclude, negatives);
    }
    return { hits: top.sorted(), images, regions, ms: performance.now() - started };
  }
}

function excludeAllBut(chunk: RegionChunk, only: ReadonlySet<number>, exclude?: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (const id of chunk.imageIds) if (!only.has(id) || exclude?.has(id)) out.add(id);
  return out;
}
