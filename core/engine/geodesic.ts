/**
 * Geodesic distances on the embedding grid. A step between neighbouring cells costs
 * `featureWeight * (1 - cos)` (embedding change) plus `spatialWeight * length / max(width, height)` (so crossing
 * the whole grid on uniform ground costs `spatialWeight`). Computed by raster scans (forward and backward passes
 * over the 8-neighbourhood, repeated), which is linear in the grid size and exact for paths that turn back at
 * most `sweeps - 1` times: plenty for segmentation, and several times faster than a heap-based Dijkstra in JS.
 */

export interface EdgeCosts {
  width: number;
  height: number;
  /** Cost from cell i to its right, lower, lower-right and lower-left neighbours (Infinity where none). */
  right: Float32Array;
  down: Float32Array;
  downRight: Float32Array;
  downLeft: Float32Array;
}

/**
 * `data`: width * height * dim unit vectors, cell-major. `floorQuantile` > 0 subtracts that quantile of all
 * neighbour dissimilarities (1 - cos) first, so the texture noise inside a region costs about nothing and only
 * the excess at real edges counts (the cosine scale differs a lot between models and images).
 */
export function edgeCosts(data: Float32Array, width: number, height: number, dim: number, featureWeight: number, spatialWeight: number,
  floorQuantile = 0): EdgeCosts {
  const count = width * height;
  const right = new Float32Array(count).fill(Infinity), down = new Float32Array(count).fill(Infinity);
  const downRight = new Float32Array(count).fill(Infinity), downLeft = new Float32Array(count).fill(Infinity);
  const dissimilarity = (a: number, b: number) => {
    let dot = 0;
    for (let k = 0, pa = a * dim, pb = b * dim; k < dim; k++) dot += data[pa + k] * data[pb + k];
    return Math.max(0, 1 - dot);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (x + 1 < width) right[i] = dissimilarity(i, i + 1);
      if (y + 1 < height) {
        down[i] = dissimilarity(i, i + width);
        if (x + 1 < width) downRight[i] = dissimilarity(i, i + width + 1);
        if (x > 0) downLeft[i] = dissimilarity(i, i + width - 1);
      }
    }
  }
  const floor = floorQuantile > 0 ? quantile([right, down], floorQuantile) : 0;
  const step = spatialWeight / Math.max(width, height), diagonal = step * Math.SQRT2;
  for (const [edges, length] of [[right, step], [down, step], [downRight, diagonal], [downLeft, diagonal]] as Array<[Float32Array, number]>) {
    for (let i = 0; i < count; i++) {
      if (edges[i] !== Infinity) edges[i] = featureWeight * Math.max(0, edges[i] - floor) + length;
    }
  }
  return { width, height, right, down, downRight, downLeft };
}

/** Approximate quantile (1/1024 resolution) of the finite values in [0, 2] of the arrays. */
function quantile(arrays: Float32Array[], q: number): number {
  const bins = 1024, histogram = new Uint32Array(bins);
  let total = 0;
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) {
      if (values[i] === Infinity) continue;
      histogram[Math.min(bins - 1, Math.floor((values[i] / 2) * bins))]++;
      total++;
    }
  }
  let seen = 0;
  for (let b = 0; b < bins; b++) {
    seen += histogram[b];
    if (seen >= q * total) return ((b + 0.5) / bins) * 2;
  }
  return 2;
}

/** Distance from the seed cells (indices) to every cell, written into `out` (width * height). */
export function geodesicDistance(edges: EdgeCosts, seeds: ArrayLike<number>, out?: Float32Array, sweeps = 2): Float32Array {
  const { width, height, right, down, downRight, downLeft } = edges;
  const count = width * height;
  const d = out ?? new Float32Array(count);
  d.fill(Infinity);
  for (let s = 0; s < seeds.length; s++) d[seeds[s]] = 0;
  if (height < 2) return geodesicRow(edges, d, sweeps);
  // Edge arrays hold Infinity where a neighbour does not exist, so the first and last columns run the same
  // relaxations as the interior: a read that wraps into the neighbouring row meets an Infinity edge cost.
  // Only the two reads that would leave the array are peeled off (the first cell of row 1 going forward,
  // the last cell of the next-to-last row going backward).
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let i = 1; i < width; i++) d[i] = Math.min(d[i], d[i - 1] + right[i - 1]);
    d[width] = Math.min(d[width], d[0] + down[0], d[1 % count] + downLeft[1 % count]);
    for (let i = width + 1; i < count; i++) {
      const up = i - width;
      let best = d[i], v = d[up] + down[up];
      if (v < best) best = v;
      v = d[i - 1] + right[i - 1];
      if (v < best) best = v;
      v = d[up - 1] + downRight[up - 1];
      if (v < best) best = v;
      v = d[up + 1] + downLeft[up + 1];
      if (v < best) best = v;
      d[i] = best;
    }
    for (let i = count - 2; i >= count - width; i--) d[i] = Math.min(d[i], d[i + 1] + right[i]);
    const corner = count - width - 1;
    d[corner] = Math.min(d[corner], d[corner + width] + down[corner], d[corner + width - 1] + downLeft[corner]);
    for (let i = corner - 1; i >= 0; i--) {
      let best = d[i], v = d[i + width] + down[i];
      if (v < best) best = v;
      v = d[i + 1] + right[i];
      if (v < best) best = v;
      v = d[i + width + 1] + downRight[i];
      if (v < best) best = v;
      v = d[i + width - 1] + downLeft[i];
      if (v < best) best = v;
      d[i] = best;
    }
  }
  return d;
}

/** A one-row grid: left and right passes. */
function geodesicRow(edges: EdgeCosts, d: Float32Array, sweeps: number): Float32Array {
  const { width, right } = edges;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let i = 1; i < width; i++) d[i] = Math.min(d[i], d[i - 1] + right[i - 1]);
    for (let i = width - 2; i >= 0; i--) d[i] = Math.min(d[i], d[i + 1] + right[i]);
  }
  return d;
}
