/** Pascal VOC on disk: JPEGImages/, SegmentationClass/, SegmentationObject/, ImageSets/Segmentation/, labelmap.txt. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../core/formats/errors';
import type { ParsedDataset } from '../../core/formats/types';
import { type VocClassList, type VocExportOptions, parseImageSet, parseVocClassNames, parseVocImage, parseVocLabelmap, writeVocLabelmap, writeVocMasks } from '../../core/formats/voc';
import type { Project } from '../../db/project';
import { imageExtensions, openImage } from '../embedding/image-io';
import { type ImageRef, type ImportOptions, type ImportResult, type ProgressHandler, commitImport, limitsOf, firstExisting, resolveImages } from './apply';
import { type ExportOptions, type ExportResult, collectDataset, prepareOutDir, report } from './collect';
import { describeFileError, displayName, exists, isDirectory, joinInside, listFiles, readLimited, readText, stemOf } from './files';

/** The 20 VOC2012 classes, used when a dataset has no class list. */
export const vocDefaultClasses = ['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
  'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'];

/** JPEGs without an EXIF rotation are copied byte for byte; everything else is re-encoded (rotation applied, quality 95). */
async function writeJpeg(from: string, to: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(from);
  } catch (error) {
    throw new FormatError(to, `could not read the image ${from}: ${describeFileError(error)}`);
  }
  try {
    const pipeline = openImage(bytes);
    const metadata = await pipeline.metadata();
    if (metadata.format === 'jpeg' && (metadata.orientation ?? 1) === 1) await writeFile(to, bytes);
    else await writeFile(to, await pipeline.jpeg({ quality: 95 }).toBuffer());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw new FormatError(to, `could not write the image: ${describeFileError(error)}`);
    throw new FormatError(to, `could not convert ${from} to JPEG (${(error as Error).message.split('\n')[0]})`);
  }
}

export async function exportVoc(project: Project, outDir: string, options: ExportOptions & VocExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  await prepareOutDir(outDir, options.overwrite);
  const { dataset, files, byImage } = collectDataset(project, options.imageIds);
  const classes = [...dataset.classes].sort((a, b) => a.id - b.id);
  if (classes.length > 254) throw new FormatError(outDir, `the project has ${classes.length} classes; VOC holds at most 254`);
  const classIndex = new Map(classes.map((c, i) => [c.id, i + 1]));
  for (const dir of ['JPEGImages', 'SegmentationClass', 'SegmentationObject', join('ImageSets', 'Segmentation')]) await mkdir(join(outDir, dir), { recursive: true });
  const warnings: string[] = [];
  let written = 0, unclassified = 0;
  for (const [index, image] of dataset.images.entries()) {
    report(onProgress, 'writing VOC masks', index, dataset.images.length);
    const objects = (byImage.get(image.id) ?? []).map((a) => ({ rle: a.rle, classIndex: a.classId === null ? 0 : classIndex.get(a.classId) ?? 0 }));
    unclassified += objects.filter((o) => o.classIndex === 0).length;
    const stem = stemOf(image.name);
    const { classPng, objectPng } = writeVocMasks(image.name, image.width, image.height, objects, options);
    await writeFile(join(outDir, 'SegmentationClass', `${stem}.png`), classPng);
    await writeFile(join(outDir, 'SegmentationObject', `${stem}.png`), objectPng);
    if (options.copyImages !== false) await writeJpeg(files.get(image.id)!, join(outDir, 'JPEGImages', `${stem}.jpg`));
    written += objects.length;
  }
  await writeFile(join(outDir, 'ImageSets', 'Segmentation', 'trainval.txt'), dataset.images.map((i) => stemOf(i.name)).join('\n') + '\n');
  await writeFile(join(outDir, 'labelmap.txt'), writeVocLabelmap(classes.map((c) => c.name)));
  if (unclassified) warnings.push(`${unclassified} object(s) without a class are in SegmentationObject only (class 0 in SegmentationClass)`);
  return { path: outDir, images: dataset.images.length, annotations: written, warnings };
}

async function readClassList(root: string, warnings: string[], limit: number): Promise<VocClassList> {
  if (await exists(join(root, 'labelmap.txt'))) return parseVocLabelmap(await readText(join(root, 'labelmap.txt'), limit, 'labelmap.txt'), 'labelmap.txt');
  if (await exists(join(root, 'class_names.txt'))) return parseVocClassNames(await readText(join(root, 'class_names.txt'), limit, 'class_names.txt'), 'class_names.txt', warnings);
  warnings.push('no labelmap.txt or class_names.txt: using the 20 VOC2012 classes');
  return parseVocClassNames(['background', ...vocDefaultClasses].join('\n'), 'VOC2012 classes', warnings);
}

/** Image stems from ImageSets/Segmentation/*.txt, or else from the label PNGs present. */
async function readStems(root: string, limit: number): Promise<string[]> {
  const setsDir = join(root, 'ImageSets', 'Segmentation');
  const lists = (await isDirectory(setsDir)) ? await listFiles(setsDir, ['.txt']) : [];
  const stems: string[] = [];
  for (const list of lists) stems.push(...parseImageSet(await readText(list, limit, displayName(root, list))));
  if (!stems.length) {
    for (const dir of ['SegmentationObject', 'SegmentationClass']) {
      if (await isDirectory(join(root, dir))) stems.push(...(await listFiles(join(root, dir), ['.png'])).map((f) => stemOf(displayName(join(root, dir), f))));
    }
  }
  return [...new Set(stems)];
}

/** `path`: the VOC root (the folder holding JPEGImages/ and SegmentationObject/ or SegmentationClass/). */
export async function importVoc(project: Project, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<ImportResult> {
  const root = path;
  if (!(await isDirectory(join(root, 'SegmentationObject'))) && !(await isDirectory(join(root, 'SegmentationClass')))) {
    throw new FormatError(path, 'is not a VOC dataset folder (no SegmentationObject/ or SegmentationClass/)');
  }
  const warnings: string[] = [];
  const limits = limitsOf(options);
  const classes = await readClassList(root, warnings, limits.maxTextBytes);
  const stems = await readStems(root, limits.maxTextBytes);
  const parsed: ParsedDataset = { images: [], annotations: [], classNames: classes.names, warnings };
  const refs: ImageRef[] = [];
  for (const [index, stem] of stems.entries()) {
    report(onProgress, 'reading VOC masks', index, stems.length);
    const png = async (dir: string) => {
      const file = joinInside(join(root, dir), `${stem}.png`, 'ImageSets/Segmentation');
      const name = `${dir}/${stem}.png`;
      return (await exists(file)) ? { file: name, bytes: await readLimited(file, limits.maxPngBytes, name) } : undefined;
    };
    const objectPng = await png('SegmentationObject'), classPng = await png('SegmentationClass');
    const imageDir = join(root, 'JPEGImages');
    const imageFile = await firstExisting(imageExtensions.map((ext) => ({ root: imageDir, file: joinInside(imageDir, stem + ext, 'ImageSets/Segmentation') })));
    const name = imageFile ? displayName(root, imageFile) : `JPEGImages/${stem}.jpg`;
    if (!objectPng && !classPng) {
      warnings.push(`${stem}: listed but has no segmentation PNG; imported without objects`);
      refs.push({ name, file: imageFile, source: 'ImageSets/Segmentation' });
      continue;
    }
    const result = parseVocImage({ image: name, objectPng, classPng }, classes, limits);
    refs.push({ name, file: imageFile, source: (objectPng ?? classPng)!.file, width: result.width, height: result.height });
    parsed.annotations.push(...result.annotations);
    warnings.push(...result.warnings);
  }
  parsed.images = refs;
  const images = await resolveImages(project, refs, options, onProgress);
  return commitImport(project, parsed, images, options, onProgress);
}
