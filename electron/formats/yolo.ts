/** YOLO segmentation on disk: data.yaml, images/train/*, labels/train/*.txt (Ultralytics layout). */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FormatError } from '../../core/formats/errors';
import type { ParsedDataset } from '../../core/formats/types';
import { parseYoloDataYaml, parseYoloLabels, writeYoloDataYaml, writeYoloLabels } from '../../core/formats/yolo';
import type { Project } from '../../db/project';
import { imageExtensions } from '../embedding/image-io';
import { type ImageRef, type ImportOptions, type KnownImages, type PreparedImport, type ProgressHandler, limitsOf, resolveImages } from './apply';
import { type ExportOptions, type ExportResult, collectDataset, copyImage, prepareOutDir, report } from './collect';
import { displayName, exists, isDirectory, isInside, listFiles, readText, stemOf } from './files';

export interface YoloExportOptions {
  /** Douglas-Peucker tolerance in pixels (default 0.5). */
  tolerance?: number;
}

export async function exportYolo(project: Project, outDir: string, options: ExportOptions & YoloExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  await prepareOutDir(outDir, options.overwrite);
  const { dataset, files, byImage } = collectDataset(project, options.imageIds);
  const classes = [...dataset.classes].sort((a, b) => a.id - b.id);
  const classIndex = new Map(classes.map((c, i) => [c.id, i]));
  const warnings: string[] = [];
  let written = 0, unclassified = 0, holes = 0, split = 0;
  await mkdir(join(outDir, 'labels', 'train'), { recursive: true });
  for (const [index, image] of dataset.images.entries()) {
    report(onProgress, 'writing YOLO labels', index, dataset.images.length);
    const objects = [];
    for (const a of byImage.get(image.id) ?? []) {
      const k = a.classId === null ? undefined : classIndex.get(a.classId);
      if (k === undefined) unclassified++;
      else objects.push({ rle: a.rle, classIndex: k });
    }
    const labels = writeYoloLabels(image.width, image.height, objects, options.tolerance ?? 0.5);
    holes += labels.holesFilled;
    split += labels.split;
    written += objects.length;
    await writeFile(join(outDir, 'labels', 'train', `${stemOf(image.name)}.txt`), labels.text);
    if (options.copyImages !== false) await copyImage(files.get(image.id)!, join(outDir, 'images', 'train', image.name));
  }
  await writeFile(join(outDir, 'data.yaml'), writeYoloDataYaml(classes.map((c) => c.name), 'images/train'));
  if (unclassified) warnings.push(`${unclassified} object(s) without a class were not exported (YOLO lines need a class)`);
  if (holes) warnings.push(`${holes} object(s) had holes, which YOLO cannot hold: they were filled`);
  if (split) warnings.push(`${split} object(s) had several parts: each part became its own line (its own object on re-import)`);
  return { path: outDir, images: dataset.images.length, annotations: written, warnings };
}

/** Where Ultralytics looks for an image's labels: the last /images/ in its path becomes /labels/, extension .txt. */
function labelFileFor(base: string, image: string): string {
  const parts = relative(base, image).split(sep);
  const at = parts.lastIndexOf('images');
  if (at >= 0) parts[at] = 'labels';
  const rel = parts.join(sep);
  return join(base, rel.slice(0, rel.length - extname(rel).length) + '.txt');
}

/** `path`: the data.yaml file, or the folder holding it. Only folders inside the dataset folder are read. */
export async function prepareYolo(known: KnownImages, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<PreparedImport> {
  const yamlFile = (await isDirectory(path)) ? join(path, 'data.yaml') : path;
  const root = dirname(resolve(yamlFile));
  const yamlName = displayName(root, yamlFile);
  const yaml = parseYoloDataYaml(await readText(yamlFile, limitsOf(options).maxTextBytes, yamlName), yamlName);
  const warnings: string[] = [];
  let base = root;
  if (yaml.path && yaml.path !== '.') {
    const candidate = resolve(root, yaml.path);
    if (!isAbsolute(yaml.path) && isInside(root, candidate) && (await isDirectory(candidate))) base = candidate;
    else warnings.push(`${yamlName}: "path: ${yaml.path}" is not a folder inside the dataset; using the folder of data.yaml`);
  }
  const dirs: string[] = [];
  for (const entry of [...(yaml.train ?? []), ...(yaml.val ?? [])]) {
    const dir = resolve(base, entry);
    if (!isInside(root, dir)) warnings.push(`${yamlName}: "${entry}" points outside the dataset folder; skipped`);
    else if (!(await isDirectory(dir))) warnings.push(`${yamlName}: "${entry}" is not a folder (image list files are not supported); skipped`);
    else if (!dirs.includes(dir)) dirs.push(dir);
  }
  if (!dirs.length && (await isDirectory(join(base, 'images')))) dirs.push(join(base, 'images'));
  if (!dirs.length) throw new FormatError(yamlName, 'names no image folder that exists inside the dataset (train/val), and there is no images/ folder');
  const imageFiles = [...new Set((await Promise.all(dirs.map((d) => listFiles(d, imageExtensions)))).flat())];
  const refs: ImageRef[] = imageFiles.map((file) => ({ name: displayName(root, file), file, source: yamlName }));
  const images = await resolveImages(known, refs, options, onProgress);
  const parsed: ParsedDataset = { images: refs, annotations: [], classNames: yaml.names, warnings };
  for (const [index, file] of imageFiles.entries()) {
    report(onProgress, 'reading YOLO labels', index, imageFiles.length);
    const labelFile = labelFileFor(base, file);
    if (!(await exists(labelFile))) continue;
    const name = displayName(root, file);
    const image = images.get(name)!;
    const labels = parseYoloLabels(await readText(labelFile, limitsOf(options).maxTextBytes, displayName(root, labelFile)), displayName(root, labelFile), name, image.width, image.height, yaml.names, limitsOf(options));
    parsed.annotations.push(...labels.annotations);
    warnings.push(...labels.warnings);
  }
  return { parsed, images };
}
