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

/** `data`: width * height * dim unit vectors, cell-major. */
export function edgeCosts(data: Float32Array, width: number, height: number, dim: number, featureWeight: number, spatialWeight: number): EdgeCosts {
  const count = width * height;
  const right = new Float32Array(count).fill(Infinity), down = new Float32Array(count).fill(Infinity);
  const downRight = new Float32Array(count).fill(Infinity), downLeft = new Float32Array(count).fill(Infinity);
  const step = spatialWeight / Math.max(width, height), diagonal = step * Math.SQRT2;
  const cost = (a: number, b: number) => {
    let dot = 0;
    for (let k = 0, pa = a * dim, pb = b * dim; k < dim; k++) dot += data[pa + k] * data[pb + k];
    return featureWeight * Math.max(0, 1 - dot);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (x + 1 < width) right[i] = cost(i, i + 1) + step;
      if (y + 1 < height) {
        down[i] = cost(i, i + width) + step;
        if (x + 1 < width) downRight[i] = cost(i, i + width + 1) + diagonal;
        if (x > 0) downLeft[i] = cost(i, i + width - 1) + diagonal;
      }
    }
  }
  return { width, height, right, down, downRight, downLeft };
}

/** Distance from the seed cells (indices) to every cell, written into `out` (width * height). */
export function geodesicDistance(edges: EdgeCosts, seeds: ArrayLike<number>, out?: Float32Array, sweeps = 2): Float32Array {
  const { width, height, right, down, downRight, downLeft } = edges;
  const d = out ?? new Float32Array(width * height);
  d.fill(Infinity);
  for (let s = 0; s < seeds.length; s++) d[seeds[s]] = 0;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    // Forward: neighbours above and to the left are final for this pass. Edge arrays hold Infinity where a
    // neighbour does not exist, so only the first row and the row ends need index guards.
    for (let i = 1; i < width; i++) d[i] = Math.min(d[i], d[i - 1] + right[i - 1]);
    for (let y = 1; y < height; y++) {
      const row = y * width;
      let i = row, up = i - width;
      d[i] = Math.min(d[i], d[up] + down[up], width > 1 ? d[up + 1] + downLeft[up + 1] : Infinity);
      for (let x = 1; x < width - 1; x++) {
        i = row + x;
        up = i - width;
        d[i] = Math.min(d[i], d[i - 1] + right[i - 1], d[up] + down[up], d[up - 1] + downRight[up - 1], d[up + 1] + downLeft[up + 1]);
      }
      if (width > 1) {
        i = row + width - 1;
        up = i - width;
        d[i] = Math.min(d[i], d[i - 1] + right[i - 1], d[up] + down[up], d[up - 1] + downRight[up - 1]);
      }
    }
    // Backward: neighbours below and to the right.
    const lastRow = (height - 1) * width;
    for (let i = lastRow + width - 2; i >= lastRow; i--) d[i] = Math.min(d[i], d[i + 1] + right[i]);
    for (let y = height - 2; y >= 0; y--) {
      const row = y * width;
      let i = row + width - 1;
      d[i] = Math.min(d[i], d[i + width] + down[i], width > 1 ? d[i + width - 1] + downLeft[i] : Infinity);
      for (let x = width - 2; x >= 1; x--) {
        i = row + x;
        d[i] = Math.min(d[i], d[i + 1] + right[i], d[i + width] + down[i], d[i + width + 1] + downRight[i], d[i + width - 1] + downLeft[i]);
      }
      if (width > 1) {
        i = row;
        d[i] = Math.min(d[i], d[i + 1] + right[i], d[i + width] + down[i], d[i + width + 1] + downRight[i]);
      }
    }
  }
  return d;
}
