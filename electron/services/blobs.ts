/** Binary resources for the renderer, served by the web server and by Electron's pixelwise:// protocol alike. */
import { readFile } from 'node:fs/promises';
import { ApiError } from '../../core/api/contract';
import { type BlobRequest, packEmbedding } from '../../core/api/blobs';
import { resolveStoredPath } from '../../db/images';
import { openImage } from '../embedding/image-io';
import type { Studio } from './studio';

export interface Blob {
  /**
   * 204 (no body; not to be cached): the image has no embedding for the model yet. The editor asks on every image
   * it opens and offers to embed on this answer; an error status here made the browser log a failed request for
   * each unembedded image (walkthrough 2026-12-05, problem 14).
   */
  status: 200 | 204;
  contentType: string;
  body: Uint8Array;
}

/** HTTP status for a failed blob request. */
export function blobErrorStatus(error: unknown): number {
  const code = error instanceof ApiError ? error.code : 'internal';
  return code === 'not-found' ? 404 : code === 'no-project' ? 409 : 500;
}

/** Formats every browser shows natively; the rest is converted to PNG. */
const browserFormats: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' };

export async function readBlob(studio: Studio, request: BlobRequest): Promise<Blob> {
  const project = studio.project;
  const image = project.images.get(request.id);
  if (!image || !image.hash) throw new ApiError('not-found', `no image ${request.id}`);
  if (request.version !== null && request.version !== image.hash) {
    throw new ApiError('not-found', `image ${request.id} is no longer the image this link was made for`);
  }
  if (request.kind === 'embedding') {
    const modelId = request.modelId ?? studio.modelId();
    const stored = project.embeddings.get(request.id, modelId);
    if (!stored) return { status: 204, contentType: 'application/octet-stream', body: new Uint8Array(0) };
    return { status: 200, contentType: 'application/octet-stream', body: packEmbedding(stored) };
  }
  if (request.kind === 'thumbnail') {
    const thumbnail = project.images.thumbnail(request.id);
    if (!thumbnail) throw new ApiError('not-found', `no thumbnail for image ${request.id}`);
    return { status: 200, contentType: 'image/jpeg', body: thumbnail };
  }
  const bytes = await readFile(resolveStoredPath(project.dir, image.path)).catch(() => {
    throw new ApiError('not-found', `image file ${image.path} is missing`);
  });
  const pipeline = openImage(bytes);
  const format = (await pipeline.metadata()).format ?? '';
  if (browserFormats[format] && bytes[0] !== 0x42) return { status: 200, contentType: browserFormats[format], body: bytes };
  return { status: 200, contentType: 'image/png', body: await pipeline.png({ compressionLevel: 1 }).toBuffer() };
}
