/**
 * Edit metrics for docs/generation.md (called by `npm run report:generation`; reporting only, nothing is tuned):
 * the studio's own pieces end to end on images + masks (e.g. eval/GrabCut): the built-in embedder, the int8 map as
 * stored, core/augment edits, the shipped ONNX decoder, composition into the photo, the embedder again on the
 * result, and the click engine.
 *
 *   npx tsx tests/bench/augment-eval.ts --dataset ../shared/data/eval/GrabCut [--limit 20] [--strength 1] \
 *       [--clicks 5] --out result.json [--tiles dir --tile-count 4]
 *
 * Per edit (jitter; swap and interpolate take the next image's object as donor):
 * - achieved: share of the requested embedding shift found inside the object in the re-embedded edited image
 *   (projection on the requested change / its length, cells with weight > 0.5; core/augment editFidelity);
 * - leak: mean embedding change outside the object (cells the mask does not touch) / mean requested change inside;
 * - mask preservation: the standard click protocol on the source image gives `--clicks` clicks (the studio's
 *   engine); the same clicks on the edited image's map give a mask; IoU of each with the source's mask.
 * `--tiles`: PNGs of the first images (source, raw reconstruction, each edit) for the report's grid.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { composeEdit, innerFeather } from '../../core/augment/compose';
import { augmentEdits, editFidelity, editMap, mapObject } from '../../core/augment/edits';
import { type EmbeddingMap, dequantize, quantize } from '../../core/embedding';
import { ClickSimulator, type Click, createSegmenter } from '../../core/engine';
import type { RgbImage } from '../../core/image';
import { type Mask, maskIou } from '../../core/mask';
import { seededRandom } from '../../core/random';
import { createMapDecoder, findDecoder } from '../../electron/augment/decoder';
import { createEmbedder, decodeImageFile } from '../../electron/embedding/embedder';
import { builtinModelsDir } from '../../electron/paths';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' }, limit: { type: 'string' }, strength: { type: 'string' }, clicks: { type: 'string' },
    out: { type: 'string' }, tiles: { type: 'string' }, 'tile-count': { type: 'string' }, model: { type: 'string' },
  },
});
if (!values.dataset || !values.out) throw new Error('usage: augment-eval.ts --dataset <images/ + masks/ folder> --out result.json');
const limit = Number(values.limit ?? 20), strength = Number(values.strength ?? 1), clickCount = Number(values.clicks ?? 5);
const tileCount = Number(values['tile-count'] ?? 4);

interface Sample {
  stem: string;
  image: RgbImage;
  mask: Mask;
  ignore: Uint8Array | null;
  map: EmbeddingMap;
}

function samples(dataset: string): Array<{ stem: string; imagePath: string; maskPath: string }> {
  const images = readdirSync(join(dataset, 'images')).sort();
  const masks = new Map(readdirSync(join(dataset, 'masks')).map((file) => [basename(file, extname(file)), file]));
  return images.filter((file) => masks.has(basename(file, extname(file)))).slice(0, limit)
    .map((file) => ({ stem: basename(file, extname(file)), imagePath: join(dataset, 'images', file), maskPath: join(dataset, 'masks', masks.get(basename(file, extname(file)))!) }));
}

function clicksOnSource(sample: Sample): Click[] {
  const target = { width: sample.image.width, height: sample.image.height, object: sample.mask.data, ignore: sample.ignore };
  const simulator = new ClickSimulator(target);
  const segmenter = createSegmenter(sample.map, sample.image);
  let predicted: Uint8Array = new Uint8Array(sample.mask.data.length);
  for (let k = 0; k < clickCount; k++) {
    simulator.next(predicted);
    predicted = segmenter.segment(simulator.clicks).mask.data;
  }
  return simulator.clicks;
}

async function savePng(image: RgbImage, file: string): Promise<void> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toFile(file);
}

async function main(): Promise<void> {
  const embedder = await createEmbedder(join(builtinModelsDir(), values.model ?? 'pixelwise-unet-s'), ['cpu']);
  const decoder = await createMapDecoder(await findDecoder(embedder.manifest), embedder.manifest);
  const stored = async (image: RgbImage) => dequantize(quantize(await embedder.embed(image)));
  const loaded: Sample[] = [];
  for (const item of samples(values.dataset!)) {
    const image = await decodeImageFile(item.imagePath);
    const maskImage = await decodeImageFile(item.maskPath);
    const mask: Mask = { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height) };
    const ignore = new Uint8Array(image.width * image.height);
    let ignored = 0;
    for (let i = 0; i < mask.data.length; i++) {
      const value = maskImage.data[i * 3];
      mask.data[i] = value > 128 ? 1 : 0;
      if (value === 128) {
        ignore[i] = 1;
        ignored++;
      }
    }
    loaded.push({ stem: item.stem, image, mask, ignore: ignored ? ignore : null, map: await stored(image) });
  }
  if (values.tiles) mkdirSync(values.tiles, { recursive: true });
  const perEdit = Object.fromEntries(augmentEdits.map((edit) => [edit, { achieved: [] as number[], leak: [] as number[], iouSource: [] as number[], iouEdited: [] as number[] }]));
  for (const [index, sample] of loaded.entries()) {
    const donorSample = loaded[(index + 1) % loaded.length];
    const object = mapObject(sample.map, sample.mask);
    const donor = mapObject(donorSample.map, donorSample.mask);
    const alpha = innerFeather(sample.mask, 3);
    const original = await decoder.decode(sample.map);
    const clicks = clicksOnSource(sample);
    const sourceIou = maskIou(createSegmenter(sample.map, sample.image).segment(clicks).mask, sample.mask, sample.ignore ?? undefined);
    if (values.tiles && index < tileCount) {
      await savePng(sample.image, join(values.tiles, `${index}-source.png`));
      await savePng(original, join(values.tiles, `${index}-reconstruction.png`));
    }
    for (const edit of augmentEdits) {
      const { map: edited, requested } = editMap(edit, object, strength, seededRandom(index + 1), donor);
      const made = composeEdit(sample.image, original, await decoder.decode(edited), alpha);
      const again = await stored(made);
      const fidelity = editFidelity(sample.map, again, requested, object.weights);
      const editedIou = maskIou(createSegmenter(again, made).segment(clicks).mask, sample.mask, sample.ignore ?? undefined);
      perEdit[edit].achieved.push(fidelity.achieved);
      perEdit[edit].leak.push(fidelity.leak);
      perEdit[edit].iouSource.push(sourceIou);
      perEdit[edit].iouEdited.push(editedIou);
      if (values.tiles && index < tileCount) await savePng(made, join(values.tiles, `${index}-${edit}.png`));
    }
    process.stderr.write(`\r${index + 1}/${loaded.length}`);
  }
  process.stderr.write('\n');
  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / Math.max(1, list.length);
  const summary = {
    dataset: basename(values.dataset!), images: loaded.length, strength, clicks: clickCount, embedder: embedder.manifest.id, decoder: decoder.manifest.id,
    edits: Object.fromEntries(Object.entries(perEdit).map(([edit, lists]) => [edit, {
      achieved: mean(lists.achieved), leak: mean(lists.leak), iouSource: mean(lists.iouSource), iouEdited: mean(lists.iouEdited),
    }])),
  };
  writeFileSync(values.out!, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary));
  await decoder.close();
  await embedder.close();
}

void main();
