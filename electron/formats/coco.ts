/** COCO on disk: annotations.json plus images/ beside it. */
import { basename, dirname, join } from 'node:path';
import { type CocoExportOptions, readCoco, writeCoco } from '../../core/formats/coco';
import { FormatError } from '../../core/formats/errors';
import type { Project } from '../../db/project';
import { type ImportOptions, type KnownImages, type PreparedImport, type ProgressHandler, limitsOf, firstExisting, resolveImages } from './apply';
import { type ExportOptions, type ExportResult, collectDataset, copyImage, prepareOutDir, report } from './collect';
import { isDirectory, listFiles, readText, writeFileAtomic } from './files';

export async function exportCoco(project: Project, outDir: string, options: ExportOptions & CocoExportOptions = {}, onProgress?: ProgressHandler): Promise<ExportResult> {
  await prepareOutDir(outDir, options.overwrite);
  const { dataset, files } = collectDataset(project, options.imageIds);
  const { text, warnings } = writeCoco(dataset, options);
  if (options.copyImages !== false) {
    for (const [index, image] of dataset.images.entries()) {
      report(onProgress, 'copying images', index, dataset.images.length);
      await copyImage(files.get(image.id)!, join(outDir, 'images', image.name));
    }
  }
  await writeFileAtomic(join(outDir, 'annotations.json'), text);
  const written = (JSON.parse(text) as { annotations: unknown[] }).annotations.length;
  return { path: outDir, images: dataset.images.length, annotations: written, warnings };
}

/** `path`: the JSON file, or a folder holding annotations.json (or a single annotations/*.json). */
export async function prepareCoco(known: KnownImages, path: string, options: ImportOptions = {}, onProgress?: ProgressHandler): Promise<PreparedImport> {
  let file = path;
  if (await isDirectory(path)) {
    const direct = await firstExisting([{ root: path, file: join(path, 'annotations.json') }]);
    const nested = direct ? [] : (await listFiles(path, ['.json'])).filter((f) => basename(dirname(f)) === 'annotations');
    if (!direct && nested.length !== 1) throw new FormatError(path, 'holds no annotations.json (or more than one annotations/*.json); choose the JSON file');
    file = direct ?? nested[0];
  }
  const name = basename(file);
  const coco = readCoco(await readText(file, limitsOf(options).maxTextBytes, name), name, limitsOf(options));
  const jsonDir = dirname(file);
  // Usual layouts: images/ beside the JSON, or the JSON in annotations/ with images/ beside that folder.
  const roots = [options.imageRoot, join(jsonDir, 'images'), jsonDir, join(dirname(jsonDir), 'images'), dirname(jsonDir)].filter((r): r is string => !!r);
  const refs = [];
  for (const image of coco.images) {
    const found = await firstExisting(roots.map((root) => ({ root, file: join(root, ...image.name.split('/')) })));
    refs.push({ ...image, file: found });
  }
  // Declared sizes are checked against the real images before any polygon is drawn at those sizes.
  const images = await resolveImages(known, refs, options, onProgress);
  const parsed = { images: coco.images, annotations: coco.annotations(), classNames: coco.classNames, warnings: coco.warnings };
  return { parsed, images };
}
