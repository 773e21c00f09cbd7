/**
 * Moving a project between a file and a team server: `pixelwise push` uploads a local project's images, classes and
 * annotations; `pixelwise pull` makes (or brings up to date) a local project file from a server. Both can be run
 * again after an interruption and carry on: images are matched by content hash (nothing uploaded or downloaded
 * twice), classes by name, and a pushed image's objects are saved with a saveId derived from its hash, so a repeated
 * push replays rather than saving twice. Objects someone already saved on the server are kept and reported, never
 * overwritten. Embeddings are not moved: the server's workers (or `pixelwise embed`) compute them.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { ApiError } from '../../core/api/contract';
import type { AnnotationRecord, ClassRecord, ImagePage, ImageRecord } from '../../core/api/records';
import { resolveStoredPath, storedPath } from '../../db/images';
import { Project } from '../../db/project';
import type { VersionedAnnotations } from '../../db/store';
import { describeImage } from '../jobs/import-job';
import type { TeamClient } from './client';

export interface TransferReport {
  images: number;
  transferred: number;
  annotatedImages: number;
  /** Images whose objects were left as they were because the other side had its own. */
  keptTheirs: Array<{ path: string; reason: string }>;
  classes: number;
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
    const report: TransferReport = { images: images.length, transferred: 0, annotatedImages: 0, keptTheirs: [], classes: classIds.size };
    for (let start = 0; start < images.length; start += 200) {
      const batch = images.slice(start, start + 200);
      const known = await client.call<Record<string, number>>('images.find', { hashes: batch.map((image) => image.hash!) });
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
        progress(start + index + 1, images.length);
      }
    }
    return report;
  } finally {
    project.close();
  }
}

export async function pull(client: TeamClient, projectFile: string, progress: Progress = () => undefined): Promise<TransferReport> {
  const project = new Project(projectFile, { create: !existsSync(projectFile) });
  try {
    const folder = join(project.dir, `${basename(project.path).replace(/\.[^.]+$/, '')}-images`);
    const classIds = new Map<number, number>();
    for (const remote of await client.call<ClassRecord[]>('classes.list')) {
      const local = project.classes.findByName(remote.name) ?? project.classes.create(remote.name, remote.color);
      classIds.set(remote.id, local.id);
    }
    const report: TransferReport = { images: 0, transferred: 0, annotatedImages: 0, keptTheirs: [], classes: classIds.size };
    for (let offset = 0; ; offset += 500) {
      const page = await client.call<ImagePage>('images.list', { offset, limit: 500 });
      report.images = page.total;
      for (const [index, remote] of page.items.entries()) {
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
        progress(offset + index + 1, page.total);
      }
      if (offset + page.items.length >= page.total || page.items.length === 0) break;
    }
    return report;
  } finally {
    project.close();
  }
}
