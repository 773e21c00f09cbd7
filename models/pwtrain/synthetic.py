"""Synthetic dead-leaves image pairs with exact per-pixel instance ids.

Each pair shares some objects (same shape and texture) placed under a different pose, scale and stacking order
in each view, so occlusion differs; the rest are per-view distractors, some of which copy another object's look
so that identical-looking objects must still separate. Backgrounds, lighting, noise and blur differ per view.
Images: HxWx3 float32 RGB in [0, 1]. Labels: HxW int64, instance id >= 0 (ids shared across the two views).
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def random_colour(rng: np.random.Generator) -> np.ndarray:
    # Sample in HSV so saturation and value spread like natural photos, not uniformly in RGB.
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(0, 256), rng.integers(30, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int, channels: int = 1) -> np.ndarray:
    coarse = rng.standard_normal((max(2, height // cells), max(2, width // cells), channels)).astype(np.float32)
    field_ = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return field_.reshape(height, width, channels)


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """HxWx3 float32 texture in [0, 1]: flat, gradient, stripes, checks, dots, or coloured noise."""
    first, second = random_colour(rng), random_colour(rng)
    kind = rng.choice(["flat", "gradient", "stripes", "checks", "dots", "noise", "noise"])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    if kind == "flat":
        weight = np.zeros((height, width), np.float32)
    elif kind == "gradient":
        weight = (along - along.min()) / max(1e-6, float(np.ptp(along)))
    elif kind == "stripes":
        weight = 0.5 + 0.5 * np.sin(along * 2 * math.pi / rng.uniform(4, 24))
    elif kind == "checks":
        period = rng.uniform(4, 20)
        across = -xs * math.sin(angle) + ys * math.cos(angle)
        weight = ((np.floor(along / period) + np.floor(across / period)) % 2).astype(np.float32)
    elif kind == "dots":
        period = rng.uniform(6, 18)
        weight = ((np.sin(xs * 2 * math.pi / period) * np.sin(ys * 2 * math.pi / period)) > 0.5).astype(np.float32)
    else:
        weight = smooth_noise(rng, height, width, int(rng.integers(2, 24)))[..., 0]
        weight = 1 / (1 + np.exp(-2 * weight))
    image = first * (1 - weight[..., None]) + second * weight[..., None]
    image += smooth_noise(rng, height, width, 3, 3) * rng.uniform(0, 0.06)  # fine grain
    return np.clip(image, 0, 1).astype(np.float32)


def shape_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """size x size float32 alpha in [0, 1] with an ellipse, polygon, star or blob roughly filling it."""
    canvas = np.zeros((size, size), np.uint8)
    centre = size / 2
    kind = rng.choice(["ellipse", "polygon", "star", "blob", "blob"])
    if kind == "ellipse":
        axes = (int(centre * rng.uniform(0.4, 0.95)), int(centre * rng.uniform(0.2, 0.95)))
        cv2.ellipse(canvas, (int(centre), int(centre)), axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    elif kind in ("polygon", "star"):
        count = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * math.pi, count * (2 if kind == "star" else 1)))
        radii = centre * rng.uniform(0.5, 0.95, angles.size)
        if kind == "star":
            radii[::2] *= rng.uniform(0.3, 0.7)
        points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [points.astype(np.int32)], 255, cv2.LINE_AA)
    else:
        noise = smooth_noise(rng, size, size, max(2, size // int(rng.integers(2, 5))))[..., 0]
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        radial = ((xs - centre) ** 2 + (ys - centre) ** 2) / centre ** 2
        canvas = ((noise + 1.5 * (1 - radial) - 0.8) > 0).astype(np.uint8) * 255
    return cv2.GaussianBlur(canvas, (3, 3), 0).astype(np.float32) / 255


class Sprite:
    """One object: texture and alpha on a local canvas, placed per view with its own affine pose."""

    def __init__(self, rng: np.random.Generator, image_size: int, look: "Sprite | None" = None):
        size = int(image_size * rng.uniform(0.15, 0.6))
        self.alpha = shape_mask(rng, size)
        self.colour = look.colour if look is not None and look.colour.shape[0] >= size else texture(rng, size, size)
        self.colour = self.colour[:size, :size]
        self.size = size

    def place(self, rng: np.random.Generator, image_size: int, scale_jitter: float):
        scale = math.exp(rng.uniform(-scale_jitter, scale_jitter))
        angle = rng.uniform(-35, 35)
        matrix = cv2.getRotationMatrix2D((self.size / 2, self.size / 2), angle, scale)
        matrix[:, 2] += rng.uniform(-0.2, 1.0, 2) * image_size - self.size / 2 * (1 - scale) * 0
        flags = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        colour = cv2.warpAffine(self.colour, matrix, (image_size, image_size), **flags)
        alpha = cv2.warpAffine(self.alpha, matrix, (image_size, image_size), **flags)
        return colour, alpha


def degrade(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Per-view lighting gradient, colour cast, blur and sensor noise."""
    size = image.shape[0]
    light = 1 + smooth_noise(rng, size, size, size // 2)[..., 0:1] * rng.uniform(0, 0.25)
    image = image * light * rng.uniform(0.85, 1.15, 3).astype(np.float32) + rng.uniform(-0.06, 0.06)
    if rng.random() < 0.4:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2))
    image = image + rng.standard_normal(image.shape).astype(np.float32) * rng.uniform(0, 0.04)
    return np.clip(image, 0, 1).astype(np.float32)


def synthetic_pair(rng: np.random.Generator, size: int, min_objects: int = 4, max_objects: int = 14,
                   shared_fraction: float = 0.6, duplicate_probability: float = 0.15):
    """Two views sharing objects. Returns (images 2xSxSx3 float32 [0,1], labels 2xSxS int64 ids >= 0)."""
    count = int(rng.integers(min_objects, max_objects + 1))
    shared = [Sprite(rng, size) for _ in range(max(1, int(round(count * shared_fraction))))]
    images, labels = [], []
    next_id = 1 + len(shared)
    for view in range(2):
        objects = list(enumerate(shared, start=1))
        for _ in range(count - len(shared)):
            look = objects[int(rng.integers(len(objects)))][1] if rng.random() < duplicate_probability else None
            objects.append((next_id, Sprite(rng, size, look)))
            next_id += 1
        order = rng.permutation(len(objects))
        image = texture(rng, size, size)
        label = np.full((size, size), 1000 + view, np.int64)  # each view's background is its own instance
        for index in order:
            instance, sprite = objects[index]
            colour, alpha = sprite.place(rng, size, scale_jitter=0.35)
            image = image * (1 - alpha[..., None]) + colour * alpha[..., None]
            label[alpha > 0.5] = instance
        images.append(degrade(rng, image))
        labels.append(label)
    return np.stack(images), np.stack(labels)
