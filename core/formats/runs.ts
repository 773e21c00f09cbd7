/** Run-length helpers for importers: objects built from several shapes, and masks given as a crop of the image. */

/** Union of run-length lists of one size, as canonical counts (no empty run but the first). */
export function unionCounts(lists: number[][], total: number): number[] {
  const runs: Array<[number, number]> = [];
  for (const counts of lists) {
    let position = 0;
    for (let i = 0; i < counts.length; i++) {
      if (i % 2 === 1 && counts[i] > 0) runs.push([position, position + counts[i]]);
      position += counts[i];
    }
  }
  if (lists.length > 1) runs.sort((p, q) => p[0] - q[0]);
  const out: number[] = [];
  let end = 0, start = -1;
  for (const [from, to] of runs) {
    if (start >= 0 && from <= end) { end = Math.max(end, to); continue; }
    if (start >= 0) out.push(end - start);
    out.push(from - end);
    start = from;
    end = to;
  }
  if (start >= 0) out.push(end - start);
  if (start < 0 || end < total) out.push(total - end);
  return out;
}

/**
 * Column-major counts of a mask that is empty outside the box at (left, top) of cropWidth x cropHeight, where
 * `on(column, row)` (crop coordinates) says which pixels are set: visits the crop only, never the whole image.
 */
export function cropCounts(on: (column: number, row: number) => boolean, left: number, top: number, cropWidth: number, cropHeight: number, width: number, height: number): number[] {
  const counts: number[] = [];
  let end = 0; // position just after the last run of ones
  for (let c = 0; c < cropWidth; c++) {
    const base = (left + c) * height + top;
    for (let r = 0; r < cropHeight; r++) {
      if (!on(c, r)) continue;
      if (counts.length && end === base + r) counts[counts.length - 1]++;
      else counts.push(base + r - end, 1);
      end = base + r + 1;
    }
  }
  if (!counts.length || end < width * height) counts.push(width * height - end);
  return counts;
}
