/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012: lower envelope of parabolas, one pass
 * per axis, linear time). Matches OpenCV's `distanceTransform(DIST_L2, DIST_MASK_PRECISE)` on a mask padded by
 * one background pixel, i.e. the image border counts as boundary.
 */

const far = 1e20;

/** 1-D squared distance transform of samples `f` (0..n-1) into `d`; `v`, `z` are scratch (n, n + 1). */
function transformLine(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array) {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const offset = q - v[k];
    d[q] = offset * offset + f[v[k]];
  }
}

/**
 * Squared distance from each pixel of `region` (nonzero bytes, row-major width x height) to the nearest pixel
 * outside it, pixels beyond the image border counting as outside; 0 outside the region. Values are exact integers.
 */
export function squaredDistanceTransform(region: Uint8Array, width: number, height: number): Float64Array {
  const longest = Math.max(width, height) + 2;
  const f = new Float64Array(longest), d = new Float64Array(longest);
  const v = new Int32Array(longest), z = new Float64Array(longest + 1);
  const columns = new Float64Array(width * height);
  for (let x = 0; x < width; x++) {
    f[0] = 0;
    f[height + 1] = 0;
    for (let y = 0; y < height; y++) f[y + 1] = region[y * width + x] ? far : 0;
    transformLine(f, height + 2, d, v, z);
    for (let y = 0; y < height; y++) columns[y * width + x] = d[y + 1];
  }
  const out = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    f[0] = 0;
    f[width + 1] = 0;
    for (let x = 0; x < width; x++) f[x + 1] = columns[y * width + x];
    transformLine(f, width + 2, d, v, z);
    for (let x = 0; x < width; x++) out[y * width + x] = d[x + 1];
  }
  return out;
}
