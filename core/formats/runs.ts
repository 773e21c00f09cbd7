/** Run-length helpers for importers: objects built from several shapes, and masks given as a crop of the image. */

/**
 * Union of run-length lists of one size, as canonical counts (no empty run but the first). Sorting all starts and
 * all ends on their own is enough for a union: a sweep over both counts how many runs cover each point, so this is
 * two typed-array sorts however many lists there are (a labelme group can have thousands of shapes).
 */
export function unionCounts(lists: number[][], total: number): number[] {
  let n = 0;
  for (const counts of lists) for (let i = 1; i < counts.length; i += 2) if (counts[i] > 0) n++;
  const starts = new Float64Array(n), ends = new Float64Array(n);
  let k = 0;
  for (const counts of lists) {
    let position = 0;
    for (let i = 0; i < counts.length; i++) {
      if (i % 2 === 1 && counts[i] > 0) {
        starts[k] = position;
        ends[k++] = position + counts[i];
      }
      position += counts[i];
    }
  }
  if (lists.length > 1) {
    starts.sort();
    ends.sort();
  }
  const out: number[] = [];
  let depth = 0, open = 0, closed = 0;
  for (let i = 0, j = 0; i < n || j < n;) {
    // At a tie a start goes first, so runs that touch merge.
    if (i < n && starts[i] <= ends[j]) {
      if (depth++ === 0) {
        out.push(starts[i] - closed);
        open = starts[i];
      }
      i++;
    } else {
      if (--depth === 0) {
        out.push(ends[j] - open);
        closed = ends[j];
      }
      j++;
    }
  }
  if (!out.length || closed < total) out.push(total - closed);
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
