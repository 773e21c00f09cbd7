/** labelme on disk: <stem>.json beside each image (imagePath = the image's file name). */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FormatError } from '../../core/formats/errors';
import { type LabelmeExportOptions, type LabelmeFile, readLabelme, writeLabelme } from '../../core/formats/labelme';
import type { ParsedAnnotation, ParsedDataset } from '../../core/formats/types';
import type { Project } from '../../db/project';
import { type ImageRef, type ImportOptions, type KnownImages, type PreparedImport, type ProgressHandler, limitsOf, resolveImages } from './apply';
import { type ExportOptions, type ExportResult, collectDataset, copyImage, prepareOutDir, report } from './collect';
import { displayName, exists, isDirectory, isInside, listFiles, readText, stemOf } from './files';

export async function exportLabelme(project: Project, outDir: string, options: ExportOptions & LabelmeExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  await prepareOutDir(outDir, options.overwrite);
  const { dataset, files, byImage } = collectDataset(project, options.imageIds);
  const classNames = new Map(dataset.classes.map((c) => [c.id, c.name]));
  const warnings: string[] = [];
  let written = 0, unclassified = 0, filled = 0;
  for (const [index, image] of dataset.images.entries()) {
    report(onProgress, 'writing labelme files', index, dataset.images.length);
    const objects = [];
    for (const a of byImage.get(image.id) ?? []) {
      const label = a.classId === null ? undefined : classNames.get(a.classId);
      if (label === undefined) unclassified++;
      else objects.push({ rle: a.rle, label });
    }
    const { text, holesFilled } = writeLabelme(image.name, image.width, image.height, objects, options);
    filled += holesFilled;
    written += objects.length;
    if (options.copyImages !== false) await copyImage(files.get(image.id)!, join(outDir, image.name));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, `${stemOf(image.name)}.json`), text);
  }
  if (unclassified) warnings.push(`${unclassified} object(s) without a class were not exported (labelme shapes need a label)`);
  if (filled) warnings.push(`${filled} object(s) had holes filled (holes: 'fill')`);
  return { path: outDir, images: dataset.images.length, annotations: written, warnings };
}

/** `path`: a folder searched recursively for labelme .json files, or one .json file. */
export async function prepareLabelme(known: KnownImages, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<PreparedImport> {
  const folder = await isDirectory(path);
  const root = folder ? resolve(path) : dirname(resolve(path));
  const jsonFiles = folder ? await listFiles(root, ['.json']) : [resolve(path)];
  if (!jsonFiles.length) throw new FormatError(path, 'holds no labelme .json files');
  const parsed: ParsedDataset = { images: [], annotations: [], classNames: [], warnings: [] };
  const refs: ImageRef[] = [];
  const read: Array<{ file: LabelmeFile; name: string; source: string; offset: number }> = [];
  const counts = new Map<string, number>();
  for (const [index, json] of jsonFiles.entries()) {
    report(onProgress, 'reading labelme files', index, jsonFiles.length);
    const source = displayName(root, json);
    const file = readLabelme(await readText(json, limitsOf(options).maxTextBytes, source), source, limitsOf(options));
    const imageFile = resolve(dirname(json), ...file.imagePath.split('/'));
    if (!isInside(root, imageFile)) throw new FormatError(source, `imagePath "${file.imagePath}" points outside the dataset folder`);
    const name = displayName(root, imageFile);
    refs.push({ name, file: (await exists(imageFile)) ? imageFile : null, source, width: file.width, height: file.height });
    const offset = counts.get(name) ?? 0;
    counts.set(name, offset + file.count);
    read.push({ file, name, source, offset });
    parsed.warnings.push(...file.warnings);
  }
  parsed.images = refs.map((r) => ({ name: r.name, width: r.width, height: r.height, source: r.source }));
  // Declared sizes are checked against the real images before any shape is drawn at those sizes.
  const images = await resolveImages(known, refs, options, onProgress);
  for (const [index, { file, name, source, offset }] of read.entries()) {
    report(onProgress, 'drawing labelme shapes', index, read.length);
    parsed.annotations.push(...file.objects().map((o): ParsedAnnotation => ({ image: name, className: o.className, rle: o.rle, order: offset + o.order, score: null, source })));
  }
  return { parsed, images };
}
