/** Pascal VOC on disk: JPEGImages/, SegmentationClass/, SegmentationObject/, ImageSets/Segmentation/, labelmap.txt. */
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../core/formats/errors';
import { pngSize } from '../../core/formats/png-header';
import type { ParsedDataset } from '../../core/formats/types';
import { type VocClassList, type VocExportOptions, parseImageSet, parseVocClassNames, parseVocImage, parseVocLabelmap, writeVocLabelmap, writeVocMasks } from '../../core/formats/voc';
import type { Project } from '../../db/project';
import { imageExtensions, openImage } from '../embedding/image-io';
import { type ImageRef, type ImportOptions, type KnownImages, type PreparedImport, type ProgressHandler, limitsOf, firstExisting, resolveImages } from './apply';
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

function failNotPng(name: string): never {
  throw new FormatError(name, 'is not a PNG file (no PNG header)');
}

/** First bytes of a file (a PNG's header), without reading the rest. */
async function readHead(path: string, bytes: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** `path`: the VOC root (the folder holding JPEGImages/ and SegmentationObject/ or SegmentationClass/). */
export async function prepareVoc(known: KnownImages, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<PreparedImport> {
  const root = path;
  if (!(await isDirectory(join(root, 'SegmentationObject'))) && !(await isDirectory(join(root, 'SegmentationClass')))) {
    throw new FormatError(path, 'is not a VOC dataset folder (no SegmentationObject/ or SegmentationClass/)');
  }
  const warnings: string[] = [];
  const limits = limitsOf(options);
  const classes = await readClassList(root, warnings, limits.maxTextBytes);
  const stems = await readStems(root, limits.maxTextBytes);
  const parsed: ParsedDataset = { images: [], annotations: [], classNames: classes.names, warnings };
  // First every label PNG's size from its header, checked against the photos; only then are the PNGs decoded.
  const refs: ImageRef[] = [];
  const labels: Array<{ name: string; pngs: Array<{ dir: string; file: string; name: string }> }> = [];
  for (const [index, stem] of stems.entries()) {
    report(onProgress, 'finding VOC masks', index, stems.length);
    const pngs = [];
    for (const dir of ['SegmentationObject', 'SegmentationClass']) {
      const file = joinInside(join(root, dir), `${stem}.png`, 'ImageSets/Segmentation');
      if (await exists(file)) pngs.push({ dir, file, name: `${dir}/${stem}.png` });
    }
    const imageDir = join(root, 'JPEGImages');
    const imageFile = await firstExisting(imageExtensions.map((ext) => ({ root: imageDir, file: joinInside(imageDir, stem + ext, 'ImageSets/Segmentation') })));
    const name = imageFile ? displayName(root, imageFile) : `JPEGImages/${stem}.jpg`;
    if (!pngs.length) {
      warnings.push(`${stem}: listed but has no segmentation PNG; imported without objects`);
      refs.push({ name, file: imageFile, source: 'ImageSets/Segmentation' });
      continue;
    }
    const sizes = await Promise.all(pngs.map(async (png) => pngSize(await readHead(png.file, 24)) ?? failNotPng(png.name)));
    if (sizes.length === 2 && (sizes[0].width !== sizes[1].width || sizes[0].height !== sizes[1].height)) {
      throw new FormatError(pngs[1].name, `is ${sizes[1].width}x${sizes[1].height} but ${pngs[0].name} is ${sizes[0].width}x${sizes[0].height}`);
    }
    refs.push({ name, file: imageFile, source: pngs[0].name, ...sizes[0] });
    labels.push({ name, pngs });
  }
  parsed.images = refs;
  const images = await resolveImages(known, refs, options, onProgress);
  for (const [index, { name, pngs }] of labels.entries()) {
    report(onProgress, 'reading VOC masks', index, labels.length);
    const read = async (dir: string) => {
      const png = pngs.find((p) => p.dir === dir);
      return png && { file: png.name, bytes: await readLimited(png.file, limits.maxPngBytes, png.name) };
    };
    const result = parseVocImage({ image: name, objectPng: await read('SegmentationObject'), classPng: await read('SegmentationClass') }, classes, limits);
    parsed.annotations.push(...result.annotations);
    warnings.push(...result.warnings);
  }
  return { parsed, images };
}
