import { zlibSync } from 'fflate';
import { encodeRle } from '../../core/rle';
import { writeVocMasks } from '../../core/formats/voc';
import { decodePng } from '../../core/png';
import { randomBlobs } from './masks';
const w = 4000, h = 3000;
const rles = Array.from({ length: 10 }, (_, i) => encodeRle(randomBlobs(w, h, i)));
let t = performance.now();
const { classPng } = writeVocMasks('a', w, h, rles.map((rle) => ({ rle, classIndex: 1 })));
console.log('voc total', performance.now() - t);
const idx = decodePng(classPng).data;
const rows = new Uint8Array((w + 1) * h); for (let y = 0; y < h; y++) rows.set(idx.subarray(y * w, (y + 1) * w), y * (w + 1) + 1);
for (const level of [1, 4, 6, 9] as const) { t = performance.now(); const z = zlibSync(rows, { level }); console.log('zlib', level, (performance.now() - t).toFixed(0), z.length); }
