/**
 * Binary resources (image files, thumbnails, embedding maps) travel outside the JSON API, as URLs the renderer
 * can fetch or put in an <img>: `pixelwise://app/blob/...` in Electron, `/blob/...` in web mode.
 */
import type { StoredEmbedding } from '../embedding';

export const blobPaths = {
  /** The image as the browser can show it (TIFF and BMP converted to PNG). */
  image: (id: number) => `image/${id}`,
  /** JPEG, long side 256. */
  thumbnail: (id: number) => `thumbnail/${id}`,
  /** packEmbedding() bytes. */
  embedding: (imageId: number, modelId: string) => `embedding/${imageId}?model=${encodeURIComponent(modelId)}`,
};

export type BlobRequest =
  | { kind: 'image'; id: number }
  | { kind: 'thumbnail'; id: number }
  | { kind: 'embedding'; id: number; modelId: string | null };

/** Parses "kind/id?model=..." (the part after the transport's prefix); null when it is not a blob path. */
export function parseBlobPath(path: string): BlobRequest | null {
  const match = /^\/?(image|thumbnail|embedding)\/(\d+)(?:\?(.*))?$/.exec(path);
  if (!match) return null;
  const id = Number(match[2]);
  if (match[1] === 'embedding') return { kind: 'embedding', id, modelId: new URLSearchParams(match[3] ?? '').get('model') };
  return { kind: match[1] as 'image' | 'thumbnail', id };
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
