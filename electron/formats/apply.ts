/**
 * The common end of every importer: match the dataset's images to the project's, check every mask against its
 * image, then write new images, classes and objects in ONE transaction. New images are read (hash, size,
 * thumbnail: sharp, async) before the transaction and inserted inside it, so an import applies fully or not at
 * all. A caller may instead pass its own `addImage`, which inserts on its own; images added that way before a
 * failure are removed again.
 */
import type { AnnotationDraft } from '../../core/api/records';
import { type FormatLimits, FormatError, defaultLimits } from '../../core/formats/errors';
import type { ParsedAnnotation, ParsedDataset } from '../../core/formats/types';
import { resolveStoredPath, storedPath } from '../../db/images';
import type { Project } from '../../db/project';
import { type ImportedFile, readImageFile } from '../jobs/import-job';
import { type ImageFacts, exists, imageFacts, isInside } from './files';

export type ProgressHandler = (progress: { stage: string; done: number; total: number }) => void;

export interface ImportOptions {
  /**
   * Adds an image file to the project and returns its id. Optional: by default new images are read with the
   * image import's `readImageFile` and inserted inside the import's transaction (true all-or-nothing).
   */
  addImage?: (absPath: string) => Promise<number>;
  /** Replace the objects already on matched images instead of appending after them (default false). */
  replace?: boolean;
  /** Classes the project lacks: 'create' them (default) or fail with a FormatError. */
  unknownClasses?: 'create' | 'error';
  /** Folder(s) to look for images in, before the format's usual places. */
  imageRoot?: string;
  /** Largest image file read to check its size and hash (bytes; default 1 GiB). */
  maxImageBytes?: number;
  /** Overrides of the size limits for dataset files (JSON/text, PNG, pixels). */
  limits?: Partial<FormatLimits>;
}

export function limitsOf(options: ImportOptions): FormatLimits {
  return { ...defaultLimits, ...options.limits };
}

export interface ImportResult {
  /** Images that received objects or were added. */
  images: number;
  /** Objects written. */
  annotations: number;
  /** Classes created. */
  classes: number;
  /** Images added to the project. */
  addedImages: number;
  warnings: string[];
}

/** An image the dataset references, located on disk (or not). */
export interface ImageRef {
  name: string;
  /** Existing file for the image, or null when none was found in the dataset. */
  file: string | null;
  /** Where the reference was read, for messages. */
  source: string;
  width?: number;
  height?: number;
}

export interface ResolvedImage {
  name: string;
  file: string | null;
  projectId: number | null;
  width: number;
  height: number;
  /** sha256 of the file, when it was read. */
  hash?: string;
}

/**
 * What an import needs to know of the project's images, as a plain record: a worker thread reads and matches a
 * dataset against it while the main thread keeps answering, and only the write (commitImport) needs the project.
 */
export interface KnownImages {
  /** The project's folder (stored image paths are relative to it). */
  dir: string;
  rows: Array<{ id: number; path: string; width: number; height: number; hash: string }>;
}

export function knownImages(project: Project): KnownImages {
  return { dir: project.dir, rows: project.db.prepare('SELECT id, path, width, height, hash FROM images WHERE hash IS NOT NULL').all() as KnownImages['rows'] };
}

/** A dataset read, checked and matched against the project's images: what commitImport writes. */
export interface PreparedImport {
  parsed: ParsedDataset;
  images: Map<string, ResolvedImage>;
}

/**
 * Finds each referenced image in the project: same file, then same content (sha256), then — when the dataset
 * has no file for it — a unique project image of the same file name. Unmatched files are to be added.
 */
export async function resolveImages(known: KnownImages, refs: ImageRef[], options: ImportOptions, onProgress?: ProgressHandler): Promise<Map<string, ResolvedImage>> {
  const { rows } = known;
  const byFile = new Map(rows.map((r) => [resolveStoredPath(known.dir, r.path), r]));
  const byHash = new Map(rows.map((r) => [r.hash, r]));
  const byName = new Map<string, typeof rows[number] | null>();
  for (const r of rows) {
    const name = r.path.split('/').pop()!.toLowerCase();
    byName.set(name, byName.has(name) ? null : r);
  }
  const resolved = new Map<string, ResolvedImage>();
  let done = 0;
  for (const ref of refs) {
    onProgress?.({ stage: 'matching images', done: done++, total: refs.length });
    if (resolved.has(ref.name)) continue;
    let row = ref.file ? byFile.get(ref.file) : undefined;
    let facts: ImageFacts | undefined;
    if (!row && ref.file) {
      facts = await imageFacts(ref.file, ref.name, options.maxImageBytes ?? 1024 ** 3);
      row = byHash.get(facts.hash);
    }
    if (!row && !ref.file) {
      row = byName.get(ref.name.split('/').pop()!.toLowerCase()) ?? undefined;
      if (!row) throw new FormatError(ref.source, `image "${ref.name}" is neither in the dataset folder nor in the project`);
    }
    const width = row?.width ?? facts!.width, height = row?.height ?? facts!.height;
    if ((ref.width !== undefined && ref.width !== width) || (ref.height !== undefined && ref.height !== height)) {
      throw new FormatError(ref.source, `says image "${ref.name}" is ${ref.width}x${ref.height}, but the image is ${width}x${height}`);
    }
    resolved.set(ref.name, { name: ref.name, file: ref.file, projectId: row?.id ?? null, width, height, hash: facts?.hash });
  }
  return resolved;
}

/** What the write step needs once everything is validated. */
interface Plan {
  project: Project;
  parsed: ParsedDataset;
  images: Map<string, ResolvedImage>;
  byImage: Map<string, ParsedAnnotation[]>;
  /** Class names by lower-case name. */
  names: Map<string, string>;
  toAdd: ResolvedImage[];
  options: ImportOptions;
  /** Polled between steps up to the transaction; once it is true the import stops with ImportCancelled. */
  cancelled?: () => boolean;
}

/** An import stopped on request before it wrote anything. */
export class ImportCancelled extends Error {
  override name = 'ImportCancelled';
  constructor() {
    super('the import was cancelled; nothing was changed');
  }
}

export function stopIfCancelled(cancelled?: () => boolean): void {
  if (cancelled?.()) throw new ImportCancelled();
}

/** Validates every mask and class, then adds new images and writes classes and objects (see the file comment). */
export async function commitImport(project: Project, parsed: ParsedDataset, images: Map<string, ResolvedImage>, options: ImportOptions, onProgress?: ProgressHandler, cancelled?: () => boolean): Promise<ImportResult> {
  const byImage = new Map<string, ParsedAnnotation[]>();
  for (const a of parsed.annotations) {
    const image = images.get(a.image);
    if (!image) throw new FormatError(a.source, `refers to image "${a.image}", which the dataset does not list`);
    const [height, width] = a.rle.size;
    if (width !== image.width || height !== image.height) {
      throw new FormatError(a.source, `mask for "${a.image}" is ${width}x${height}, but the image is ${image.width}x${image.height}`);
    }
    const list = byImage.get(a.image);
    if (list) list.push(a);
    else byImage.set(a.image, [a]);
  }
  const names = new Map<string, string>();
  for (const name of [...parsed.classNames, ...parsed.annotations.map((a) => a.className)]) {
    if (name !== null && !names.has(name.toLowerCase())) names.set(name.toLowerCase(), name);
  }
  const missing = [...names.values()].filter((n) => !project.classes.findByName(n));
  if (missing.length && options.unknownClasses === 'error') {
    throw new FormatError(parsed.annotations[0]?.source ?? 'dataset', `uses classes the project does not have: ${missing.slice(0, 10).join(', ')}`);
  }
  const plan: Plan = { project, parsed, images, byImage, names, toAdd: [...images.values()].filter((i) => i.projectId === null), options, cancelled };
  try {
    return options.addImage ? await commitThroughCallback(plan, onProgress) : await commitInOneTransaction(plan, onProgress);
  } catch (error) {
    if (error instanceof FormatError || error instanceof ImportCancelled) throw error;
    throw new FormatError('dataset', `import failed and nothing was changed: ${(error as Error).message}`);
  }
}

/** Default: new images are read first, then inserted with the classes and objects in one transaction. */
async function commitInOneTransaction(plan: Plan, onProgress?: ProgressHandler): Promise<ImportResult> {
  const { project, toAdd } = plan;
  const files: ImportedFile[] = [];
  for (const [index, image] of toAdd.entries()) {
    stopIfCancelled(plan.cancelled);
    onProgress?.({ stage: 'reading new images', done: index, total: toAdd.length });
    files.push(await readImageFile(image.file!).catch((error: Error) => { throw new FormatError(image.file!, `cannot be added: ${error.message}`); }));
  }
  stopIfCancelled(plan.cancelled);
  onProgress?.({ stage: 'writing', done: 0, total: plan.byImage.size });
  let addedImages = 0;
  try {
    const result = project.transaction(() => {
      toAdd.forEach((image, i) => {
        const existing = project.images.findByHash(files[i].hash); // the same content twice in one dataset
        if (existing === undefined) addedImages++;
        image.projectId = existing ?? project.images.add({ path: storedPath(project.dir, image.file!), ...files[i] });
      });
      return write(plan);
    });
    return summary(plan, result, addedImages);
  } catch (error) {
    for (const image of toAdd) image.projectId = null;
    throw error;
  }
}

/** With the caller's addImage: images are added one by one first, and removed again if anything fails later. */
async function commitThroughCallback(plan: Plan, onProgress?: ProgressHandler): Promise<ImportResult> {
  const { project, toAdd } = plan;
  const added: number[] = [];
  try {
    for (const [index, image] of toAdd.entries()) {
      onProgress?.({ stage: 'adding images', done: index, total: toAdd.length });
      const before = image.hash === undefined ? undefined : project.images.findByHash(image.hash);
      const id = await plan.options.addImage!(image.file!);
      if (!project.images.get(id)?.hash) throw new FormatError(image.file!, 'could not be added to the project');
      if (before === undefined) added.push(id);
      image.projectId = id;
    }
    onProgress?.({ stage: 'writing', done: 0, total: plan.byImage.size });
    return summary(plan, project.transaction(() => write(plan)), added.length);
  } catch (error) {
    if (added.length) project.transaction(() => project.images.remove(added));
    throw error;
  }
}

function summary(plan: Plan, result: ReturnType<typeof write>, addedImages: number): ImportResult {
  const touched = new Set([...result.imageIds, ...plan.toAdd.map((i) => i.projectId!)]);
  const warnings = [...plan.parsed.warnings];
  if (result.duplicates > 0) warnings.push(`${result.duplicates} object(s) were already in the project (same image, class and mask) and were not added again`);
  return { images: touched.size, annotations: result.annotations, classes: result.classes, addedImages, warnings };
}

/**
 * Writes classes and objects. When appending, an object identical to one the image already has (same class, same
 * mask) is skipped, so importing a dataset exported from this project again adds nothing twice.
 */
function write({ project, parsed, images, byImage, names, options }: Plan): { imageIds: number[]; annotations: number; classes: number; duplicates: number } {
  let created = 0, written = 0, duplicates = 0;
  const classIds = new Map<string, number>();
  for (const [key, name] of names) {
    const existing = project.classes.findByName(name);
    if (!existing) created++;
    classIds.set(key, existing?.id ?? project.classes.create(name, parsed.classColors?.[name]).id);
  }
  const touched = new Set<number>();
  for (const [name, annotations] of byImage) {
    const imageId = images.get(name)!.projectId!;
    touched.add(imageId);
    const drafts: AnnotationDraft[] = [...annotations].sort((a, b) => a.order - b.order).map((a) => ({
      classId: a.className === null ? null : classIds.get(a.className.toLowerCase())!,
      rle: a.rle, score: a.score, source: 'import' as const,
    }));
    if (options.replace) {
      project.annotations.replace(imageId, drafts);
      written += drafts.length;
    } else {
      const key = (draft: { classId: number | null; rle: AnnotationDraft['rle'] }) => `${draft.classId}:${draft.rle.counts}`;
      const present = new Set(project.annotations.list(imageId).map(key));
      for (const draft of drafts) {
        if (present.has(key(draft))) {
          duplicates++;
          continue;
        }
        project.annotations.add(imageId, draft);
        written++;
      }
    }
    project.images.refreshStatus(imageId);
  }
  return { imageIds: [...touched], annotations: written, classes: created, duplicates };
}

/** First existing file among `candidates` that lies inside its root. */
export async function firstExisting(candidates: Array<{ root: string; file: string }>): Promise<string | null> {
  for (const { root, file } of candidates) if (isInside(root, file) && (await exists(file))) return file;
  return null;
}
