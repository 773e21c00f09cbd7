/** Interactive-segmentation metrics over per-image IoU-per-click curves (RITM `compute_noc_metric` conventions). */

/** Clicks needed to reach `threshold` (1-based); `maxClicks` if never reached. */
export function clicksToReach(ious: number[], threshold: number, maxClicks: number): number {
  const index = ious.findIndex((iou) => iou >= threshold);
  return index < 0 ? maxClicks : index + 1;
}

export interface ClickMetrics {
  images: number;
  noc85: number;
  noc90: number;
  /** Images that never reached IoU 0.85 / 0.90 within maxClicks. */
  failures85: number;
  failures90: number;
  /** Mean IoU after 1, 3 and 5 clicks. */
  miou1: number;
  miou3: number;
  miou5: number;
  /** Mean IoU after k clicks, k = 1..maxClicks. */
  miouCurve: number[];
}

export function clickMetrics(curves: number[][], maxClicks: number): ClickMetrics {
  const n = curves.length;
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  const miouCurve = Array.from({ length: maxClicks }, (_, k) => mean(curves.map((ious) => ious[Math.min(k, ious.length - 1)] ?? 0)));
  const reached = (threshold: number) => curves.filter((ious) => ious.slice(0, maxClicks).some((iou) => iou >= threshold)).length;
  return {
    images: n,
    noc85: mean(curves.map((ious) => clicksToReach(ious, 0.85, maxClicks))),
    noc90: mean(curves.map((ious) => clicksToReach(ious, 0.9, maxClicks))),
    failures85: n - reached(0.85),
    failures90: n - reached(0.9),
    miou1: miouCurve[0] ?? 0,
    miou3: miouCurve[2] ?? 0,
    miou5: miouCurve[4] ?? 0,
    miouCurve,
  };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
