/**
 * Stage 1 of team search in worker threads, so a scan no longer holds the server's event loop (about 200 ms of CPU
 * at 100,000 images of 16-d regions: every other call waited that long behind a search). The matrix's chunks live in
 * SharedArrayBuffers (sharedChunk): posting one to a worker shares its memory, nothing is copied per query. A query
 * is cut into one part per worker, each a run of consecutive images in scan order and about the same number of
 * regions. A worker scans its part with its own TopHits and sends back every hit it pushed, in order; the main thread
 * pushes those, part after part, into one TopHits. That gives the in-thread scan's hits bit for bit, ties included:
 * a worker's floor is never above the one-thread floor at the same image (it has seen a subset), so every hit it
 * leaves out is one the single TopHits would have refused, and a refused push leaves a TopHits as it was.
 * A worker that cannot start disables the pool (the caller scans in-thread from then on); one that dies mid-scan
 * fails that scan (the caller redoes it in-thread) and is started again for the next.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Negatives, type RegionChunk, type ScanHit, scanChunk, TopHits } from '../../core/search/scan';
import { outFile } from '../paths';

/** A chunk whose arrays are views on one SharedArrayBuffer (int32 image ids and offsets, then int8 vectors). */
export function sharedChunk(dim: number, images: number, regions: number): RegionChunk {
  const buffer = new SharedArrayBuffer(4 * (2 * images + 1) + regions * dim);
  return {
    dim,
    imageIds: new Int32Array(buffer, 0, images),
    offsets: new Int32Array(buffer, 4 * images, images + 1),
    vectors: new Int8Array(buffer, 4 * (2 * images + 1), regions * dim),
  };
}

/** The chunk in shared memory (a copy when it is not already there). */
export function toShared(chunk: RegionChunk): RegionChunk {
  if (chunk.vectors.buffer instanceof SharedArrayBuffer) return chunk;
  const out = sharedChunk(chunk.dim, chunk.imageIds.length, chunk.offsets[chunk.offsets.length - 1]);
  out.imageIds.set(chunk.imageIds);
  out.offsets.set(chunk.offsets);
  out.vectors.set(chunk.vectors);
  return out;
}

/** Images of the chunk the scan leaves out: stale rows, excluded images, and those outside `only`. */
export function skipped(chunk: RegionChunk, stale: ReadonlySet<number>, exclude?: ReadonlySet<number>, only?: ReadonlySet<number>): ReadonlySet<number> | undefined {
  if (!only && stale.size === 0) return exclude;
  const out = new Set(stale);
  if (exclude) for (const id of exclude) out.add(id);
  if (only) for (const id of chunk.imageIds) if (!only.has(id)) out.add(id);
  return out;
}

/** Images from..to-1 of a chunk (offsets stay indices into the chunk's vectors). */
interface Segment {
  chunk: RegionChunk;
  from: number;
  to: number;
  /** Images of the chunk whose row there is stale. */
  stale: number[];
}

/** One worker's share of a query. */
export interface ScanPart {
  segments: Segment[];
  queries: Int8Array[];
  negatives?: Negatives;
  limit: number;
  exclude?: number[];
  only?: number[];
}

/** Every hit pushed while scanning the part, in push order (columns, so the answer clones fast). */
export interface PartHits {
  imageIds: Int32Array;
  regions: Int32Array;
  scores: Float64Array;
}

/** Scans a part (in a worker). */
export function scanPart(part: ScanPart): PartHits {
  const pushed: ScanHit[] = [];
  const top = new TopHits(part.limit);
  const push = top.push.bind(top);
  top.push = (hit) => { pushed.push(hit); push(hit); };
  const exclude = part.exclude && new Set(part.exclude), only = part.only && new Set(part.only);
  for (const { chunk, from, to, stale } of part.segments) {
    const view: RegionChunk = { dim: chunk.dim, imageIds: chunk.imageIds.subarray(from, to), offsets: chunk.offsets.subarray(from, to + 1), vectors: chunk.vectors };
    scanChunk(view, part.queries, top, skipped(view, new Set(stale), exclude, only), part.negatives);
  }
  return {
    imageIds: Int32Array.from(pushed, (hit) => hit.imageId), regions: Int32Array.from(pushed, (hit) => hit.region), scores: Float64Array.from(pushed, (hit) => hit.score),
  };
}

/**
 * Cuts the chunks into `count` runs of consecutive images with about the same number of regions each (fewer when
 * there are fewer images).
 */
export function splitChunks(chunks: RegionChunk[], stale: Array<ReadonlySet<number>>, count: number): Segment[][] {
  const total = chunks.reduce((sum, chunk) => sum + chunk.offsets[chunk.offsets.length - 1] - chunk.offsets[0], 0);
  const parts: Segment[][] = [[]];
  let done = 0;
  chunks.forEach((chunk, c) => {
    const staleIds = [...stale[c]];
    let from = 0;
    for (let i = 0; i < chunk.imageIds.length; i++) {
      done += chunk.offsets[i + 1] - chunk.offsets[i];
      // Close the part once it reaches its share; the last part takes the rest.
      if (parts.length < count && done >= (total * parts.length) / count) {
        parts[parts.length - 1].push({ chunk, from, to: i + 1, stale: staleIds });
        parts.push([]);
        from = i + 1;
      }
    }
    if (from < chunk.imageIds.length) parts[parts.length - 1].push({ chunk, from, to: chunk.imageIds.length, stale: staleIds });
  });
  return parts.filter((segments) => segments.length > 0);
}

/** Pushes the parts' hits, part after part, into one TopHits: the hits of one scan over all of them. */
export function mergeParts(parts: PartHits[], limit: number): ScanHit[] {
  const top = new TopHits(limit);
  for (const part of parts) {
    for (let i = 0; i < part.imageIds.length; i++) {
      if (part.scores[i] > top.floor) top.push({ imageId: part.imageIds[i], region: part.regions[i], score: part.scores[i] });
    }
  }
  return top.sorted();
}

export type ScanWorkerRequest = { id: number; part: ScanPart };
export type ScanWorkerMessage = { type: 'ready' } | { type: 'done'; id: number; hits: PartHits } | { type: 'failed'; id: number; message: string };

/** A scan the pool could not finish: the caller scans in-thread instead. */
export class ScanPoolError extends Error {}

interface PoolWorker {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (hits: PartHits) => void; reject: (error: Error) => void }>;
}

export interface ScanPoolOptions {
  /** Worker threads (default: one per core but one, at least one). */
  threads?: number;
  /** The worker's entry file (default: the built out/team-scan-worker.cjs, or scan-worker.ts under tsx). */
  workerFile?: string;
}

/** Default threads: the cores but one for the event loop, at least one. */
export const defaultScanThreads = () => Math.max(1, availableParallelism() - 1);

/** Where the worker's code is: beside this module's source in development, the bundle's out/ folder when built. */
function workerEntry(): { file: string; execArgv?: string[] } {
  if (__filename.endsWith('.ts')) return { file: join(__dirname, 'scan-worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
  return { file: outFile('team-scan-worker.cjs') };
}

export class ScanPool {
  readonly threads: number;
  private readonly workers: Array<PoolWorker | null>;
  private nextId = 1;
  /** Why the pool stopped for good (a worker could not start), or null. */
  private failure: string | null = null;
  private closed = false;

  constructor(private readonly options: ScanPoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? defaultScanThreads()));
    this.workers = Array.from({ length: this.threads }, () => null);
  }

  /** Why scans no longer go to workers (a worker could not start), or null while they do. */
  get disabled(): string | null {
    return this.closed ? 'the search scan threads were closed' : this.failure;
  }

  /** The parts' hits, or a ScanPoolError saying why the workers could not give them. */
  async scan(parts: ScanPart[]): Promise<PartHits[]> {
    if (this.disabled) throw new ScanPoolError(this.disabled);
    return Promise.all(parts.map((part, i) => this.run(i % this.threads, part)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0, this.workers.length, ...this.workers.map(() => null));
    await Promise.all(workers.map((entry) => entry?.worker.terminate()));
  }

  private async run(slot: number, part: ScanPart): Promise<PartHits> {
    let entry = this.workers[slot];
    if (!entry) {
      try {
        entry = this.start(slot);
      } catch (error) {
        this.failure ??= `a search scan thread could not start (${(error as Error).message})`;
        throw new ScanPoolError(this.failure);
      }
    }
    await entry.ready;
    const id = this.nextId++;
    return new Promise<PartHits>((resolve, reject) => {
      entry.pending.set(id, { resolve, reject });
      entry.worker.ref(); // a scan in flight keeps the process up; an idle pool does not
      entry.worker.postMessage({ id, part } satisfies ScanWorkerRequest);
    });
  }

  private start(slot: number): PoolWorker {
    const { file, execArgv } = this.options.workerFile ? { file: this.options.workerFile, execArgv: undefined } : workerEntry();
    const worker = new Worker(file, { execArgv });
    const pending: PoolWorker['pending'] = new Map();
    let started = false;
    let readyResolve!: () => void, readyReject!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
    const entry: PoolWorker = { worker, ready, pending };
    this.workers[slot] = entry;
    const fail = (reason: string) => {
      if (this.workers[slot] === entry) this.workers[slot] = null; // started again for the next scan
      if (!started) this.failure ??= `a search scan thread could not start (${reason})`;
      const error = new ScanPoolError(started ? `a search scan thread stopped (${reason})` : this.failure!);
      readyReject(error);
      for (const { reject } of pending.values()) reject(error);
      pending.clear();
      void worker.terminate();
    };
    ready.catch(() => undefined);
    worker.on('message', (message: ScanWorkerMessage) => {
      if (message.type === 'ready') {
        started = true;
        worker.unref();
        return readyResolve();
      }
      const request = pending.get(message.id);
      if (!request) return;
      pending.delete(message.id);
      if (pending.size === 0) worker.unref();
      if (message.type === 'done') request.resolve(message.hits);
      else request.reject(new ScanPoolError(`a search scan thread failed: ${message.message}`));
    });
    worker.on('error', (error) => fail(error.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return entry;
  }
}
