"""Real training data: images/ + masks/ folders, COCO instance JSON and COCO128-panoptic scenes, cached small,
and the crop and colour augmentation every real pair goes through (stream.py mixes them with synthetic and
composited pairs).

Label convention (HxW int64) used by the losses:
  >= 0  instance id; equal ids are positives, also across the two images of a pair
  -1    NEGATIVE: real-image background. A foreground/background mask says nothing about how many objects the
        background holds, so background pixels are never pulled together (that would teach "everything that is
        not the object is one thing", wrong for the next click on another object); they only push away from
        the instance means and serve as InfoNCE negatives.
  -2    IGNORE: unlabelled band (mask value 128) or padding; no loss at all.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from .config import DataConfig

NEGATIVE, IGNORE = -1, -2
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def mask_to_labels(mask: np.ndarray, background: str) -> np.ndarray:
    """uint8 mask (>128 object, 128 ignore, else background) -> int64 labels (1, NEGATIVE or 0, IGNORE)."""
    labels = np.where(mask > 128, 1, NEGATIVE if background == "negative" else 0).astype(np.int64)
    labels[mask == 128] = IGNORE
    return labels


def scan_mask_folder(root: Path):
    """Yield (group, image path, mask path) for every images/**/stem.* with a masks/**/stem.{png,bmp}."""
    for images in sorted(p for p in root.rglob("images") if p.is_dir()):
        masks = images.parent / "masks"
        for image in sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            relative = image.relative_to(images)
            for suffix in (".png", ".bmp"):
                mask = masks / relative.with_suffix(suffix)
                if mask.exists():
                    yield str(relative.parent), image, mask
                    break


def decode_coco_rle(counts, height: int, width: int) -> np.ndarray:
    """COCO RLE (uncompressed list or compressed string) -> HxW uint8, column-major as COCO stores it."""
    if isinstance(counts, str):
        values, index = [], 0
        while index < len(counts):
            value, shift, more = 0, 0, True
            while more:
                char = ord(counts[index]) - 48
                value |= (char & 0x1F) << (5 * shift)
                more = bool(char & 0x20)
                index += 1
                shift += 1
                if not more and (char & 0x10):
                    value |= -1 << (5 * shift)
            if len(values) > 2:
                value += values[-2]
            values.append(value)
        counts = values
    flat = np.zeros(height * width, np.uint8)
    position, colour = 0, 0
    for run in counts:
        flat[position:position + run] = colour
        position += run
        colour ^= 1
    return flat.reshape(width, height).T


def panoptic_scenes(root: Path):
    """Yield (image uint8 RGB, segment indices HxW int64, segments) for every COCO128-panoptic scene under root."""
    spec = json.loads((root / "segments.json").read_text())
    for entry in spec["images"]:
        indices = cv2.imread(str(root / "segments" / f"{entry['stem']}.png"), cv2.IMREAD_UNCHANGED)
        if indices is None:
            raise OSError(f"cannot read {root / 'segments' / entry['stem']}.png")
        yield read_rgb(root / "images" / f"{entry['stem']}.jpg"), indices.astype(np.int64), entry["segments"]


def coco_instance_labels(annotations, height: int, width: int) -> np.ndarray:
    """All instances of one COCO image -> int64 labels (0 = unannotated background, i = i-th instance)."""
    labels = np.zeros((height, width), np.int64)
    for index, annotation in enumerate(sorted(annotations, key=lambda a: -a.get("area", 0)), start=1):
        segmentation = annotation["segmentation"]
        if isinstance(segmentation, list):
            canvas = np.zeros((height, width), np.uint8)
            for polygon in segmentation:
                cv2.fillPoly(canvas, [np.asarray(polygon, np.float64).reshape(-1, 2).round().astype(np.int32)], 1)
        else:
            canvas = decode_coco_rle(segmentation["counts"], *segmentation["size"])
        labels[canvas > 0] = index
        if annotation.get("iscrowd"):
            labels[canvas > 0] = IGNORE
    return labels


def resize_pair(image: np.ndarray, labels: np.ndarray, long_side: int):
    scale = long_side / max(image.shape[:2])
    if scale >= 1:
        return image, labels
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(labels.astype(np.int32), size, interpolation=cv2.INTER_NEAREST).astype(np.int64))


class RealImages:
    """Real images cached in memory at a small size, grouped (class folder or COCO) for cross-image pairs."""

    def __init__(self, config: DataConfig):
        self.items, self.groups = [], defaultdict(list)
        for root in config.real_dirs:
            if "eval" in Path(root).resolve().parts:
                raise ValueError(f"refusing to train on an eval/ folder: {root}")
            for group, image_path, mask_path in scan_mask_folder(Path(root)):
                mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                self._add(f"{root}:{group}", read_rgb(image_path), mask_to_labels(mask, config.real_background),
                          config.real_long_side)
        for annotation_file, image_dir in config.coco:
            spec = json.loads(Path(annotation_file).read_text())
            by_image = defaultdict(list)
            for annotation in spec["annotations"]:
                by_image[annotation["image_id"]].append(annotation)
            for info in spec["images"]:
                labels = coco_instance_labels(by_image[info["id"]], info["height"], info["width"])
                self._add(f"coco:{annotation_file}", read_rgb(Path(image_dir) / info["file_name"]), labels,
                          config.real_long_side, own_ids=True)
        for root in config.panoptic:
            if "eval" in Path(root).resolve().parts:
                raise ValueError(f"refusing to train on an eval/ folder: {root}")
            for image, indices, segments in panoptic_scenes(Path(root)):
                labels = np.where(indices > 0, indices, IGNORE)
                for segment in segments:
                    if segment["iscrowd"]:
                        labels[indices == segment["index"]] = IGNORE
                self._add(f"panoptic:{root}", image, labels, config.real_long_side, own_ids=True)
        self.group_names = sorted(self.groups)

    def _add(self, group, image, labels, long_side, own_ids=False):
        image, labels = resize_pair(image, labels, long_side)
        self.groups[group].append(len(self.items))
        self.items.append((image, labels, own_ids))

    def __len__(self):
        return len(self.items)

    def pair(self, rng: np.random.Generator, size: int, same_class: bool):
        """Two augmented SxS crops; foreground ids shared across them when same_class (else id 1 vs 2)."""
        group = self.groups[self.group_names[int(rng.integers(len(self.group_names)))]]
        picks = rng.choice(group, 2, replace=len(group) < 2)
        images, labels = [], []
        for view, index in enumerate(picks):
            image, label, own_ids = self.items[int(index)]
            image, label = random_crop(rng, image, label, size)
            if own_ids:  # COCO: instance ids of different images must not collide
                label = np.where(label > 0, label + 1000 * view, label)
            elif not same_class:
                label = np.where(label == 1, 1 + view, label)
            images.append(colour_jitter(rng, image))
            labels.append(label)
        return np.stack(images), np.stack(labels)


def random_crop(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, size: int):
    """Random scale, crop and flip to SxS; area outside the image is IGNORE."""
    scale = size / max(image.shape[:2]) * math.exp(rng.uniform(-0.1, 0.6))
    matrix = np.array([[scale, 0, 0], [0, scale, 0]], np.float64)
    if rng.random() < 0.5:
        matrix[0] = [-scale, 0, image.shape[1] * scale]
    height, width = image.shape[0] * scale, image.shape[1] * scale
    matrix[0, 2] += -rng.uniform(0, max(0.0, width - size)) if width > size else rng.uniform(0, size - width)
    matrix[1, 2] += -rng.uniform(0, max(0.0, height - size)) if height > size else rng.uniform(0, size - height)
    warped = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    warped_labels = cv2.warpAffine(labels.astype(np.float32), matrix, (size, size), flags=cv2.INTER_NEAREST,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE)
    return warped.astype(np.float32) / 255, warped_labels.astype(np.int64)


def colour_jitter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    image = image * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * rng.uniform(0.7, 1.3)
    return np.clip(image, 0, 1).astype(np.float32)
