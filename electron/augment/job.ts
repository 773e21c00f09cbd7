/**
 * The augment job: for each selected annotated image, N variants made by editing its stored embedding map inside
 * every object (core/augment/edits.ts), decoding it (electron/augment/decoder.ts) and putting the change into the
 * photo (core/augment/compose.ts). Each variant is one PNG under <project folder>/augmented/ plus one transaction
 * (image row marked synthetic, linked to its source and to this job, and copies of the source's objects): a
 * cancel or a crash between variants leaves only whole variants, and a run stopped by a crash or a kill resumes on
 * the next open with the variants it had not committed. Masks stay exact, since pixels change only
 * inside them. `undoAugment` removes everything one job made.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { type AugmentEdit, editMap, type MapObject, mapObject } from '../../core/augment/edits';
import { composeEdit, innerFeather } from '../../core/augment/compose';
import { ApiError } from '../../core/api/contract';
import { dequantize, type EmbeddingMap } from '../../core/embedding';
import type { RgbImage } from '../../core/image';
import type { Mask } from '../../core/mask';
import type { ModelManifest } from '../../core/manifest';
import { seededRandom } from '../../core/random';
import { decodeRle } from '../../core/rle';
import type { AnnotationRecord } from '../../core/api/records';
import { resolveStoredPath, storedPath } from '../../db/images';
import type { Project } from '../../db/project';
import { decodeImageFile } from '../embedding/image-io';
import { readImageFile } from '../jobs/import-job';
import type { JobContext } from '../jobs/runner';
import { createMapDecoder, findDecoder, type MapDecoder } from './decoder';

export interface AugmentPayload {
  imageIds: number[];
  variants: number;
  edit: AugmentEdit;
  strength: number;
  seed: number;
  modelId: string;
}

export interface AugmentResult {
  created: number;
  imageIds: number[];
  skipped: Array<{ imageId: number; reason: string }>;
  /** The skips as sentences (what the studio's job dialogs list). */
  warnings: string[];
}

export interface AugmentDependencies {
  model: (id: string) => { manifest: ModelManifest };
  /** Where decoders are looked for (default: the built-in ones). */
  decodersDir?: string;
  /** Called with the new images once the job ends (the studio queues their embeddings). */
  afterCreate?: (imageIds: number[]) => void;
}

/** Inner feather of the compositing alpha, in pixels. */
const featherPixels = 3;

export interface Source<Tag = AnnotationRecord> {
  map: EmbeddingMap;
  image: RgbImage;
  objects: Array<{ annotation: Tag; object: MapObject; alpha: Float32Array }>;
}

/** A variant's source: the stored map, the photo and its objects' masks (tagged, e.g. with their annotation); objects on no map cell are left out. */
export function augmentSource<Tag>(map: EmbeddingMap, image: RgbImage, masks: Array<{ tag: Tag; mask: Mask }>): Source<Tag> {
  const objects = masks.map(({ tag, mask }) => ({ annotation: tag, object: mapObject(map, mask), alpha: innerFeather(mask, featherPixels) }))
    .filter(({ object }) => object.box[2] > object.box[0]);
  return { map, image, objects };
}

/** Why an image cannot be augmented, in the labeler's words; null when it can. */
function unusable(project: Project, imageId: number, modelId: string): string | null {
  const image = project.images.get(imageId);
  if (!image) return 'the image is no longer in the project';
  if (!image.hash) return 'the image could not be read when it was imported';
  if (image.annotationCount === 0) return 'the image has no objects to edit';
  if (!project.embeddings.has(imageId, modelId)) return 'the image has no embedding yet (compute embeddings first)';
  return null;
}

async function loadSource(project: Project, imageId: number, modelId: string): Promise<Source> {
  const record = project.images.get(imageId)!;
  const map = dequantize(project.embeddings.get(imageId, modelId)!);
  const image = await decodeImageFile(resolveStoredPath(project.dir, record.path));
  if (image.width !== map.imageWidth || image.height !== map.imageHeight) {
    throw new Error(`the image file is ${image.width}x${image.height} but its embedding covers ${map.imageWidth}x${map.imageHeight}; compute its embedding again`);
  }
  return augmentSource(map, image, project.annotations.list(imageId).filter((a) => a.visible).map((annotation) => ({ tag: annotation, mask: decodeRle(annotation.rle) })));
}

/** One variant: every object edited in turn (donors: the image's other objects, else `fallbackDonor`). */
export async function makeVariant<Tag>(source: Source<Tag>, decoder: MapDecoder, original: RgbImage, edit: AugmentEdit, strength: number,
  random: () => number, fallbackDonor: MapObject | null): Promise<RgbImage> {
  let map = source.map;
  const alpha = new Float32Array(source.image.width * source.image.height);
  for (const [index, { object, alpha: own }] of source.objects.entries()) {
    let donor: MapObject | undefined;
    if (edit !== 'jitter') {
      const others = source.objects.filter((_, i) => i !== index);
      donor = others.length ? others[Math.floor(random() * others.length)].object : fallbackDonor ?? undefined;
      if (!donor) throw new Error(`${edit} needs a second object: this image has one, and no other selected image has any`);
    }
    // Edits apply one after another on the same map; each object's weights come from the source map.
    map = editMap(edit, { ...object, map }, strength, random, donor).map;
    for (let i = 0; i < alpha.length; i++) alpha[i] = Math.max(alpha[i], own[i]);
  }
  return composeEdit(source.image, original, await decoder.decode(map), alpha);
}

export function augmentHandler(deps: AugmentDependencies) {
  return async ({ project, job, cancelled, progress }: JobContext): Promise<void> => {
    const { imageIds, variants, edit, strength, seed, modelId } = job.payload as AugmentPayload;
    const embedder = deps.model(modelId).manifest;
    const total = imageIds.length * variants;
    const result: AugmentResult = { created: 0, imageIds: [], skipped: [], warnings: [] };
    const folder = join(project.dir, 'augmented');
    // A run stopped by a crash or a kill resumes: the variants it committed are kept (and counted), the files it
    // left without a row are removed, and the rest is made as the first run would have (variants are seeded).
    const before = await committedVariants(project, job.id, folder, edit);
    for (const { id } of before.values()) result.imageIds.push(id);
    let done = (result.created = before.size), failed = 0;
    const remainingOf = (imageId: number) => Array.from({ length: variants }, (_, variant) => variant).filter((variant) => !before.has(`${imageId}:${variant + 1}`));
    progress(total, done, failed);
    const usable = imageIds.filter((id) => {
      const reason = unusable(project, id, modelId);
      if (reason) {
        result.skipped.push({ imageId: id, reason });
        failed += remainingOf(id).length;
      }
      return !reason;
    });
    progress(total, done, failed);
    const decoder = usable.length ? await createMapDecoder(await findDecoder(embedder, deps.decodersDir), embedder) : null;
    try {
      let fallbackDonor: MapObject | null = null;
      for (const imageId of usable) {
        if (cancelled()) return;
        const remaining = remainingOf(imageId);
        // Done before the restart; the first usable image is still read, as the donor of later one-object images.
        if (!remaining.length && fallbackDonor) continue;
        let source: Source;
        try {
          source = await loadSource(project, imageId, modelId);
          if (!source.objects.length) throw new Error('its objects cover no cell of the embedding map');
        } catch (error) {
          result.skipped.push({ imageId, reason: (error as Error).message });
          progress(total, done, (failed += remaining.length));
          continue;
        }
        if (!remaining.length) {
          fallbackDonor = source.objects[0].object;
          continue;
        }
        const original = await decoder!.decode(source.map);
        const stem = basename(project.images.get(imageId)!.path, extname(project.images.get(imageId)!.path));
        for (const variant of remaining) {
          if (cancelled()) return;
          const random = seededRandom(seed * 1_000_003 + imageId * 1009 + variant);
          let made: RgbImage;
          try {
            made = await makeVariant(source, decoder!, original, edit, strength, random, fallbackDonor);
          } catch (error) {
            result.skipped.push({ imageId, reason: (error as Error).message });
            progress(total, done, (failed += remaining.length - remaining.indexOf(variant)));
            break;
          }
          await mkdir(folder, { recursive: true });
          // The source's id in the name: two sources of one file name (from two folders) must not share their variants' files.
          const file = join(folder, `${stem}-i${imageId}-${edit}-job${job.id}-${variant + 1}.png`);
          const partial = `${file}.partial`;
          await writeFile(partial, await sharp(made.data, { raw: { width: made.width, height: made.height, channels: 3 } }).png().toBuffer());
          await rename(partial, file);
          const facts = await readImageFile(file);
          if (!project.db.open) return;
          if (project.images.findByHash(facts.hash) !== undefined) {
            await rm(file, { force: true }); // identical pixels to an image already in the project (strength 0)
            result.skipped.push({ imageId, reason: 'a variant came out identical to an image already in the project (strength 0?)' });
            progress(total, done, ++failed);
            continue;
          }
          try {
            const id = project.transaction(() => {
              const added = project.images.add({ path: storedPath(project.dir, file), ...facts, synthetic: { sourceImageId: imageId, jobId: job.id } });
              for (const { annotation } of source.objects) {
                project.annotations.add(added, { classId: annotation.classId, rle: annotation.rle, score: annotation.score, visible: true, source: annotation.source });
              }
              project.images.refreshStatus(added);
              progress(total, ++done, failed);
              return added;
            });
            result.imageIds.push(id);
            result.created++;
          } catch (error) {
            await rm(file, { force: true }); // the row never existed: no file without its row
            throw error;
          }
        }
        fallbackDonor ??= source.objects[0].object;
      }
    } finally {
      await decoder?.close();
      if (project.db.open) {
        result.warnings = result.skipped.map(({ imageId, reason }) => `${project.images.get(imageId)?.fileName ?? `image ${imageId}`}: ${reason}`);
        project.jobs.setResult(job.id, result);
        if (result.imageIds.length) deps.afterCreate?.(result.imageIds);
      }
    }
  };
}

/**
 * What an earlier run of augment job `jobId` committed, by `${sourceImageId}:${variant}` (from the file names it
 * writes, `<stem>-i<source>-<edit>-job<id>-<variant>.png`); its files that have no row (a kill between the file and its transaction,
 * or a `.partial` write) are removed, so every file in the folder keeps its row.
 */
async function committedVariants(project: Project, jobId: number, folder: string, edit: AugmentEdit): Promise<Map<string, { id: number }>> {
  const committed = new Map<string, { id: number }>();
  const rows = new Set<string>();
  for (const { id, path } of project.images.madeByAugment(jobId)) {
    const variant = new RegExp(`-job${jobId}-(\\d+)\\.png$`).exec(path)?.[1];
    const source = project.images.get(id)?.sourceImageId;
    if (variant && source) committed.set(`${source}:${Number(variant)}`, { id });
    rows.add(basename(path));
  }
  const ours = new RegExp(`-${edit}-job${jobId}-\\d+\\.png(\\.partial)?$`);
  const files = existsSync(folder) ? await readdir(folder) : [];
  for (const file of files) if (ours.test(file) && !rows.has(file)) await rm(join(folder, file), { force: true });
  return committed;
}

/** Removes every image (with its objects, embedding and file) that augment job `jobId` made; returns how many. */
export async function undoAugment(project: Project, jobId: number): Promise<number> {
  const job = project.jobs.get(jobId);
  if (!job || job.kind !== 'augment') throw new ApiError('not-found', `no augment job ${jobId} in this project`);
  if (job.status === 'queued' || job.status === 'running') throw new ApiError('conflict', 'the augment job is still running; cancel it first');
  const made = project.images.madeByAugment(jobId);
  project.transaction(() => project.images.remove(made.map((image) => image.id)));
  for (const image of made) await rm(resolveStoredPath(project.dir, image.path), { force: true });
  return made.length;
}
