import { readFileSync, readdirSync } from 'node:fs';
import { unpackEmbedding } from '../../core/api/blobs';
import { dequantize } from '../../core/embedding';
import { computeRegions } from '../../core/search/regions';
const dir = '/work/main/.cache/search-eval/pixelwise-colorpos/COCO_MVal/';
const files = readdirSync(dir).slice(0, 20);
let t = 0;
for (const f of files) {
  const map = dequantize(unpackEmbedding(new Uint8Array(readFileSync(dir + f))));
  const s = performance.now();
  const set = computeRegions(map);
  t += performance.now() - s;
  if (f === files[0]) { console.log(set.gridWidth, set.gridHeight, set.leafCount, set.parents.length, Array.from(set.boxes.slice(0, 10)));
    for (let y = 0; y < set.gridHeight; y += 2) { let r=''; for (let x = 0; x < set.gridWidth; x++) r += String.fromCharCode(48 + set.labels[y*set.gridWidth+x] % 75); console.log(r); } }
}
console.log('ms per image', t / files.length);
