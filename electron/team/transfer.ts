/**
 * Moving a project between a file and a team server: `pixelwise push` uploads a local project's images, classes,
 * annotations and embedding maps; `pixelwise pull` makes (or brings up to date) a local project file from a server.
 * Both can be run again after an interruption and carry on: images are matched by content hash (nothing uploaded or
 * downloaded twice), classes by name, maps by (image, model) (asked per batch which are there already), and a pushed
 * image's objects are saved with a saveId derived from its hash, so a repeated push replays rather than saving
 * twice. Objects someone already saved on the server are kept and reported, never overwritten.
 *
 * Maps move only for models both sides have the same file of (sha256): a map is what that file computed, and a
 * server embedding with another file would mix incomparable vectors in one search. The rest are reported, and
 * `pixelwise embed` or the server's workers compute them. One map is held in memory at a time.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { ApiError } from '../../core/api/contract';
import { unpackEmbedding } from '../../core/api/blobs';
import type { AnnotationRecord, ClassRecord, ImagePage, ImageRecord } from '../../core/api/records';
import type { ModelManifest } from '../../core/manifest';
import { resolveStoredPath, storedPath } from '../../db/images';
import { Project } from '../../db/project';
import { regionSetOf, type VersionedAnnotations } from '../../db/store';
import { regionsOf } from '../search/indexer';
import { describeImage } from '../jobs/import-job';
import type { TeamClient } from './client';

export interface TransferReport {
  images: number;
  transferred: number;
  annotatedImages: number;
  /** Images whose objects were left as they were because the other side had its own. */
  keptTheirs: Array<{ path: string; reason: string }>;
  classes: number;
  /** Embedding maps moved in this run. */
  maps: number;
  /** Models whose maps were not moved, and why. */
  mapsLeftOut: Array<{ modelId: string; reason: string }>;
}

/** A model of the server's (embeddings.models). */
interface ServerModel {
  id: string;
  sha256: string;
  manifest: ModelManifest;
  /** Maps the server holds of it. */
  stored: number;
}

/** The ids among `imageIds` (server ids) that have a map of the model on the server, in batches the call takes. */
async function storedOnServer(client: TeamClient, modelId: string, imageIds: number[]): Promise<Set<number>> {
  const found = new Set<number>();
  for (let start = 0; start < imageIds.length; start += 1000) {
    for (const id of await client.call<number[]>('embeddings.stored', { modelId, imageIds: imageIds.slice(start, start + 1000) })) found.add(id);
  }
  return found;
}

type Progress = (done: number, total: number) => void;

/** A relative '/'-path without '.' or '..' parts, or a name made from the hash. */
function safeRelative(path: string, hash: string): string {
  const parts = path.split('/');
  if (!isAbsolute(path) && !path.includes('\\') && parts.every((part) => part && part !== '.' && part !== '..')) return path;
  return `imported/${hash.slice(0, 12)}-${basename(path.replace(/\\/g, '/'))}`;
}

const draft = (annotation: AnnotationRecord, classId: number | null) => ({
  classId, rle: annotation.rle, score: annotation.score, order: annotation.order, visible: annotation.visible, source: annotation.source,
});

/** The project's models with maps that the server has the same file of; the others go into the report. */
async function pushableModels(project: Project, client: TeamClient, report: TransferReport): Promise<Array<{ id: string; sha256: string }>> {
  const server = await client.call<ServerModel[]>('embeddings.models');
  const models: Array<{ id: string; sha256: string }> = [];
  for (const { modelId } of project.embeddings.countsByModel()) {
    const sha256 = project.embeddings.modelSha256(modelId)!;
    const theirs = server.find((model) => model.id === modelId);
    if (!theirs) report.mapsLeftOut.push({ modelId, reason: `the server has no model ${modelId}; its workers can embed with ${server.map((m) => m.id).join(', ')}` });
    else if (theirs.sha256 !== sha256) report.mapsLeftOut.push({ modelId, reason: `the server's file of model ${modelId} is not the one these maps were computed with` });
    else models.push({ id: modelId, sha256 });
  }
  return models;
}

export async function push(projectFile: string, client: TeamClient, progress: Progress = () => undefined): Promise<TransferReport> {
  const project = new Project(projectFile, { readonly: true });
  try {
    const serverClasses = await client.call<ClassRecord[]>('classes.list');
    const classIds = new Map<number, number>();
    for (const local of project.classes.list()) {
      const found = serverClasses.find((c) => c.name.toLowerCase() === local.name.toLowerCase())
        ?? await client.call<ClassRecord>('classes.create', { name: local.name, color: local.color });
      classIds.set(local.id, found.id);
    }
    const images = project.images.ids().map((id) => project.images.get(id)!).filter((image) => image.hash);
    const report: TransferReport = { images: images.length, transferred: 0, annotatedImages: 0, keptTheirs: [], classes: classIds.size, maps: 0, mapsLeftOut: [] };
    const models = await pushableModels(project, client, report);
    for (let start = 0; start < images.length; start += 200) {
      const batch = images.slice(start, start + 200);
      const known = await client.call<Record<string, number>>('images.find', { hashes: batch.map((image) => image.hash!) });
      const onServer = new Map<string, Set<number>>();
      for (const model of models) onServer.set(model.id, await storedOnServer(client, model.id, Object.values(known)));
      for (const [index, image] of batch.entries()) {
        let serverId = known[image.hash!];
        if (serverId === undefined) {
          const bytes = await readFile(resolveStoredPath(project.dir, image.path));
          serverId = (await client.call<ImageRecord>('images.upload', { path: safeRelative(image.path, image.hash!), data: bytes.toString('base64') })).id;
          report.transferred++;
        }
        const annotations = project.annotations.list(image.id);
        if (annotations.length) {
          try {
            await client.call<VersionedAnnotations>('annotations.save', {
              imageId: serverId, baseVersion: 0, saveId: `push:${image.hash}`,
              annotations: annotations.map((a) => draft(a, a.classId === null ? null : classIds.get(a.classId) ?? null)),
            });
            report.annotatedImages++;
          } catch (error) {
            if (!(error instanceof ApiError) || !['conflict', 'leased'].includes(error.code)) throw error;
            report.keptTheirs.push({ path: image.path, reason: error.message });
          }
        }
        for (const model of models) {
          if (onServer.get(model.id)!.has(serverId)) continue;
          const stored = project.embeddings.get(image.id, model.id);
          if (!stored) continue;
          const { bytes, ...shape } = stored;
          await client.call('embeddings.put', {
            imageId: serverId, modelId: model.id, sha256: model.sha256, embedding: { ...shape, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') },
          });
          report.maps++;
        }
        progress(start + index + 1, images.length);
      }
    }
    return report;
  } finally {
    project.close();
  }
}

/**
 * The server's models with maps that this project can take: registered here from the server's manifest when new;
 * a model this project has maps of another file of is left out (reported), its maps here kept.
 */
async function pullableModels(project: Project, client: TeamClient, report: TransferReport): Promise<string[]> {
  const models: string[] = [];
  for (const model of await client.call<ServerModel[]>('embeddings.models')) {
    if (model.stored === 0) continue;
    const ours = project.embeddings.modelSha256(model.id);
    if (ours !== undefined && ours !== model.sha256 && project.embeddings.stats(model.id).count > 0) {
      report.mapsLeftOut.push({ modelId: model.id, reason: `this project's maps of ${model.id} were computed by another file of the model; they are kept` });
      continue;
    }
    if (ours !== model.sha256) project.embeddings.registerModel(model.manifest);
    models.push(model.id);
  }
  return models;
}

/**
 * A pulled map (packEmbedding bytes in base64), its search regions and the image's status, in one transaction;
 * a map that does not fit the image (a damaged answer) is refused before anything is written.
 */
function storeMap(project: Project, imageId: number, modelId: string, data: string): void {
  const stored = unpackEmbedding(Buffer.from(data, 'base64'));
  const image = project.images.get(imageId)!;
  const cellBytes = stored.dtype === 'int8' ? 1 : stored.dtype === 'float16' ? 2 : NaN;
  if (stored.bytes.length !== stored.width * stored.height * stored.dim * cellBytes || stored.imageWidth !== image.width || stored.imageHeight !== image.height) {
    throw new ApiError('invalid-input', `the server sent a map of model ${modelId} that does not fit ${image.path} (${image.width}x${image.height}); nothing of it was written`);
  }
  const regions = regionSetOf(stored);
  project.transaction(() => {
    project.embeddings.put(imageId, modelId, stored);
    regionsOf(project).put(imageId, modelId, regions);
    project.images.refreshStatus(imageId);
  });
}

export interface PullOptions {
  /** Fetch the embedding maps too (default); a dataset export that does not carry them leaves them on the server. */
  maps?: boolean;
  /** Only these images (the server's ids); all when absent. */
  only?: ReadonlySet<number>;
}

export async function pull(client: TeamClient, projectFile: string, progress: Progress = () => undefined, { maps = true, only }: PullOptions = {}): Promise<TransferReport> {
  const create = !existsSync(projectFile);
  if (create) mkdirSync(dirname(resolve(projectFile)), { recursive: true });
  const project = new Project(projectFile, { create });
  try {
    const folder = join(project.dir, `${basename(project.path).replace(/\.[^.]+$/, '')}-images`);
    const classIds = new Map<number, number>();
    for (const remote of await client.call<ClassRecord[]>('classes.list')) {
      const local = project.classes.findByName(remote.name) ?? project.classes.create(remote.name, remote.color);
      classIds.set(remote.id, local.id);
    }
    const report: TransferReport = { images: 0, transferred: 0, annotatedImages: 0, keptTheirs: [], classes: classIds.size, maps: 0, mapsLeftOut: [] };
    const models = maps ? await pullableModels(project, client, report) : [];
    for (let offset = 0; ; offset += 500) {
      const page = await client.call<ImagePage>('images.list', { offset, limit: 500 });
      report.images = page.total;
      const onServer = new Map<string, Set<number>>();
      for (const model of models) onServer.set(model, await storedOnServer(client, model, page.items.map((image) => image.id)));
      for (const [index, remote] of page.items.entries()) {
        if (only && !only.has(remote.id)) continue;
        let localId = project.images.findByHash(remote.hash!);
        if (localId === undefined) {
          const { data } = await client.call<{ data: string }>('images.download', { id: remote.id });
          const bytes = Buffer.from(data, 'base64');
          const file = join(folder, ...safeRelative(remote.path, remote.hash!).split('/'));
          if (!file.startsWith(folder + sep)) throw new ApiError('invalid-input', `the server named an image outside the project's folder: ${remote.path}`);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, bytes);
          const described = await describeImage(bytes);
          localId = project.transaction(() => project.images.add({ ...described, path: storedPath(project.dir, file) }));
          report.transferred++;
        }
        const { annotations } = await client.call<VersionedAnnotations>('annotations.get', { imageId: remote.id });
        const wanted = annotations.map((a) => draft(a, a.classId === null ? null : classIds.get(a.classId) ?? null));
        const local = project.annotations.list(localId);
        const same = local.length === wanted.length && local.every((a, i) => a.rle.counts === wanted[i].rle.counts && a.classId === wanted[i].classId);
        if (annotations.length && !same) {
          if (local.length) {
            report.keptTheirs.push({ path: remote.path, reason: 'this project has its own objects on the image' });
          } else {
            const id = localId;
            project.transaction(() => {
              project.annotations.replace(id, wanted);
              project.images.refreshStatus(id);
            });
          }
        }
        if (annotations.length && (same || !local.length)) report.annotatedImages++;
        for (const model of models) {
          if (!onServer.get(model)!.has(remote.id) || project.embeddings.has(localId, model)) continue;
          const map = await client.call<{ data: string } | null>('embeddings.get', { imageId: remote.id, modelId: model });
          if (map) {
            storeMap(project, localId, model, map.data);
            report.maps++;
          }
        }
        progress(offset + index + 1, page.total);
      }
      if (offset + page.items.length >= page.total || page.items.length === 0) break;
    }
    return report;
  } finally {
    project.close();
  }
}
