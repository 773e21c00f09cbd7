/** Binary resources for the renderer, served by the web server and by Electron's pixelwise:// protocol alike. */
import { readFile } from 'node:fs/promises';
import { ApiError } from '../../core/api/contract';
import { type BlobRequest, packEmbedding } from '../../core/api/blobs';
import { resolveStoredPath } from '../../db/images';
import { openImage } from '../embedding/image-io';
import type { TeamProject } from '../team/connection';
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
  return code === 'not-found' ? 404 : code === 'no-project' ? 409 : code === 'unavailable' ? 503 : 500;
}

/** Formats every browser shows natively; the rest is converted to PNG. */
const browserFormats: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' };

/** A blob of the open project: a project file's from the file and its folder, a team project's from the server. */
export async function readBlob(studio: Studio, request: BlobRequest): Promise<Blob> {
  const team = studio.team;
  return team ? readTeamBlob(team, request) : readProjectBlob(studio, request);
}

function checkVersion(request: BlobRequest, hash: string): void {
  if (request.version !== null && request.version !== hash) {
    throw new ApiError('not-found', `image ${request.id} is no longer the image this link was made for`);
  }
}

const noEmbedding: Blob = { status: 204, contentType: 'application/octet-stream', body: new Uint8Array(0) };

async function readProjectBlob(studio: Studio, request: BlobRequest): Promise<Blob> {
  const project = studio.project;
  const image = project.images.get(request.id);
  if (!image || !image.hash) throw new ApiError('not-found', `no image ${request.id}`);
  checkVersion(request, image.hash);
  if (request.kind === 'embedding') {
    const modelId = request.modelId ?? studio.modelId();
    const stored = project.embeddings.get(request.id, modelId);
    if (!stored) return noEmbedding;
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
  return browserImage(bytes);
}

/**
 * A team project's blobs: image bytes (images.download) and thumbnails from the server through the project's
 * cache, and the stored maps as the server packs them (packEmbedding bytes), so the editor's local segmentation
 * works on a team project as on a file. Server image ids are never reused, but links still carry the hash.
 */
async function readTeamBlob(team: TeamProject, request: BlobRequest): Promise<Blob> {
  checkVersion(request, await team.hashOf(request.id));
  if (request.kind === 'embedding') {
    const packed = await team.embedding(request.id, request.modelId ?? team.modelId);
    return packed ? { status: 200, contentType: 'application/octet-stream', body: packed } : noEmbedding;
  }
  if (request.kind === 'thumbnail') return { status: 200, contentType: 'image/jpeg', body: await team.thumbnail(request.id) };
  return browserImage(Buffer.from(await team.imageBytes(request.id)));
}

/** The image as a browser can show it: its own bytes, or PNG for formats browsers lack (TIFF, BMP). */
async function browserImage(bytes: Buffer): Promise<Blob> {
  const pipeline = openImage(bytes);
  const format = (await pipeline.metadata()).format ?? '';
  if (browserFormats[format] && bytes[0] !== 0x42) return { status: 200, contentType: browserFormats[format], body: bytes };
  return { status: 200, contentType: 'image/png', body: await pipeline.png({ compressionLevel: 1 }).toBuffer() };
}
