"""Classic OpenCV GrabCut seeded by clicks, on the same NoC protocol and JSON format as eval-clicks.ts.

    nice /usr/bin/python3 tests/bench/grabcut_baseline.py --dataset ../shared/data/eval/GrabCut [--limit N] \
        [--clicks 20] --out grabcut-opencv.json

Per click: cv2.grabCut, 3 iterations, initialised from a mask: definite background outside the box around the
positive clicks padded by 15% of the image size (per axis), probable foreground inside, hard seeds (discs of
radius 5) at every click. Prediction = (probable) foreground. Next click: RITM protocol (see core/engine/protocol.ts):
exact EDT with the border as boundary (scipy distance_transform_edt on a 1-pixel zero-padded mask), the larger of
the FN / FP maxima (ties negative), first row-major pixel, already-clicked pixels excluded, GrabCut's 128 ignored.
Slow (0.6-2.5 s per click): run it nice'd, in the background.
"""
import argparse
import datetime
import json
import os
import sys
import time

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

cv2.setNumThreads(1)  # one core per run: the machine is shared


def read_target(path):
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask.ndim == 3:
        mask = mask[:, :, 2]  # OpenCV loads BGR; the red channel is channel 0 of RGB, as eval-clicks.ts reads it
    return mask > 128, mask == 128


def squared_edt(region):
    padded = np.pad(region, 1, constant_values=False)
    return (distance_transform_edt(padded, return_distances=True)[1:-1, 1:-1] ** 2).round()


def next_click(truth, ignore, predicted, clicked):
    fn = truth & ~predicted & ~ignore
    fp = ~truth & predicted & ~ignore
    fn_dt = squared_edt(fn) * ~clicked
    fp_dt = squared_edt(fp) * ~clicked
    fn_max, fp_max = fn_dt.max(), fp_dt.max()
    positive = fn_max > fp_max
    chosen, value = (fn_dt, fn_max) if positive else (fp_dt, fp_max)
    ys, xs = np.where(chosen == value)
    y, x = int(ys[0]), int(xs[0])
    clicked[y, x] = True
    return x, y, positive


def grabcut(image_bgr, clicks):
    height, width = image_bgr.shape[:2]
    positives = [(x, y) for x, y, p in clicks if p]
    if not positives:
        return np.zeros((height, width), bool)
    pad_x, pad_y = 0.15 * width, 0.15 * height
    xs, ys = [x for x, _ in positives], [y for _, y in positives]
    x0, x1 = int(max(0, min(xs) - pad_x)), int(min(width - 1, max(xs) + pad_x))
    y0, y1 = int(max(0, min(ys) - pad_y)), int(min(height - 1, max(ys) + pad_y))
    mask = np.full((height, width), cv2.GC_BGD, np.uint8)
    mask[y0:y1 + 1, x0:x1 + 1] = cv2.GC_PR_FGD
    for x, y, p in clicks:
        cv2.circle(mask, (int(x), int(y)), 5, int(cv2.GC_FGD if p else cv2.GC_BGD), -1)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(image_bgr, mask, None, background, foreground, 3, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        pass  # degenerate seeds (e.g. no background sample): keep the initial mask
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def iou(truth, ignore, predicted):
    keep = ~ignore
    union = ((truth | predicted) & keep).sum()
    return 1.0 if union == 0 else float(((truth & predicted) & keep).sum() / union)


def clicks_to_reach(ious, threshold, max_clicks):
    for k, value in enumerate(ious):
        if value >= threshold:
            return k + 1
    return max_clicks


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(p / 100 * len(ordered))) - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', required=True)
    parser.add_argument('--limit', type=int, default=None)
    parser.add_argument('--clicks', type=int, default=20)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    started = time.time()
    dataset = os.path.abspath(args.dataset)
    masks = {os.path.splitext(name)[0]: name for name in os.listdir(os.path.join(dataset, 'masks'))}
    names = [name for name in sorted(os.listdir(os.path.join(dataset, 'images'))) if os.path.splitext(name)[0] in masks]
    names = names[:args.limit] if args.limit else names
    results, latencies = [], []
    for index, name in enumerate(names):
        stem = os.path.splitext(name)[0]
        image = cv2.imread(os.path.join(dataset, 'images', name), cv2.IMREAD_COLOR)
        truth, ignore = read_target(os.path.join(dataset, 'masks', masks[stem]))
        predicted = np.zeros_like(truth)
        clicked = np.zeros_like(truth)
        clicks, ious = [], []
        for _ in range(args.clicks):
            clicks.append(next_click(truth, ignore, predicted, clicked))
            start = time.perf_counter()
            predicted = grabcut(image, clicks)
            latencies.append((time.perf_counter() - start) * 1000)
            ious.append(iou(truth, ignore, predicted))
        results.append({
            'stem': stem, 'width': int(truth.shape[1]), 'height': int(truth.shape[0]), 'ious': ious,
            'noc85': clicks_to_reach(ious, 0.85, args.clicks), 'noc90': clicks_to_reach(ious, 0.90, args.clicks),
            'clicks': [[x, y, int(p)] for x, y, p in clicks],
        })
        print(f'{index + 1}/{len(names)} {stem} NoC@90 {results[-1]["noc90"]} IoU@1 {ious[0]:.3f}', file=sys.stderr, flush=True)
        summarize(results, latencies, args, dataset, started)
    summary = summarize(results, latencies, args, dataset, started)
    metrics = summary['metrics']
    print(f"{summary['dataset']} opencv-grabcut n={metrics['images']}: NoC@85 {metrics['noc85']:.2f} NoC@90 {metrics['noc90']:.2f} "
          f"fail@90 {metrics['failures90']} mIoU@1/3/5 {metrics['miou1']:.3f}/{metrics['miou3']:.3f}/{metrics['miou5']:.3f} "
          f"latency p50 {summary['latencyMs']['p50']:.0f} ms p95 {summary['latencyMs']['p95']:.0f} ms")


def summarize(results, latencies, args, dataset, started):
    """Same fields as eval-clicks.ts; written after every image so a long run leaves a partial result behind."""
    miou = np.array([r['ious'] for r in results]).mean(axis=0).tolist()
    metrics = {
        'images': len(results),
        'noc85': float(np.mean([r['noc85'] for r in results])), 'noc90': float(np.mean([r['noc90'] for r in results])),
        'failures85': int(sum(not any(v >= 0.85 for v in r['ious']) for r in results)),
        'failures90': int(sum(not any(v >= 0.90 for v in r['ious']) for r in results)),
        'miou1': miou[0], 'miou3': miou[min(2, len(miou) - 1)], 'miou5': miou[min(4, len(miou) - 1)], 'miouCurve': miou,
    }
    summary = {
        'dataset': os.path.basename(dataset), 'datasetPath': dataset, 'engine': 'opencv-grabcut', 'model': None,
        'precision': None, 'options': {'iterations': 3, 'seedRadius': 5, 'boxPadding': 0.15},
        'protocol': f'RITM NoC: first click most interior point, next at max EDT of FN vs FP, border = boundary, max clicks {args.clicks}',
        'metrics': metrics,
        'latencyMs': {'p50': percentile(latencies, 50), 'p95': percentile(latencies, 95), 'mean': float(np.mean(latencies))},
        'embedSeconds': 0, 'seconds': time.time() - started,
        'command': 'nice /usr/bin/python3 tests/bench/grabcut_baseline.py ' + ' '.join(sys.argv[1:]),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(), 'images': results,
    }
    if args.out:
        with open(args.out, 'w') as handle:
            json.dump(summary, handle, indent=1)
    return summary


if __name__ == '__main__':
    main()
