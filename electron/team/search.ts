/**
 * Similar-object search on the team server. Stage 1 scans a packed in-memory matrix of a model's region vectors
 * (the local scanner's int8 chunks and kernel: electron/search/scanner.ts packChunk, core/search/scan.ts), loaded
 * from the database once per model and caught up before each query by reading only the region rows whose seq is
 * past the last one held (db/pg/schema.ts region_versions says when there are any): a worker's new map adds a row,
 * a re-embedded image's row comes again with a new seq (its old row in the matrix is marked stale). Rows removed (a
 * model file replaced, an image deleted) make the matrix load again. Stage 2 re-ranks the best candidates on their full
 * maps (core/search/dense.ts) with the local search's session engine, and the answer has the local search's shape
 * (core/api/search-contract.ts): search-sessions.ts.
 * The scan runs in worker threads (scan-pool.ts) on the matrix's chunks in shared memory, so other calls no longer
 * wait behind it: at 100,000 images of 16-d regions (tests/bench/team-search.ts, 2 cores at load average 7-8, one scan
 * thread) stage 1 took p50 320 ms in the thread and 367 ms on the event loop, and the event loop stalled p50 6 ms
 * (p95 33) per search instead of 368 ms (p95 433); idle it stalls p50 3 ms (p95 11) there. Without a pool
 * (--scan-threads 0), or when its threads fail, the scan runs on the event loop as before.
 */
import { ApiError } from '../../core/api/contract';
import { type RegionChunk, type ScanHit, scanChunk, toInt8, TopHits } from '../../core/search/scan';
import { type RegionChange, regionSetOf, type Store } from '../../db/store';
import { packChunk } from '../search/scanner';
import { mergeParts, type ScanPool, ScanPoolError, sharedChunk, skipped, splitChunks, toShared } from './scan-pool';

/** Rows read per round trip while loading, and the most images in one chunk. */
const pageRows = 8192;

interface Matrix {
  chunks: RegionChunk[];
  /** Per chunk: images whose row there was replaced by one in a later chunk. */
  stale: Array<Set<number>>;
  /** Image id -> the chunk holding its live row. */
  where: Map<number, number>;
  /** Image id -> the seq of its live row. */
  seqs: Map<number, number>;
  /** Highest seq read. */
  last: number;
  /** region_versions.removed when loading began. */
  removed: number;
  bytes: number;
  /** Which load this is (a seq may be given again after rows were removed, in SQLite: a new load tells them apart). */
  generation: number;
}

export interface Stage1Result {
  hits: ScanHit[];
  images: number;
  regions: number;
  /** Catching the matrix up with the database (a version check when nothing changed). */
  syncMs: number;
  ms: number;
  /** Threads that scanned (0: the event loop). */
  threads: number;
}

let generations = 0;
const emptyMatrix = (removed: number): Matrix => ({ chunks: [], stale: [], where: new Map(), seqs: new Map(), last: 0, removed, bytes: 0, generation: ++generations });

/** Seqs re-read before the last one held: more than the writes that can be in flight at once. */
const lookBack = 256;

export class TeamRegionIndex {
  private readonly matrices = new Map<string, Matrix>();
  /** Per model: the refresh in progress (refreshes of one model run one at a time). */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly indexedMissing = new Set<string>();

  /**
   * `pool`: scan threads (none: scans run on the event loop). `warn` hears, in words, why a scan fell back to the
   * event loop.
   */
  constructor(private readonly store: Store, private readonly pool?: ScanPool, private readonly warn: (message: string) => void = (message) => process.stderr.write(`${message}\n`)) {}

  /** Bytes of region vectors held (all models). */
  get bytes(): number {
    let total = 0;
    for (const matrix of this.matrices.values()) total += matrix.bytes;
    return total;
  }

  /** The model's matrix as held now (for tests and benchmarks). */
  held(modelId: string): { chunks: number; images: number; staleRows: number; bytes: number } | undefined {
    const matrix = this.matrices.get(modelId);
    return matrix && { chunks: matrix.chunks.length, images: matrix.where.size, staleRows: matrix.stale.reduce((sum, set) => sum + set.size, 0), bytes: matrix.bytes };
  }

  /**
   * What changes whenever the image's map does, as of the last refresh: a re-embedded map's region row comes with
   * a new seq, and rows removed make the matrix load again. Undefined when the image has no region row.
   */
  mapVersion(modelId: string, imageId: number): string | undefined {
    const matrix = this.matrices.get(modelId);
    const seq = matrix?.seqs.get(imageId);
    return seq === undefined ? undefined : `${matrix!.generation}.${seq}`;
  }

  /** The model's matrix, up to date with the database. */
  refresh(modelId: string): Promise<Matrix> {
    const previous = this.locks.get(modelId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.sync(modelId));
    this.locks.set(modelId, next);
    return next;
  }

  private async sync(modelId: string): Promise<Matrix> {
    if (!this.indexedMissing.has(modelId)) {
      // Maps stored before the server kept regions (schema 2) get them now, once per model and process.
      for (const imageId of await this.store.regions.missing(modelId)) {
        const stored = await this.store.embeddings.get(imageId, modelId);
        if (!stored) continue; // removed meanwhile
        await this.store.regions.put(imageId, modelId, regionSetOf(stored)).catch((error: unknown) => {
          if (!(error instanceof ApiError && error.code === 'conflict')) throw error; // the map was removed meanwhile
        });
      }
      this.indexedMissing.add(modelId);
    }
    let matrix = this.matrices.get(modelId) ?? emptyMatrix(0);
    for (let attempt = 0; attempt < 4; attempt++) {
      const version = await this.store.regions.version(modelId);
      if (version.removed !== matrix.removed) matrix = emptyMatrix(version.removed); // it may hold removed rows: load again
      if (matrix.last === version.last && matrix.where.size === version.rows) break;
      await this.catchUp(modelId, matrix);
      if (matrix.where.size === version.rows) break;
      if (matrix.last > version.last) continue; // rows arrived meanwhile: compare with a newer version
      matrix = emptyMatrix(version.removed); // a row missed beyond the look-back, or removed (SQLite): load again
    }
    this.matrices.set(modelId, matrix);
    return matrix;
  }

  /**
   * Reads the rows past (last - lookBack), keeping those newer than the matrix's row of the image: a transaction
   * that took its seq before another but committed after it shows up below the `last` read before.
   */
  private async catchUp(modelId: string, matrix: Matrix): Promise<void> {
    for (let after = Math.max(0, matrix.last - lookBack); ;) {
      const page = await this.store.regions.changes(modelId, after, pageRows);
      if (page.length === 0) return;
      after = page[page.length - 1].seq;
      matrix.last = Math.max(matrix.last, after);
      // The newest row of each image, if the matrix does not hold it yet.
      const latest = new Map<number, RegionChange>();
      for (const row of page) if (row.seq > (matrix.seqs.get(row.image_id) ?? 0)) latest.set(row.image_id, row);
      if (latest.size > 0) {
        const rows = [...latest.values()];
        const chunk = toShared(packChunk(rows));
        const index = matrix.chunks.length;
        matrix.chunks.push(chunk);
        matrix.stale.push(new Set());
        matrix.bytes += chunk.vectors.byteLength;
        for (const row of rows) {
          const before = matrix.where.get(row.image_id);
          if (before !== undefined) matrix.stale[before].add(row.image_id);
          matrix.where.set(row.image_id, index);
          matrix.seqs.set(row.image_id, row.seq);
        }
      }
      if (page.length < pageRows) break;
    }
    if (matrix.chunks.length > 32 + 2 * Math.ceil(matrix.where.size / pageRows)) compact(matrix);
  }

  /** Best `limit` images by their best region against the query vectors (unit float32, max over queries). */
  async scan(modelId: string, queries: Float32Array[], options: {
    limit: number; exclude?: ReadonlySet<number>; only?: ReadonlySet<number>; negatives?: { vectors: Float32Array[]; weight: number };
  }): Promise<Stage1Result> {
    const syncStarted = performance.now();
    const matrix = await this.refresh(modelId);
    const started = performance.now();
    const int8 = queries.map(toInt8);
    const negatives = options.negatives && { vectors: options.negatives.vectors.map(toInt8), weight: options.negatives.weight };
    let regions = 0;
    for (const chunk of matrix.chunks) {
      if (chunk.dim !== queries[0].length) {
        throw new ApiError('invalid-input', `the query is ${queries[0].length}-d but ${modelId} regions are ${chunk.dim}-d`);
      }
      regions += chunk.offsets[chunk.offsets.length - 1];
    }
    const done = (hits: ScanHit[], threads: number): Stage1Result => ({
      hits, images: matrix.where.size, regions, syncMs: started - syncStarted, ms: performance.now() - started, threads,
    });
    if (this.pool && !this.pool.disabled && regions > 0) {
      const parts = splitChunks(matrix.chunks, matrix.stale, this.pool.threads).map((segments) => ({
        segments, queries: int8, negatives, limit: options.limit, exclude: options.exclude && [...options.exclude], only: options.only && [...options.only],
      }));
      try {
        return done(mergeParts(await this.pool.scan(parts), options.limit), parts.length);
      } catch (error) {
        if (!(error instanceof ScanPoolError)) throw error;
        this.warn(`search: ${error.message}; this search ${this.pool.disabled ? 'and the next ones scan' : 'scans'} on the server's main thread`);
      }
    }
    const top = new TopHits(options.limit);
    matrix.chunks.forEach((chunk, c) => scanChunk(chunk, int8, top, skipped(chunk, matrix.stale[c], options.exclude, options.only), negatives));
    return done(top.sorted(), 0);
  }
}

/**
 * Re-packs the live rows into full chunks: each catch-up adds a chunk (often of one image), and rows replaced
 * since stay in theirs as stale, so a long-running server would otherwise scan more, smaller chunks over time.
 */
function compact(matrix: Matrix): void {
  const chunks: RegionChunk[] = [];
  let ids: number[] = [], spans: Array<{ chunk: RegionChunk; first: number; last: number }> = [];
  const flush = () => {
    if (!ids.length) return;
    const { dim } = spans[0].chunk;
    const offsets = new Int32Array(ids.length + 1);
    spans.forEach((span, i) => { offsets[i + 1] = offsets[i] + span.last - span.first; });
    const chunk = sharedChunk(dim, ids.length, offsets[ids.length]);
    chunk.imageIds.set(ids);
    chunk.offsets.set(offsets);
    spans.forEach((span, i) => chunk.vectors.set(span.chunk.vectors.subarray(span.first * dim, span.last * dim), offsets[i] * dim));
    chunks.push(chunk);
    ids = [];
    spans = [];
  };
  matrix.chunks.forEach((chunk, c) => {
    for (let i = 0; i < chunk.imageIds.length; i++) {
      const imageId = chunk.imageIds[i];
      if (matrix.stale[c].has(imageId)) continue;
      if (ids.length && spans[0].chunk.dim !== chunk.dim) flush();
      ids.push(imageId);
      spans.push({ chunk, first: chunk.offsets[i], last: chunk.offsets[i + 1] });
      if (ids.length === pageRows) flush();
    }
  });
  flush();
  matrix.chunks = chunks;
  matrix.stale = chunks.map(() => new Set());
  matrix.where = new Map();
  chunks.forEach((chunk, c) => { for (const imageId of chunk.imageIds) matrix.where.set(imageId, c); });
  matrix.bytes = chunks.reduce((sum, chunk) => sum + chunk.vectors.byteLength, 0);
}
