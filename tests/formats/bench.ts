/**
 * Format speed on camera-sized masks (prints numbers; no assertions). Run: `npx tsx tests/formats/bench.ts`.
 * The lead may add it to tests/bench/run.ts.
 */
import { writeCoco } from '../../core/formats/coco';
import { parseVocImage, parseVocLabelmap, writeVocLabelmap, writeVocMasks } from '../../core/formats/voc';
import { writeYoloLabels } from '../../core/formats/yolo';
import { maskToPolygons, polygonsToMask } from '../../core/polygon';
import { encodeRle } from '../../core/rle';
import { randomBlobs } from './masks';

function time<T>(label: string, run: () => T, repeat = 3): T {
  let result: T;
  const start = performance.now();
  for (let i = 0; i < repeat; i++) result = run();
  console.log(`${label.padEnd(48)} ${((performance.now() - start) / repeat).toFixed(1)} ms`);
  return result!;
}

const width = 4000, height = 3000;
const masks = Array.from({ length: 10 }, (_, i) => randomBlobs(width, height, i));
const rles = time('encodeRle x10 (4000x3000)', () => masks.map(encodeRle), 1);
const polygons = time('maskToPolygons exact (one 4000x3000 mask)', () => maskToPolygons(masks[0]));
time('maskToPolygons tolerance 0.5', () => maskToPolygons(masks[0], { tolerance: 0.5 }));
time('polygonsToMask (exact outline)', () => polygonsToMask(polygons, width, height));
const dataset = {
  images: [{ id: 1, name: 'a.jpg', width, height }],
  classes: [{ id: 1, name: 'x', color: '#000000' }],
  annotations: rles.map((rle, i) => ({ id: i + 1, imageId: 1, classId: 1, rle, order: i, score: null })),
};
time('writeCoco RLE, 10 objects', () => writeCoco(dataset));
time('writeCoco polygons, 10 objects', () => writeCoco(dataset, { segmentation: 'polygon' }), 1);
time('writeYoloLabels, 10 objects', () => writeYoloLabels(width, height, rles.map((rle) => ({ rle, classIndex: 0 }))), 1);
const pngs = time('writeVocMasks, 10 objects', () => writeVocMasks('a', width, height, rles.map((rle) => ({ rle, classIndex: 1 }))), 1);
const classes = parseVocLabelmap(writeVocLabelmap(['x']), 'labelmap.txt');
time('parseVocImage, 10 objects', () => parseVocImage({ image: 'a', objectPng: { file: 'o', bytes: pngs.objectPng }, classPng: { file: 'c', bytes: pngs.classPng } }, classes), 1);
