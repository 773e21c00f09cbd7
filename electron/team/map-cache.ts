/**
 * The team server's cache of stored maps (0.8 MB each at 1024x768), read by search's stage 2, feedback, hit masks
 * and accepts (search-sessions.ts): one team's searches re-rank the same candidates again and again (feedback
 * re-ranks the hits a query found), and each read from PostgreSQL is a round trip of the whole map.
 *
 * Bounded by bytes (the maps' data), least recently used dropped first; a map larger than the bound is read but not
 * kept. Concurrent first reads of one map share one read. Each entry is kept with the version it was read at (the
 * caller's: the region row's seq, which a re-embedded map's row gets anew, electron/team/search.ts), and a read at
 * another version reads the store again and replaces it, so a re-embedded or removed map is never served stale.
 * An image without a map is not kept (it may get one any moment).
 *
 * `node --expose-gc --import tsx tests/bench/team-search-sessions.ts` (200 photos of 1024x768, 10 rounds of query,
 * feedback, hit masks; 2 cores, run back to back at load 1.6-3.5): query p50 178 ms (stage 2 157 ms) with the
 * default 512 MiB, 788 ms (stage 2 764 ms) with --map-cache-mb 0; feedback p50 274 ms vs 917 ms. The first query
 * of a round of candidates reads them all (query p95 1.1 s either way).
 */
import type { StoredEmbedding } from '../../core/embedding';

interface Entry {
  version: string;
  map: Promise<StoredEmbedding | undefined>;
  /** The map's bytes once read (0 while the read is in flight). */
  bytes: number;
}

export class MapCache {
  /** By model and image, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  /** `limitBytes`: the most bytes of maps kept (0: none kept, every read goes to the store). */
  constructor(readonly limitBytes: number) {}

  /** Bytes of maps held now. */
  get bytes(): number {
    return this.held;
  }

  /** Maps held or being read. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The image's map at `version`, from the cache or through `read` (kept when it fits). `version` undefined: the
   * caller cannot tell which map is current, so it is read, and not kept.
   */
  get(modelId: string, imageId: number, version: string | undefined, read: () => Promise<StoredEmbedding | undefined>): Promise<StoredEmbedding | undefined> {
    if (version === undefined || this.limitBytes <= 0) return read();
    const key = `${modelId}\0${imageId}`;
    const found = this.entries.get(key);
    if (found) this.drop(key, found);
    if (found?.version === version) {
      this.entries.set(key, found); // most recently used
      this.held += found.bytes;
      return found.map;
    }
    const entry: Entry = { version, map: read(), bytes: 0 };
    this.entries.set(key, entry);
    entry.map.then((map) => {
      if (this.entries.get(key) !== entry) return; // replaced or dropped meanwhile
      const bytes = map?.bytes.byteLength ?? 0;
      if (!map || bytes > this.limitBytes) return this.drop(key, entry);
      entry.bytes = bytes;
      this.held += bytes;
      for (const [oldest, old] of this.entries) {
        if (this.held <= this.limitBytes) break;
        this.drop(oldest, old);
      }
    }, () => {
      if (this.entries.get(key) === entry) this.drop(key, entry);
    });
    return entry.map;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.bytes;
  }
}
