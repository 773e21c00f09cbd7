/**
 * Generated embedding maps with planted objects (known vectors at known places), for the search tests and the
 * speed benchmark. Not used by the product.
 */
import { type EmbeddingMap, normalizeCells } from '../embedding';

export { seededRandom } from '../random';

/** Random unit vector (Gaussian components via Box-Muller). */
export function randomUnit(dim: number, random: () => number): Float32Array {
  const out = new Float32Array(dim);
  for (let k = 0; k < dim; k++) out[k] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return normalizeCells(out, dim);
}

/** Unit vector at cosine `similarity` from `base` (a random orthogonal direction mixed in). */
export function nearby(base: Float32Array, similarity: number, random: () => number): Float32Array {
  const other = randomUnit(base.length, random);
  let dot = 0;
  for (let k = 0; k < base.length; k++) dot += other[k] * base[k];
  for (let k = 0; k < base.length; k++) other[k] -= dot * base[k];
  normalizeCells(other, base.length);
  const sine = Math.sqrt(Math.max(0, 1 - similarity * similarity));
  return normalizeCells(base.map((value, k) => similarity * value + sine * other[k]), base.length);
}

export interface PlantedObject {
  vector: Float32Array;
  /** Box in grid cells. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SyntheticMapOptions {
  width: number;
  height: number;
  dim: number;
  /** Image pixels per grid cell (the model's stride). */
  stride?: number;
  /** Background: left and right halves get these vectors. */
  background: [Float32Array, Float32Array];
  objects: PlantedObject[];
  /** Per-cell noise: each cell's vector is nearby(vector, 1 - noise). */
  noise?: number;
  random: () => number;
}

/** An EmbeddingMap (HWC unit float32) with the objects painted over a two-part background. */
export function syntheticMap(options: SyntheticMapOptions): EmbeddingMap {
  const { width, height, dim, objects, random } = options;
  const stride = options.stride ?? 4, noise = options.noise ?? 0.05;
  const data = new Float32Array(width * height * dim);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let vector = options.background[x < width / 2 ? 0 : 1];
      for (const object of objects) {
        if (x >= object.x && x < object.x + object.width && y >= object.y && y < object.y + object.height) vector = object.vector;
      }
      data.set(noise > 0 ? nearby(vector, 1 - noise, random) : vector, (y * width + x) * dim);
    }
  }
  return { width, height, dim, imageWidth: width * stride, imageHeight: height * stride, data };
}

/** Image-pixel mask (0/1) of a planted object's box. */
export function objectMask(map: EmbeddingMap, object: PlantedObject): { width: number; height: number; data: Uint8Array } {
  const stride = map.imageWidth / map.width;
  const data = new Uint8Array(map.imageWidth * map.imageHeight);
  for (let y = object.y * stride; y < (object.y + object.height) * stride; y++) {
    data.fill(1, y * map.imageWidth + object.x * stride, y * map.imageWidth + (object.x + object.width) * stride);
  }
  return { width: map.imageWidth, height: map.imageHeight, data };
}
