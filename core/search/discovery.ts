/**
 * Discovery of the most frequent object in a set of images, from their region trees (regions.ts).
 *
 * 1. Candidate regions: every region between minArea and maxArea of its image.
 * 2. Spherical k-means (k-means++ seeding, fixed seed) over all candidates proposes centroids.
 * 3. Each centroid is refined under "one region per image": per image take the region most similar to it, and
 *    re-estimate the centroid from those picks that stand out in their image; three rounds.
 * 4. A cluster's score sums, over images, how much its pick stands out (cosine of the pick minus the median
 *    cosine of that image's regions) times an objectness prior (regions touching more image borders are more
 *    likely background: sky, floor, grass). Coverage counts images whose pick stands out by >= `contrast`.
 * 5. Near-duplicate clusters (same picks in most images) keep only the better one.
 */
import { seededRandom } from '../random';
import { type RegionSet, regionCount, regionVector } from './regions';

export interface DiscoveryOptions {
  clusters: number;
  /** How many clusters to return. */
  top: number;
  minArea: number;
  maxArea: number;
  /** Objectness = 1 - borderPenalty * (image borders touched / 4). */
  borderPenalty: number;
  /** An image counts as covered when its pick beats the image's median region by this cosine. */
  contrast: number;
  /** ...and its cosine with the centre is at least this. */
  minSimilarity: number;
  /** A pick grows to an enclosing region whose similarity is at most this much lower. */
  grow: number;
  seed: number;
}

export const defaultDiscoveryOptions: DiscoveryOptions = {
  clusters: 24, top: 5, minArea: 0.01, maxArea: 0.8, borderPenalty: 0.6, contrast: 0.1, minSimilarity: 0.75, grow: 0.1, seed: 1,
};

export interface DiscoveryPick {
  imageId: number;
  region: number;
  /** Cosine of the region with the cluster centroid. */
  similarity: number;
  /** similarity minus the image's median region similarity. */
  contrast: number;
  covered: boolean;
}

export interface DiscoveredCluster {
  score: number;
  /** Images whose pick stands out (covered). */
  coverage: number;
  centroid: Float32Array;
  /** One pick per image, in input order. */
  picks: DiscoveryPick[];
}

interface Candidate {
  image: number;
  region: number;
  /** Index in the image's candidate list of the smallest candidate containing this one, -1 if none. */
  parent: number;
  vector: Float32Array;
  objectness: number;
}

function candidates(sets: RegionSet[], options: DiscoveryOptions): Candidate[][] {
  return sets.map((set, image) => {
    const cells = set.gridWidth * set.gridHeight;
    const out: Candidate[] = [];
    for (let region = 0; region < regionCount(set); region++) {
      const [x, y, w, h, area] = set.boxes.subarray(region * 5, region * 5 + 5);
      if (area < options.minArea * cells || area > options.maxArea * cells) continue;
      const borders = Number(x === 0) + Number(y === 0) + Number(x + w >= set.gridWidth) + Number(y + h >= set.gridHeight);
      out.push({ image, region, parent: -1, vector: regionVector(set, region), objectness: 1 - (options.borderPenalty * borders) / 4 });
    }
    const index = new Map(out.map((candidate, i) => [candidate.region, i]));
    for (const candidate of out) {
      for (let node = set.parents[candidate.region]; node >= 0; node = set.parents[node]) {
        const found = index.get(node);
        if (found === undefined) continue;
        candidate.parent = found;
        break;
      }
    }
    return out;
  });
}

const dot = (a: Float32Array, b: Float32Array) => {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k] * b[k];
  return sum;
};


function normalized(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(vector, vector));
  return norm > 0 ? vector.map((value) => value / norm) : vector;
}

/** Spherical k-means with k-means++ seeding. */
function kmeans(points: Float32Array[], k: number, random: () => number, iterations = 8): Float32Array[] {
  if (points.length === 0) return [];
  const centroids: Float32Array[] = [points[Math.floor(random() * points.length)]];
  const distance = new Float64Array(points.length).fill(Infinity);
  while (centroids.length < Math.min(k, points.length)) {
    const last = centroids[centroids.length - 1];
    let total = 0;
    points.forEach((point, i) => {
      distance[i] = Math.min(distance[i], Math.max(0, 1 - dot(point, last)) ** 2);
      total += distance[i];
    });
    if (total === 0) break;
    let target = random() * total, chosen = 0;
    for (; chosen < points.length - 1 && target > distance[chosen]; chosen++) target -= distance[chosen];
    centroids.push(points[chosen]);
  }
  const dim = points[0].length;
  for (let iteration = 0; iteration < iterations; iteration++) {
    const sums = centroids.map(() => new Float32Array(dim));
    for (const point of points) {
      let best = 0, bestScore = -Infinity;
      centroids.forEach((centroid, c) => {
        const score = dot(point, centroid);
        if (score > bestScore) [best, bestScore] = [c, score];
      });
      for (let d = 0; d < dim; d++) sums[best][d] += point[d];
    }
    sums.forEach((sum, c) => {
      if (dot(sum, sum) > 0) centroids[c] = normalized(sum);
    });
  }
  return centroids;
}

function evaluate(centroid: Float32Array, perImage: Candidate[][], imageIds: number[], options: DiscoveryOptions) {
  const picks: DiscoveryPick[] = [];
  let score = 0, coverage = 0;
  const chosen: Candidate[] = [];
  perImage.forEach((list, image) => {
    if (list.length === 0) return;
    const similarities = list.map((candidate) => dot(candidate.vector, centroid));
    let best = 0;
    for (let i = 1; i < list.length; i++) if (similarities[i] > similarities[best]) best = i;
    // Grow to the largest enclosing region that is about as similar: the whole object rather than one part.
    for (let up = list[best].parent; up >= 0 && similarities[up] >= similarities[best] - options.grow; up = list[up].parent) best = up;
    const median = [...similarities].sort((a, b) => a - b)[similarities.length >> 1];
    const contrast = similarities[best] - median;
    const covered = contrast >= options.contrast && similarities[best] >= options.minSimilarity;
    score += Math.max(0, contrast) * list[best].objectness;
    if (covered) {
      coverage++;
      chosen.push(list[best]);
    }
    picks.push({ imageId: imageIds[image], region: list[best].region, similarity: similarities[best], contrast, covered });
  });
  return { picks, score, coverage, chosen };
}

/** Clusters of similar regions across `sets` (one per image, same order as imageIds), best first. */
export function discover(sets: RegionSet[], imageIds: number[], options: Partial<DiscoveryOptions> = {}): DiscoveredCluster[] {
  const settings = { ...defaultDiscoveryOptions, ...options };
  if (sets.length !== imageIds.length) throw new RangeError('one region set per image id');
  const perImage = candidates(sets, settings);
  const all = perImage.flat();
  const random = seededRandom(settings.seed);
  const results: DiscoveredCluster[] = [];
  for (let centroid of kmeans(all.map((candidate) => candidate.vector), settings.clusters, random)) {
    let result = evaluate(centroid, perImage, imageIds, settings);
    for (let round = 0; round < 3 && result.chosen.length > 0; round++) {
      const sum = new Float32Array(centroid.length);
      for (const candidate of result.chosen) for (let d = 0; d < sum.length; d++) sum[d] += candidate.vector[d];
      centroid = normalized(sum);
      result = evaluate(centroid, perImage, imageIds, settings);
    }
    results.push({ score: result.score, coverage: result.coverage, centroid, picks: result.picks });
  }
  results.sort((a, b) => b.score - a.score);
  const kept: DiscoveredCluster[] = [];
  for (const cluster of results) {
    const duplicate = kept.some((other) => {
      let same = 0;
      cluster.picks.forEach((pick, i) => {
        if (other.picks[i]?.region === pick.region) same++;
      });
      return same > 0.5 * cluster.picks.length;
    });
    if (!duplicate) kept.push(cluster);
    if (kept.length === settings.top) break;
  }
  return kept;
}
