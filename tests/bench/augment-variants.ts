/**
 * Augment's variants of a training folder, written as a dataset folder of the same layout (for the "does augmentation
 * help?" experiment, models/experiments/augment-helps): each image's stored map (int8, as the studio stores it) is
 * edited inside its objects and decoded by the studio's own code (electron/augment/job.ts makeVariant, the built-in
 * decoder); a variant carries its source's masks unchanged (pixels change only inside them).
 *
 *   npx tsx tests/bench/augment-variants.ts --dataset ../shared/data/train/VOC_coseg --out .cache/augment-helps/VOC_coseg-aug \
 *       [--variants 2] [--edits jitter,swap] [--strength 0.7] [--seed 1] [--holdout-every 10] [--limit N]
 *
 * The objects are eval-clicks.ts's: images/ + masks/ (one object), or a panoptic folder's two largest things.
 * Variant k of an image uses edit k of --edits (cycling); swap/interpolate take a donor from the image's other
 * objects, else the previous image's first object (none for the first image: that variant is left out). `--holdout-every K` leaves out every image holding an object that
 * models/pwtrain/clickstep.py holds out of the source folder's dump (every K-th object in dump order), so no variant
 * of a held-out object is trained on. Train/ folders only: it refuses eval/.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { type AugmentEdit, augmentEdits, type MapObject } from '../../core/augment/edits';
import { dequantize, quantize } from '../../core/embedding';
import type { Mask } from '../../core/mask';
import { seededRandom } from '../../core/random';
import { augmentSource, makeVariant } from '../../electron/augment/job';
import { createMapDecoder, findDecoder } from '../../electron/augment/decoder';
import { createEmbedder, decodeImageFile, type Embedder, readManifest } from '../../electron/embedding/embedder';
import { cachedEmbedding, embeddingCachePath } from './embedding-cache';
import { modelFolder } from './model-folder';
import { listPanoptic } from './panoptic-targets';
import { listDataset, readEvalMask } from './search-eval-data';

interface Arguments {
  dataset: string;
  out: string;
  model: string;
  variants: number;
  edits: AugmentEdit[];
  strength: number;
  seed: number;
  holdoutEvery: number;
  limit: number;
}

function parseArguments(argv: string[]): Arguments {
  const args: Arguments = { dataset: '', out: '', model: 'pixelwise-unet-s', variants: 2, edits: ['jitter'], strength: 0.7, seed: 1, holdoutEvery: 0, limit: Infinity };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--dataset') args.dataset = value;
    else if (flag === '--out') args.out = value;
    else if (flag === '--model') args.model = value;
    else if (flag === '--variants') args.variants = Number(value);
    else if (flag === '--edits') args.edits = value.split(',') as AugmentEdit[];
    else if (flag === '--strength') args.strength = Number(value);
    else if (flag === '--seed') args.seed = Number(value);
    else if (flag === '--holdout-every') args.holdoutEvery = Number(value);
    else if (flag === '--limit') args.limit = Number(value);
    else throw new Error(`unknown argument ${flag}`);
  }
  if (!args.dataset || !args.out) throw new Error('--dataset <train folder> and --out <folder> are required');
  if (resolve(args.dataset).split('/').includes('eval')) throw new Error('variants are training data: never from an eval/ folder');
  if (!args.edits.every((edit) => augmentEdits.includes(edit))) throw new Error(`--edits takes ${augmentEdits.join(', ')}`);
  if (!(Number.isInteger(args.variants) && args.variants >= 1)) throw new Error('--variants takes a whole number from 1');
  if (!(args.strength >= 0 && args.strength <= 2)) throw new Error('--strength takes a number from 0 to 2');
  return args;
}

/** One source image: where its image is, its object masks, and how to write a variant's masks under `out`. */
interface Sample {
  stem: string;
  imagePath: string;
  masks(): Promise<Mask[]>;
  writeMasks(out: string, stem: string): void;
}

function listSamples(dataset: string, manifest: Array<{ stem: string }>): Sample[] {
  if (existsSync(join(dataset, 'segments.json'))) {
    const entries = (JSON.parse(readFileSync(join(dataset, 'segments.json'), 'utf8')) as { images: Array<{ stem: string }> }).images;
    return listPanoptic(dataset).map((sample, index) => ({
      stem: sample.stem, imagePath: sample.imagePath,
      masks: async () => (await sample.targets()).map((target) => ({ width: target.width, height: target.height, data: target.object })),
      writeMasks: (out, stem) => {
        copyFileSync(join(dataset, 'segments', `${sample.stem}.png`), join(out, 'segments', `${stem}.png`));
        manifest.push({ ...entries[index], stem });
      },
    }));
  }
  return listDataset(dataset).map((item) => ({
    stem: item.stem, imagePath: item.imagePath,
    masks: async () => [await readEvalMask(item.maskPath)],
    writeMasks: (out, stem) => copyFileSync(item.maskPath, join(out, 'masks', `${stem}${extname(item.maskPath)}`)),
  }));
}

async function main() {
  const args = parseArguments(process.argv.slice(2));
  const dataset = resolve(args.dataset), out = resolve(args.out), datasetName = dataset.split('/').pop()!;
  const modelDir = modelFolder(args.model);
  const manifest = await readManifest(modelDir);
  const decoder = await createMapDecoder(await findDecoder(manifest), manifest, 1);
  const panoptic: Array<{ stem: string }> = [];
  const samples = listSamples(dataset, panoptic);
  let embedder: Embedder | null = null, objectIndex = 0, made = 0, skippedHeld = 0, skippedVariants = 0, decodeMs = 0;
  let fallbackDonor: MapObject | null = null;
  const started = performance.now();
  try {
    for (const [index, sample] of samples.slice(0, args.limit).entries()) {
      const masks = await sample.masks();
      const first = objectIndex;
      objectIndex += masks.length;
      if (args.holdoutEvery && masks.some((_, k) => (first + k) % args.holdoutEvery === 0)) {
        skippedHeld++;
        continue;
      }
      if (!masks.length) continue;
      const image = await decodeImageFile(sample.imagePath);
      const map = await cachedEmbedding(embeddingCachePath(manifest, datasetName, sample.stem), async () => {
        embedder ??= await createEmbedder(modelDir);
        return embedder.embed(image);
      });
      const source = augmentSource(dequantize(quantize(map, 'int8')), image, masks.map((mask, k) => ({ tag: k, mask })));
      if (!source.objects.length) continue;
      const original = await decoder.decode(source.map);
      for (let variant = 0; variant < args.variants; variant++) {
        const edit = args.edits[variant % args.edits.length];
        if (edit !== 'jitter' && source.objects.length < 2 && !fallbackDonor) {
          skippedVariants++; // the first usable image has one object and no previous image to take a donor from
          continue;
        }
        const t = performance.now();
        const result = await makeVariant(source, decoder, original, edit, args.strength, seededRandom(args.seed * 1_000_003 + index * 1009 + variant), fallbackDonor);
        decodeMs += performance.now() - t;
        const stem = `${sample.stem}-${edit}${variant + 1}`;
        const imagePath = join(out, 'images', `${stem}.png`);
        for (const folder of ['images', 'masks', 'segments']) mkdirSync(dirname(join(out, folder, stem)), { recursive: true });
        writeFileSync(imagePath, await sharp(result.data, { raw: { width: result.width, height: result.height, channels: 3 } }).png().toBuffer());
        sample.writeMasks(out, stem);
        made++;
      }
      fallbackDonor = source.objects[0].object;
      if ((index + 1) % 20 === 0) process.stderr.write(`${index + 1}/${samples.length} images, ${made} variants\n`);
    }
  } finally {
    await decoder.close();
    await (embedder as Embedder | null)?.close();
  }
  if (panoptic.length) {
    const source = JSON.parse(readFileSync(join(dataset, 'segments.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(out, 'segments.json'), JSON.stringify({ ...source, images: panoptic }));
  }
  console.log(`${datasetName}: ${made} variants (${args.edits.join('/')}, strength ${args.strength}) of ${samples.slice(0, args.limit).length - skippedHeld} images ` +
    `(${skippedHeld} left out as held-out, ${skippedVariants} variants without a donor), ${(decodeMs / Math.max(1, made)).toFixed(0)} ms per variant (edit + decode + compose), ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s in all`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
