/** Export side: a project's images, classes and objects as plain format records, plus the output folder checks. */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Dataset, DatasetAnnotation } from '../../core/formats/types';
import { FormatError } from '../../core/formats/errors';
import { resolveStoredPath } from '../../db/images';
import type { Project } from '../../db/project';
import type { ProgressHandler } from './apply';
import { describeFileError, exists, exportNames, writeFileAtomic } from './files';

export interface ExportOptions {
  /** Only these images (default: every readable image). */
  imageIds?: number[];
  /** Write into a folder that already holds files (default false: it must be empty or missing). */
  overwrite?: boolean;
  /** Copy (or, for VOC, convert) the image files into the dataset (default true). */
  copyImages?: boolean;
}

export interface ExportResult {
  /** Folder or file written. */
  path: string;
  images: number;
  annotations: number;
  warnings: string[];
}

export interface CollectedDataset {
  dataset: Dataset;
  /** Absolute path of each image's original file, by image id. */
  files: Map<number, string>;
  /** Objects of each image in z-order. */
  byImage: Map<number, DatasetAnnotation[]>;
}

export function collectDataset(project: Project, imageIds?: number[]): CollectedDataset {
  const rows = project.db.prepare('SELECT id, path, width, height, synthetic, source_image_id FROM images WHERE hash IS NOT NULL ORDER BY id')
    .all() as Array<{ id: number; path: string; width: number; height: number; synthetic: number; source_image_id: number | null }>;
  const wanted = imageIds && new Set(imageIds);
  const selected = wanted ? rows.filter((r) => wanted.has(r.id)) : rows;
  const names = exportNames(selected);
  const byImage = new Map<number, DatasetAnnotation[]>();
  const annotations: DatasetAnnotation[] = [];
  for (const row of selected) {
    const list = project.annotations.list(row.id).map((a) => ({ id: a.id, imageId: a.imageId, classId: a.classId, rle: a.rle, order: a.order, score: a.score }));
    byImage.set(row.id, list);
    annotations.push(...list);
  }
  return {
    dataset: {
      images: selected.map((r) => ({
        id: r.id, name: names.get(r.id)!, width: r.width, height: r.height,
        ...(r.synthetic ? { synthetic: { sourceImageId: r.source_image_id } } : {}),
      })),
      classes: project.classes.list(),
      annotations,
    },
    files: new Map(selected.map((r) => [r.id, resolveStoredPath(project.dir, r.path)])),
    byImage,
  };
}

/**
 * Formats with no place for it (VOC, YOLO, labelme) get synthetic.json beside the data: each Augment-made image
 * by its exported name with its source's name (or null when the source is not exported). Nothing when none.
 */
export async function writeSyntheticManifest(outDir: string, dataset: Dataset): Promise<void> {
  const synthetic = dataset.images.filter((image) => image.synthetic);
  if (!synthetic.length) return;
  const names = new Map(dataset.images.map((image) => [image.id, image.name]));
  const entries = synthetic.map((image) => ({ image: image.name, source: names.get(image.synthetic!.sourceImageId ?? -1) ?? null }));
  await writeFileAtomic(join(outDir, 'synthetic.json'), `${JSON.stringify({ synthetic: entries }, null, 2)}\n`);
}

export async function prepareOutDir(outDir: string, overwrite = false): Promise<void> {
  if ((await exists(outDir)) && !overwrite && (await readdir(outDir)).length > 0) {
    throw new FormatError(outDir, 'is not empty; choose an empty folder or allow overwriting');
  }
  await mkdir(outDir, { recursive: true });
}

/** Copies an image; a failed copy fails the export (a dataset missing images is not a success; F11). */
export async function copyImage(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await copyFile(from, to);
  } catch (error) {
    throw new FormatError(to, `could not copy the image from ${from}: ${describeFileError(error)}`);
  }
}

export function report(onProgress: ProgressHandler | undefined, stage: string, done: number, total: number): void {
  onProgress?.({ stage, done, total });
}
