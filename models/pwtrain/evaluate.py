"""Quick proxies for monitoring: synthetic click IoU and a NoC click simulation on real image/mask folders.

    /usr/bin/python3 -m models.pwtrain.evaluate --checkpoint models/runs/unet_s/last.pt --data ../shared/data/eval/GrabCut
    /usr/bin/python3 -m models.pwtrain.evaluate --model models/builtin/pixelwise-colorpos --data ../shared/data/eval/GrabCut --limit 20

Evaluation only: nothing here trains. The NoC simulation follows the standard protocol (first click at the
object's most interior point, each next click at the point farthest from the boundary of the larger error
region, at most 20 clicks, NoC@t = first click count with IoU >= t, 20 if never; mask value 128 ignored) with a
simple embedding click rule: a pixel is object when its cosine similarity to the nearest positive click beats
both the nearest negative click and a fixed threshold. The studio's TS click engine is the reference; this
proxy only ranks models.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import set_threads
from .checkpoint import load_model
from .data import read_rgb
from .export import ExportWrapper, training_mean_embedding
from .onnx_utils import run_onnxruntime_node
from .synthetic import synthetic_pair

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def interior_point(region: np.ndarray):
    """(y, x) of the pixel farthest from the region boundary (image border counts as boundary)."""
    padded = np.pad(region.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    index = int(np.argmax(distance))
    return np.unravel_index(index, region.shape), float(distance.flat[index])


@torch.no_grad()
def synthetic_click_iou(model, crop: int, pairs: int = 4) -> float:
    """Mean one-click IoU on fixed synthetic pairs at the best of a few global cosine thresholds."""
    model.eval()
    rng = np.random.default_rng(12345)
    scores = np.zeros(len(THRESHOLDS))
    count = 0
    for _ in range(pairs):
        images, labels = synthetic_pair(rng, crop)
        mean, std = np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225])
        batch = torch.from_numpy(((images - mean) / std).transpose(0, 3, 1, 2).copy())
        batch = batch.to(next(model.parameters()).device)
        embeddings = F.normalize(F.interpolate(model(batch), size=labels.shape[-2:], mode="bilinear",
                                               align_corners=False), dim=1).cpu().numpy()
        for embedding, label in zip(embeddings, labels):
            for instance in np.unique(label):
                region = label == instance
                if region.sum() < 150:
                    continue
                (y, x), _ = interior_point(region)
                similarity = np.einsum("dhw,d->hw", embedding, embedding[:, y, x])
                for index, threshold in enumerate(THRESHOLDS):
                    predicted = similarity > threshold
                    scores[index] += (predicted & region).sum() / max(1, (predicted | region).sum())
                count += 1
    return float(scores.max() / max(1, count))


class Embedder:
    """Image (HxWx3 uint8 RGB) -> DxHxW float32 unit embeddings at image resolution, from a checkpoint or an
    exported model folder (model.json + model.onnx run through onnxruntime-node), preprocessed as the studio does."""

    def __init__(self, checkpoint: Path | None = None, model_dir: Path | None = None, long_side: int | None = None,
                 center: bool = False):
        self.model, self.model_dir = None, model_dir
        if checkpoint is not None:
            model, config, _ = load_model(checkpoint, None)
            self.model = ExportWrapper(model, training_mean_embedding(model, config) if center else None)
            self.manifest = {"input": {"longSide": config.long_side, "multipleOf": 32,
                                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
                             "output": {"stride": 4}}
        else:
            self.manifest = json.loads((model_dir / "model.json").read_text())
        if long_side:
            self.manifest["input"]["longSide"] = long_side

    def __call__(self, image: np.ndarray) -> np.ndarray:
        spec = self.manifest["input"]
        height, width = image.shape[:2]
        scale = spec["longSide"] / max(height, width)
        resized_w, resized_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = cv2.resize(image, (resized_w, resized_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        multiple = spec["multipleOf"]
        padded_h, padded_w = -(-resized_h // multiple) * multiple, -(-resized_w // multiple) * multiple
        tensor = np.zeros((1, 3, padded_h, padded_w), np.float32)
        normalised = (resized.astype(np.float32) / 255 - np.float32(spec["mean"])) / np.float32(spec["std"])
        tensor[0, :, :resized_h, :resized_w] = normalised.transpose(2, 0, 1)
        if self.model is not None:
            with torch.no_grad():
                output = self.model(torch.from_numpy(tensor)).numpy()
        else:
            output, _ = run_onnxruntime_node(self.model_dir / self.manifest["file"], tensor)
        stride = self.manifest["output"]["stride"]
        grid = output[0, :, :-(-resized_h // stride), :-(-resized_w // stride)]
        # Cells cover stride x stride input pixels; map cell centres back to image pixels, then renormalise.
        upsampled = F.interpolate(torch.from_numpy(np.ascontiguousarray(grid))[None], scale_factor=stride,
                                  mode="bilinear", align_corners=False)[0, :, :resized_h, :resized_w]
        upsampled = F.interpolate(upsampled[None], size=(height, width), mode="bilinear", align_corners=False)[0]
        return F.normalize(upsampled, dim=0).numpy()


def keep_clicked_components(mask: np.ndarray, positives) -> np.ndarray:
    """Only the connected parts of `mask` that contain a positive click."""
    count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    keep = {components[y, x] for y, x in positives} - {0}
    return np.isin(components, list(keep)) if keep else np.zeros_like(mask)


def simulate_noc(embedding: np.ndarray, target: np.ndarray, ignore: np.ndarray, threshold: float,
                 max_clicks: int = 20, connected: bool = False):
    """IoU after each click of the standard protocol with the nearest-click cosine rule (optionally keeping only
    the connected regions that hold a positive click)."""
    positives, negatives, ious = [], [], []
    predicted = np.zeros_like(target)
    flat = embedding.reshape(embedding.shape[0], -1)
    for _ in range(max_clicks):
        false_negative = target & ~predicted & ~ignore
        false_positive = predicted & ~target & ~ignore
        (fn_point, fn_depth), (fp_point, fp_depth) = interior_point(false_negative), interior_point(false_positive)
        if ious and max(fn_depth, fp_depth) == 0:  # nothing left to correct
            ious.append(ious[-1])
            continue
        if fn_depth >= fp_depth:
            positives.append(fn_point)
        else:
            negatives.append(fp_point)
        positive_score = np.max(np.stack([embedding[:, y, x] for y, x in positives]) @ flat, axis=0)
        negative_score = (np.max(np.stack([embedding[:, y, x] for y, x in negatives]) @ flat, axis=0)
                          if negatives else np.full_like(positive_score, -1.0))
        predicted = ((positive_score > threshold) & (positive_score > negative_score)).reshape(target.shape)
        if connected:
            predicted = keep_clicked_components(predicted, positives)
        keep = ~ignore
        union = (predicted | target)[keep].sum()
        ious.append(1.0 if union == 0 else float((predicted & target)[keep].sum() / union))
    return ious


def noc(ious, target: float) -> int:
    return next((index + 1 for index, iou in enumerate(ious) if iou >= target), len(ious))


def evaluate_folder(embedder: Embedder, folder: Path, limit: int | None, thresholds) -> list[dict]:
    """Mean NoC@85, NoC@90 and first-click IoU per threshold over the first `limit` images of `folder`."""
    images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    results = {(threshold, connected): {"noc85": [], "noc90": [], "iou1": []}
               for threshold in thresholds for connected in (False, True)}
    for image_path in images[:limit]:
        mask_path = next((folder / "masks" / (image_path.stem + s) for s in (".png", ".bmp")
                          if (folder / "masks" / (image_path.stem + s)).exists()), None)
        if mask_path is None:
            continue
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        embedding = embedder(read_rgb(image_path))
        for (threshold, connected), result in results.items():
            ious = simulate_noc(embedding, mask > 128, mask == 128, threshold, connected=connected)
            result["noc85"].append(noc(ious, 0.85))
            result["noc90"].append(noc(ious, 0.90))
            result["iou1"].append(ious[0])
    return [{"threshold": threshold, "rule": "nearest-click+connected" if connected else "nearest-click",
             "images": len(result["noc90"]), **{key: round(float(np.mean(values)), 3) for key, values in result.items()}}
            for (threshold, connected), result in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path)
    source.add_argument("--model", type=Path, help="folder with model.json + model.onnx")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="images/ + masks/ folders")
    parser.add_argument("--center", action="store_true", help="checkpoints: as export --center")
    parser.add_argument("--long-side", type=int, help="override the input long side (checkpoints: config.long_side)")
    parser.add_argument("--metrics-out", type=Path, help="also write the rows as a flat JSON object (for MODEL_CARD)")
    parser.add_argument("--limit", type=int, default=None, help="first N images per folder")
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.8], help="cosine threshold(s) of the click rule")
    args = parser.parse_args()
    set_threads()
    embedder = Embedder(args.checkpoint, args.model, args.long_side, args.center)
    metrics = {}
    for folder in args.data:
        for row in evaluate_folder(embedder, folder, args.limit, args.threshold):
            print(json.dumps({"data": folder.name, "long_side": embedder.manifest["input"]["longSide"], **row}),
                  flush=True)
            key = (f"proxy NoC@85 / NoC@90 / 1-click IoU, {folder.name} first {row['images']} images, "
                   f"{row['rule']} rule, threshold {row['threshold']}")
            metrics[key] = f"{row['noc85']:.2f} / {row['noc90']:.2f} / {row['iou1']:.3f}"
    if args.metrics_out:
        args.metrics_out.write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
