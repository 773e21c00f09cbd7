/** Non-embedding baselines for retrieval-eval.ts: colour histograms in a mask, a centre prior, colour 2-means. */
import type { RgbImage } from '../../core/image';
import type { Mask } from '../../core/mask';

/** 8x8x8 RGB histogram of the pixels under the mask, L1-normalised. */
export function maskHistogram(image: RgbImage, mask: Mask): Float32Array {
  const histogram = new Float32Array(512);
  let total = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (!mask.data[i]) continue;
    const r = image.data[i * 3] >> 5, g = image.data[i * 3 + 1] >> 5, b = image.data[i * 3 + 2] >> 5;
    histogram[(r << 6) | (g << 3) | b]++;
    total++;
  }
  if (total > 0) for (let k = 0; k < 512; k++) histogram[k] /= total;
  return histogram;
}

/** 1 - histogram intersection. */
export function histogramDistance(a: Float32Array, b: Float32Array): number {
  let intersection = 0;
  for (let k = 0; k < a.length; k++) intersection += Math.min(a[k], b[k]);
  return 1 - intersection;
}

/** Centred ellipse with half-axes 0.35 of the image's width and height (about 38% of the area). */
export function centrePrior(width: number, height: number): Mask {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - width / 2) / (0.35 * width), dy = (y + 0.5 - height / 2) / (0.35 * height);
      data[y * width + x] = dx * dx + dy * dy <= 1 ? 1 : 0;
    }
  }
  return { width, height, data };
}

/** 2-means on RGB (fitted on every 16th pixel, 10 iterations); foreground = the cluster with less of the border. */
export function colourClusters(image: RgbImage): Mask {
  const { width, height, data } = image;
  const count = width * height;
  const nearest = (i: number, centres: number[][]) => {
    const d = centres.map((c) => (data[i * 3] - c[0]) ** 2 + (data[i * 3 + 1] - c[1]) ** 2 + (data[i * 3 + 2] - c[2]) ** 2);
    return d[1] < d[0] ? 1 : 0;
  };
  let centres = [[0, 0, 0], [255, 255, 255]];
  for (let iteration = 0; iteration < 10; iteration++) {
    const sums = [[0, 0, 0, 0], [0, 0, 0, 0]];
    for (let i = 0; i < count; i += 16) {
      const label = nearest(i, centres);
      for (let k = 0; k < 3; k++) sums[label][k] += data[i * 3 + k];
      sums[label][3]++;
    }
    centres = sums.map((sum, c) => (sum[3] ? [sum[0] / sum[3], sum[1] / sum[3], sum[2] / sum[3]] : centres[c]));
  }
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = nearest(i, centres);
  const border = [0, 0];
  for (let x = 0; x < width; x++) {
    border[labels[x]]++;
    border[labels[(height - 1) * width + x]]++;
  }
  for (let y = 0; y < height; y++) {
    border[labels[y * width]]++;
    border[labels[y * width + width - 1]]++;
  }
  const foreground = border[0] <= border[1] ? 0 : 1;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = labels[i] === foreground ? 1 : 0;
  return { width, height, data: out };
}
