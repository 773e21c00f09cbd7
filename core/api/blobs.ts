/**
 * Binary resources (image files, thumbnails, embedding maps) travel outside the JSON API, as URLs the renderer
 * can fetch or put in an <img>: `pixelwise://app/blob/...` in Electron, `/blob/...` in web mode.
 */
import type { StoredEmbedding } from '../embedding';

/**
 * Every path carries the image's content hash (`v`). Image ids are per project, and SQLite gives a removed newest
 * image's id to the next one, so an id alone would let the browser's caches show one image's pixels, thumbnail or
 * embedding for another; with the hash the URL names the content. The server refuses a `v` that is not the image's
 * current hash.
 */
export const blobPaths = {
  /** The image as the browser can show it (TIFF and BMP converted to PNG). */
  image: (id: number, hash: string) => `image/${id}?v=${hash}`,
  /** JPEG, long side 256. */
  thumbnail: (id: number, hash: string) => `thumbnail/${id}?v=${hash}`,
  /** packEmbedding() bytes. */
  embedding: (imageId: number, hash: string, modelId: string) => `embedding/${imageId}?v=${hash}&model=${encodeURIComponent(modelId)}`,
};

export interface BlobRequest {
  kind: 'image' | 'thumbnail' | 'embedding';
  id: number;
  /** The content hash the link was made for; null when the path has none. */
  version: string | null;
  /** Embeddings only: the model (null: the studio's default). */
  modelId: string | null;
}

/** Parses "kind/id?v=...&model=..." (the part after the transport's prefix); null when it is not a blob path. */
export function parseBlobPath(path: string): BlobRequest | null {
  const match = /^\/?(image|thumbnail|embedding)\/(\d+)(?:\?(.*))?$/.exec(path);
  if (!match) return null;
  const query = new URLSearchParams(match[3] ?? '');
  const kind = match[1] as BlobRequest['kind'];
  return { kind, id: Number(match[2]), version: query.get('v'), modelId: kind === 'embedding' ? query.get('model') : null };
}

/** [uint32 LE header length][JSON header][embedding bytes]. */
export function packEmbedding(stored: StoredEmbedding): Uint8Array {
  const { bytes, ...header } = stored;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + bytes.byteLength);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(bytes, 4 + json.length);
  return out;
}

export function unpackEmbedding(packed: Uint8Array): StoredEmbedding {
  const length = new DataView(packed.buffer, packed.byteOffset, packed.byteLength).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(packed.subarray(4, 4 + length))) as Omit<StoredEmbedding, 'bytes'>;
  return { ...header, bytes: packed.slice(4 + length) };
}
