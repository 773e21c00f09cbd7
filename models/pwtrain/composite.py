"""Composited training scenes: real objects cut out by their masks and pasted -- scaled, flipped, recoloured and
occluding each other -- onto real photos and onto synthetic scenes, with exact instance ids.

    /usr/bin/python3 -m models.pwtrain.composite --voc ../shared/data/train/VOC_coseg \
        --panoptic ../shared/data/train/COCO128_panoptic --out /tmp/composites.png

Real masked photos are few (598 VOC photos, 100 COCO128 panoptic scenes); compositing turns their objects into
unlimited cluttered scenes. Sources of cutouts: each connected foreground component of a VOC mask, and each
non-crowd "thing" segment of a COCO128 panoptic scene. Backgrounds: the panoptic scenes (every segment its own
instance), VOC photos (object = instance, background negative-only, as in data.py) and synthetic dead-leaves views.

The two views of a pair share some pasted objects (same instance id, new pose, scale, colour and stacking order)
plus per-view distractors, as synthetic.py does, so a pair teaches both "separate these" and "these are one object".
Labels follow data.py: >= 0 instance id, NEGATIVE = -1 negative-only background, IGNORE = -2 no loss. A pasted
object owns exactly the pixels where its resized mask is >= 0.5 and no later paste covers it; the image is blended
with the soft mask so edges carry no cut-out halo.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .data import IGNORE, NEGATIVE, panoptic_scenes, random_crop, read_rgb, resize_pair, scan_mask_folder
from .synthetic import synthetic_pair

SHARED_IDS, DISTRACTOR_IDS, BACKGROUND_IDS = 20_000, 30_000, 100_000  # id ranges that cannot collide


@dataclass
class Cutout:
    """One object: colour (hxwx3 float32 RGB in [0, 1]) and its mask (hxw bool), cropped to the mask's box."""
    rgb: np.ndarray
    mask: np.ndarray


@dataclass
class Background:
    """A real photo (HxWx3 uint8 RGB) with its labels (HxW int64, ids >= 1 are instances of this photo)."""
    image: np.ndarray
    labels: np.ndarray


def crop_to_mask(image: np.ndarray, mask: np.ndarray) -> Cutout:
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return Cutout(image[top:bottom, left:right].astype(np.float32) / 255, mask[top:bottom, left:right].copy())


class ObjectBank:
    """Cutouts and backgrounds from real training data, cached at `long_side` (never reads an eval/ folder)."""

    def __init__(self, voc_dirs=(), panoptic_dirs=(), long_side: int = 320, min_area: int = 300):
        self.cutouts: list[Cutout] = []
        self.backgrounds: list[Background] = []
        for root in [*voc_dirs, *panoptic_dirs]:
            if "eval" in Path(root).resolve().parts:
                raise ValueError(f"refusing to train on an eval/ folder: {root}")
        for root in voc_dirs:
            for _, image_path, mask_path in scan_mask_folder(Path(root)):
                mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                labels = np.where(mask > 128, 1, NEGATIVE).astype(np.int64)
                labels[mask == 128] = IGNORE
                image, labels = resize_pair(read_rgb(image_path), labels, long_side)
                self.backgrounds.append(Background(image, labels))
                count, components = cv2.connectedComponents((labels == 1).astype(np.uint8))
                self._cut(image, components, range(1, count), min_area)
        for root in panoptic_dirs:
            for image, indices, segments in panoptic_scenes(Path(root)):
                labels = np.where(indices > 0, indices, IGNORE)
                for segment in segments:
                    if segment["iscrowd"]:
                        labels[indices == segment["index"]] = IGNORE
                image, labels = resize_pair(image, labels, long_side)
                self.backgrounds.append(Background(image, labels))
                things = [s["index"] for s in segments if s["isthing"] and not s["iscrowd"]]
                self._cut(image, labels, things, min_area)

    def _cut(self, image: np.ndarray, labels: np.ndarray, ids, min_area: int) -> None:
        for instance in ids:
            mask = labels == instance
            if mask.sum() >= min_area:
                self.cutouts.append(crop_to_mask(image, mask))


def recolour(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Per-channel gain, brightness, saturation and sometimes a channel permutation (a red car becomes blue)."""
    if rng.random() < 0.25:
        rgb = rgb[..., rng.permutation(3)]
    rgb = rgb * rng.uniform(0.75, 1.25, 3).astype(np.float32) + np.float32(rng.uniform(-0.1, 0.1))
    grey = rgb.mean(axis=2, keepdims=True)
    return np.clip(grey + (rgb - grey) * np.float32(rng.uniform(0.6, 1.4)), 0, 1)


def paste(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, cutout: Cutout, instance: int,
          scale_range=(0.15, 0.7)) -> np.ndarray:
    """Pastes `cutout` in place into image (SxSx3 float32) and labels (SxS int64) with id `instance`; returns the
    pixels it now owns (SxS bool, before any later paste covers them). At least half of the object stays inside."""
    size = image.shape[0]
    long_side = size * rng.uniform(*scale_range)
    scale = long_side / max(cutout.mask.shape)
    width = max(2, round(cutout.mask.shape[1] * scale))
    height = max(2, round(cutout.mask.shape[0] * scale))
    rgb = cv2.resize(recolour(rng, cutout.rgb), (width, height), interpolation=cv2.INTER_LINEAR)
    soft = cv2.resize(cutout.mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        rgb, soft = rgb[:, ::-1], soft[:, ::-1]
    left = int(rng.integers(-width // 2, size - width // 2))
    top = int(rng.integers(-height // 2, size - height // 2))
    # Intersection of the object's box with the canvas, in canvas and in object coordinates.
    x0, y0, x1, y1 = max(0, left), max(0, top), min(size, left + width), min(size, top + height)
    owned = np.zeros(labels.shape, bool)
    if x1 <= x0 or y1 <= y0:
        return owned
    alpha = soft[y0 - top:y1 - top, x0 - left:x1 - left, None]
    region = image[y0:y1, x0:x1]
    region[:] = region * (1 - alpha) + rgb[y0 - top:y1 - top, x0 - left:x1 - left] * alpha
    owned[y0:y1, x0:x1] = alpha[..., 0] >= 0.5
    labels[owned] = instance
    return owned


def real_background_views(rng: np.random.Generator, bank: ObjectBank, size: int):
    """Two SxS crops: half the time of one photo (its segments are the same instances in both views), else of two."""
    count = len(bank.backgrounds)
    same = rng.random() < 0.5
    picks = [int(rng.integers(count))] * 2 if same else rng.choice(count, 2, replace=count < 2)
    images, labels = [], []
    for view, index in enumerate(picks):
        background = bank.backgrounds[int(index)]
        image, label = random_crop(rng, background.image, background.labels, size)
        offset = BACKGROUND_IDS * (1 if same else view + 1)
        images.append(image)
        labels.append(np.where(label >= 0, label + offset, label))
    return np.stack(images), np.stack(labels)


def composite_pair(rng: np.random.Generator, bank: ObjectBank, size: int, min_objects: int = 3,
                   max_objects: int = 10, shared_fraction: float = 0.6, synthetic_background: float = 0.3):
    """(images 2xSxSx3 float32 RGB in [0, 1], labels 2xSxS int64): cutouts over a real or synthetic background."""
    if not bank.backgrounds or rng.random() < synthetic_background:
        images, labels = synthetic_pair(rng, size, 2, 6)
    else:
        images, labels = real_background_views(rng, bank, size)
    images, labels = images.copy(), labels.copy()
    count = int(rng.integers(min_objects, max_objects + 1))
    shared = [bank.cutouts[int(i)] for i in rng.choice(len(bank.cutouts), max(1, round(count * shared_fraction)))]
    for view in range(2):
        distractors = rng.choice(len(bank.cutouts), max(0, count - len(shared)))
        objects = [(cutout, SHARED_IDS + i) for i, cutout in enumerate(shared)]
        objects += [(bank.cutouts[int(c)], DISTRACTOR_IDS + 1000 * view + i) for i, c in enumerate(distractors)]
        for order in rng.permutation(len(objects)):
            cutout, instance = objects[int(order)]
            paste(rng, images[view], labels[view], cutout, instance)
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voc", nargs="*", default=[], help="images/ + masks/ folders (train only)")
    parser.add_argument("--panoptic", nargs="*", default=[], help="COCO128-panoptic folders (train only)")
    parser.add_argument("--out", type=Path, default=Path("composites.png"))
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args()
    bank = ObjectBank(args.voc, args.panoptic)
    rng = np.random.default_rng(0)
    palette = np.random.default_rng(1).integers(0, 255, (4096, 3)).astype(np.uint8)
    rows = []
    for _ in range(args.pairs):
        images, labels = composite_pair(rng, bank, 256)
        shown = palette[np.where(labels < 0, 4096 + labels, labels % 4000)]
        rows.append(np.concatenate([(images[0] * 255).astype(np.uint8), shown[0],
                                    (images[1] * 255).astype(np.uint8), shown[1]], 1))
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: {len(bank.cutouts)} cutouts, {len(bank.backgrounds)} backgrounds")


if __name__ == "__main__":
    main()
