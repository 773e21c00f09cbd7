/**
 * Datasets and cached embeddings for the search evaluations (retrieval-eval.ts). Embeddings are computed once per
 * (model, dataset, image) with electron/embedding/embedder.ts and cached under .cache/search-eval/ (gitignored) as
 * packEmbedding() bytes, so re-running an evaluation never re-runs the model.
 *
 * Pre-embed a dataset (prints progress):
 *   npx tsx tests/bench/search-eval-data.ts ../shared/data/eval/COCO_MVal pixelwise-colorpos
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { packEmbedding, unpackEmbedding } from '../../core/api/blobs';
import { type StoredEmbedding, dequantize, quantize } from '../../core/embedding';
import type { Mask } from '../../core/mask';
import { Project } from '../../db/project';
import { createEmbedder, decodeImageFile, type Embedder, readManifest } from '../../electron/embedding/embedder';
import { indexImage } from '../../electron/search/indexer';
import { modelFolder, modelSha } from './model-folder';

export interface EvalItem {
  /** File stem, unique within the dataset. */
  stem: string;
  /** COCO_MVal: the name's leading letters ("airplane02_..." -> "airplane"); VOC_coseg: the class folder. */
  category: string;
  imagePath: string;
  maskPath: string;
}

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.bmp']);

/** images/ + masks/ paired by stem; one level of class folders (VOC_coseg) or flat (COCO_MVal). */
export function listDataset(folder: string): EvalItem[] {
  const imagesDir = join(folder, 'images');
  if (!existsSync(imagesDir)) throw new Error(`${folder}: no images/ folder`);
  const items: EvalItem[] = [];
  const visit = (sub: string, category: string | null) => {
    for (const entry of readdirSync(join(imagesDir, sub), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) {
        visit(join(sub, entry.name), entry.name);
        continue;
      }
      if (!imageExtensions.has(extname(entry.name).toLowerCase())) continue;
      const stem = basename(entry.name, extname(entry.name));
      const maskBase = join(folder, 'masks', sub, stem);
      const maskPath = [`${maskBase}.png`, `${maskBase}.bmp`].find((path) => existsSync(path));
      if (!maskPath) throw new Error(`${join(imagesDir, sub, entry.name)}: no mask ${maskBase}.png`);
      items.push({
        stem: sub ? `${sub}/${stem}` : stem, category: category ?? (/^[a-z]+/i.exec(stem)?.[0] ?? stem),
        imagePath: join(imagesDir, sub, entry.name), maskPath,
      });
    }
  };
  visit('', null);
  return items;
}

/** Object = mask value > 128 (the datasets' convention), at the image's resolution. */
export async function readEvalMask(path: string): Promise<Mask> {
  const gray = await decodeImageFile(path);
  const data = new Uint8Array(gray.width * gray.height);
  for (let i = 0; i < data.length; i++) data[i] = gray.data[i * 3] > 128 ? 1 : 0;
  return { width: gray.width, height: gray.height, data };
}

function cachePath(modelId: string, folder: string, stem: string): string {
  return resolve('.cache', 'search-eval', `${modelId}-${modelSha(modelId)}`, basename(resolve(folder)), `${stem}.pwe`);
}

/** Cached embeddings for every item; runs the model (one image at a time) only for the missing ones. */
export async function embedDataset(folder: string, modelId: string, items: EvalItem[], log = false): Promise<StoredEmbedding[]> {
  let embedder: Embedder | null = null;
  const out: StoredEmbedding[] = [];
  const started = performance.now();
  try {
    for (const [index, item] of items.entries()) {
      const path = cachePath(modelId, folder, item.stem);
      if (existsSync(path)) {
        out.push(unpackEmbedding(new Uint8Array(readFileSync(path))));
        continue;
      }
      embedder ??= await createEmbedder(modelFolder(modelId));
      const stored = quantize(await embedder.embed(await decodeImageFile(item.imagePath)));
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, packEmbedding(stored));
      out.push(stored);
      if (log && index % 20 === 0) {
        console.log(`${index + 1}/${items.length} ${((performance.now() - started) / 1000).toFixed(0)} s (${embedder.provider})`);
      }
    }
  } finally {
    await embedder?.close();
  }
  return out;
}

/**
 * A real project file in `dir` holding the items as images (no thumbnails), their embeddings and region index,
 * the way the embedding job leaves a project. Returns the image id of each item, in order.
 */
export async function buildEvalProject(dir: string, modelId: string, items: EvalItem[], maps: StoredEmbedding[]): Promise<{ project: Project; imageIds: number[]; indexMs: number }> {
  const project = new Project(join(dir, 'eval.pixelwise'), { create: true });
  project.embeddings.registerModel(await readManifest(modelFolder(modelId)));
  const imageIds = project.transaction(() => items.map((item, i) => project.images.add({
    // Absolute: the project resolves relative paths against its own folder (a temp dir here).
    path: resolve(item.imagePath), hash: `eval:${item.stem}`, width: maps[i].imageWidth, height: maps[i].imageHeight, byteSize: 0,
    format: 'jpeg', thumbnail: new Uint8Array(0),
  })));
  let indexMs = 0;
  for (const [i, imageId] of imageIds.entries()) {
    project.embeddings.put(imageId, modelId, maps[i]);
    const started = performance.now();
    indexImage(project, imageId, modelId, dequantize(maps[i]));
    indexMs += performance.now() - started;
  }
  return { project, imageIds, indexMs: indexMs / items.length };
}

async function main(): Promise<void> {
  const [folder, modelId = 'pixelwise-colorpos'] = process.argv.slice(2);
  if (!folder) throw new Error('usage: tsx tests/bench/search-eval-data.ts <dataset folder> [model id]');
  const items = listDataset(folder);
  const maps = await embedDataset(folder, modelId, items, true);
  console.log(`${maps.length} embeddings for ${folder} (${modelId}), grid ${maps[0].width}x${maps[0].height}x${maps[0].dim}`);
}

if (process.argv[1] && /search-eval-data\.ts$/.test(process.argv[1])) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
