/**
 * Region-level vectors of one embedding map, the unit of similar-object search and discovery.
 *
 * The map is average-pooled to a "region grid" (long side <= 64 cells), over-segmented into superpixels by SLIC
 * (k-means on embedding + cell position, each centre searching a 2S x 2S window), made connected, and then merged
 * bottom-up (most similar adjacent pair first) into a binary tree. Every node except the root is a region: leaves
 * are object parts, inner nodes whole objects or groups of them, so a query for a whole object and one for a part
 * both find a region of their size. A region's vector is the normalised mean of the map's cell vectors under it.
 */
import { type EmbeddingMap, normalizeCells } from '../embedding';

export interface RegionSet {
  /** Region grid size in cells; region grid cell (x, y) covers image pixels [x * imageWidth / gridWidth, ...). */
  gridWidth: number;
  gridHeight: number;
  imageWidth: number;
  imageHeight: number;
  dim: number;
  /** Leaves are regions 0 .. leafCount - 1; merged regions follow. */
  leafCount: number;
  /** gridWidth * gridHeight leaf ids, row-major. */
  labels: Uint8Array;
  /** Per region: index of the merged region containing it, -1 for the top ones. */
  parents: Int16Array;
  /** Per region: [x, y, width, height, cells] in region-grid cells. */
  boxes: Uint16Array;
  /** regionCount * dim, value = q / 127 (unit vectors), region-major. */
  vectors: Int8Array;
}

export interface RegionOptions {
  /** Long side of the region grid in cells. */
  gridSide: number;
  /** Target number of superpixels (leaves). */
  leaves: number;
  /** Weight of squared spatial distance (in superpixel spacings) against 1 - cos. */
  compactness: number;
  iterations: number;
}

export const defaultRegionOptions: RegionOptions = { gridSide: 64, leaves: 40, compactness: 0.05, iterations: 6 };

export const regionCount = (set: RegionSet) => set.parents.length;

/** Sum-pools the map to the region grid: returns per-cell sums (for exact means) and unit vectors (for distances). */
function poolGrid(map: EmbeddingMap, side: number) {
  const factor = Math.max(1, Math.ceil(Math.max(map.width, map.height) / side));
  const width = Math.ceil(map.width / factor), height = Math.ceil(map.height / factor), dim = map.dim;
  const sums = new Float32Array(width * height * dim);
  for (let y = 0; y < map.height; y++) {
    const row = Math.floor(y / factor) * width;
    for (let x = 0; x < map.width; x++) {
      const source = (y * map.width + x) * dim, target = (row + Math.floor(x / factor)) * dim;
      for (let k = 0; k < dim; k++) sums[target + k] += map.data[source + k];
    }
  }
  const units = Float32Array.from(sums);
  normalizeCells(units, dim);
  return { width, height, sums, units };
}

/** SLIC superpixels on the region grid; returns a label per cell (not yet guaranteed connected). */
function slic(units: Float32Array, width: number, height: number, dim: number, options: RegionOptions): Int32Array {
  const count = width * height;
  const step = Math.max(1, Math.sqrt(count / options.leaves));
  const columns = Math.max(1, Math.round(width / step)), rows = Math.max(1, Math.round(height / step));
  const k = columns * rows;
  const centres = new Float32Array(k * dim), cx = new Float32Array(k), cy = new Float32Array(k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      cx[i] = ((c + 0.5) * width) / columns;
      cy[i] = ((r + 0.5) * height) / rows;
      const cell = Math.floor(cy[i]) * width + Math.floor(cx[i]);
      centres.set(units.subarray(cell * dim, cell * dim + dim), i * dim);
    }
  }
  const labels = new Int32Array(count), best = new Float32Array(count);
  const spatial = options.compactness / (step * step);
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    best.fill(Infinity);
    for (let i = 0; i < k; i++) {
      const x0 = Math.max(0, Math.floor(cx[i] - step)), x1 = Math.min(width - 1, Math.ceil(cx[i] + step));
      const y0 = Math.max(0, Math.floor(cy[i] - step)), y1 = Math.min(height - 1, Math.ceil(cy[i] + step));
      const centre = i * dim;
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const cell = y * width + x, offset = cell * dim;
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += units[offset + d] * centres[centre + d];
          const dx = x + 0.5 - cx[i], dy = y + 0.5 - cy[i];
          const distance = 1 - dot + spatial * (dx * dx + dy * dy);
          if (distance < best[cell]) {
            best[cell] = distance;
            labels[cell] = i;
          }
        }
      }
    }
    centres.fill(0);
    cx.fill(0);
    cy.fill(0);
    const sizes = new Float32Array(k);
    for (let cell = 0; cell < count; cell++) {
      const i = labels[cell];
      sizes[i]++;
      cx[i] += (cell % width) + 0.5;
      cy[i] += Math.floor(cell / width) + 0.5;
      for (let d = 0; d < dim; d++) centres[i * dim + d] += units[cell * dim + d];
    }
    for (let i = 0; i < k; i++) {
      if (sizes[i] === 0) continue;
      cx[i] /= sizes[i];
      cy[i] /= sizes[i];
    }
    normalizeCells(centres, dim);
  }
  return labels;
}

/** Relabels 4-connected components 0..n-1, folding components under `minCells` into a neighbour; at most 255 leaves. */
function connect(labels: Int32Array, width: number, height: number, minCells: number): { leaves: Uint8Array; count: number } {
  const count = width * height;
  const component = new Int32Array(count).fill(-1);
  const sizes: number[] = [];
  const queue = new Int32Array(count);
  let components = 0;
  for (let start = 0; start < count; start++) {
    if (component[start] >= 0) continue;
    let head = 0, tail = 0;
    queue[tail++] = start;
    component[start] = components;
    while (head < tail) {
      const cell = queue[head++], x = cell % width;
      const neighbours = [x > 0 ? cell - 1 : -1, x < width - 1 ? cell + 1 : -1, cell - width, cell + width];
      for (const next of neighbours) {
        if (next < 0 || next >= count || component[next] >= 0 || labels[next] !== labels[start]) continue;
        component[next] = components;
        queue[tail++] = next;
      }
    }
    sizes.push(tail);
    components++;
  }
  // Small fragments join the neighbouring component met first in scan order (left or up, else right or down).
  const target = new Int32Array(components).map((_, i) => i);
  const root = (i: number): number => (target[i] === i ? i : (target[i] = root(target[i])));
  for (let cell = 0; cell < count; cell++) {
    const own = root(component[cell]);
    if (sizes[own] >= minCells) continue;
    const x = cell % width;
    for (const next of [x > 0 ? cell - 1 : -1, cell - width, x < width - 1 ? cell + 1 : -1, cell + width]) {
      if (next < 0 || next >= count) continue;
      const other = root(component[next]);
      if (other === own) continue;
      target[own] = other;
      sizes[other] += sizes[own];
      break;
    }
  }
  const renumber = new Map<number, number>();
  const leaves = new Uint8Array(count);
  for (let cell = 0; cell < count; cell++) {
    const own = root(component[cell]);
    let id = renumber.get(own);
    if (id === undefined) renumber.set(own, (id = Math.min(254, renumber.size)));
    leaves[cell] = id;
  }
  return { leaves, count: renumber.size > 255 ? 255 : renumber.size };
}

/** Computes the region tree of a map; see the file comment. */
export function computeRegions(map: EmbeddingMap, options: Partial<RegionOptions> = {}): RegionSet {
  const settings = { ...defaultRegionOptions, ...options };
  const { dim } = map;
  const grid = poolGrid(map, settings.gridSide);
  const { width, height } = grid;
  const minCells = Math.max(1, Math.floor((width * height) / settings.leaves / 4));
  const { leaves, count: leafCount } = connect(slic(grid.units, width, height, dim, settings), width, height, minCells);

  const total = Math.max(1, 2 * leafCount - 2);
  const sums = new Float64Array(Math.max(total, leafCount) * dim);
  const boxes = new Uint16Array(Math.max(total, leafCount) * 5);
  const extents = new Int32Array(leafCount * 4).fill(-1);
  const cells = new Int32Array(2 * leafCount);
  for (let cell = 0; cell < width * height; cell++) {
    const leaf = leaves[cell], x = cell % width, y = Math.floor(cell / width);
    cells[leaf]++;
    for (let k = 0; k < dim; k++) sums[leaf * dim + k] += grid.sums[cell * dim + k];
    const e = leaf * 4;
    if (extents[e] < 0) extents.set([x, y, x, y], e);
    extents[e] = Math.min(extents[e], x);
    extents[e + 1] = Math.min(extents[e + 1], y);
    extents[e + 2] = Math.max(extents[e + 2], x);
    extents[e + 3] = Math.max(extents[e + 3], y);
  }
  const bounds: number[][] = [];
  for (let leaf = 0; leaf < leafCount; leaf++) bounds.push(Array.from(extents.subarray(leaf * 4, leaf * 4 + 4)));

  const parents = mergeTree(leaves, width, height, leafCount, sums, cells, bounds, dim);
  const regionTotal = leafCount === 1 ? 1 : parents.length;
  const vectors = new Int8Array(regionTotal * dim);
  for (let region = 0; region < regionTotal; region++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += sums[region * dim + k] ** 2;
    const inverse = norm > 0 ? 127 / Math.sqrt(norm) : 0;
    for (let k = 0; k < dim; k++) vectors[region * dim + k] = Math.round(sums[region * dim + k] * inverse);
    const [x0, y0, x1, y1] = bounds[region];
    boxes.set([x0, y0, x1 - x0 + 1, y1 - y0 + 1, Math.min(65535, cells[region])], region * 5);
  }
  return {
    gridWidth: width, gridHeight: height, imageWidth: map.imageWidth, imageHeight: map.imageHeight, dim, leafCount,
    labels: leaves, parents: parents.subarray(0, regionTotal), boxes: boxes.subarray(0, regionTotal * 5), vectors,
  };
}

/**
 * Greedy agglomeration of adjacent regions by cosine of their mean vectors; fills sums, cells and bounds for the
 * merged regions and returns the parent of every region. The final merge (the whole image) is not kept.
 */
function mergeTree(leaves: Uint8Array, width: number, height: number, leafCount: number, sums: Float64Array,
  cells: Int32Array, bounds: number[][], dim: number): Int16Array {
  const total = Math.max(1, 2 * leafCount - 2);
  const parents = new Int16Array(total).fill(-1);
  const adjacency = new Map<number, Set<number>>();
  for (let i = 0; i < leafCount; i++) adjacency.set(i, new Set());
  for (let cell = 0; cell < width * height; cell++) {
    const a = leaves[cell];
    const right = cell % width < width - 1 ? leaves[cell + 1] : a, down = cell + width < width * height ? leaves[cell + width] : a;
    for (const b of [right, down]) {
      if (b === a) continue;
      adjacency.get(a)!.add(b);
      adjacency.get(b)!.add(a);
    }
  }
  const cosine = (a: number, b: number) => {
    let dot = 0, na = 0, nb = 0;
    for (let k = 0; k < dim; k++) {
      const x = sums[a * dim + k], y = sums[b * dim + k];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : -1;
  };
  let next = leafCount;
  while (adjacency.size > 2 && next < total) {
    let bestA = -1, bestB = -1, best = -Infinity;
    for (const [a, neighbours] of adjacency) {
      for (const b of neighbours) {
        if (b <= a) continue;
        const score = cosine(a, b);
        if (score > best) [best, bestA, bestB] = [score, a, b];
      }
    }
    if (bestA < 0) break; // disconnected remainder (cannot happen on one grid, but never loop forever)
    const merged = next++;
    parents[bestA] = parents[bestB] = merged;
    for (let k = 0; k < dim; k++) sums[merged * dim + k] = sums[bestA * dim + k] + sums[bestB * dim + k];
    cells[merged] = cells[bestA] + cells[bestB];
    const [a, b] = [bounds[bestA], bounds[bestB]];
    bounds[merged] = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
    const neighbours = new Set([...adjacency.get(bestA)!, ...adjacency.get(bestB)!]);
    neighbours.delete(bestA);
    neighbours.delete(bestB);
    adjacency.delete(bestA);
    adjacency.delete(bestB);
    for (const n of neighbours) {
      const set = adjacency.get(n)!;
      set.delete(bestA);
      set.delete(bestB);
      set.add(merged);
    }
    adjacency.set(merged, neighbours);
  }
  return parents.subarray(0, next);
}

/** Region vector as unit float32. */
export function regionVector(set: RegionSet, region: number): Float32Array {
  const out = new Float32Array(set.dim);
  for (let k = 0; k < set.dim; k++) out[k] = set.vectors[region * set.dim + k] / 127;
  return normalizeCells(out, set.dim);
}
