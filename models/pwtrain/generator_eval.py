"""Measures the conditional generators (generator.py) for docs/generation.md; gen_report.py calls it, and
``npm run report:generation -- --only generators`` recomputes this section alone.

On held-out crops (eval/ is measured, never trained or tuned on), each generated from that crop's own condition:
Fréchet embedding distance (Gaussians fitted to the frozen pixelwise-unet-s embeddings, per cell and per crop;
this project's own space, not FID), re-embedding cosine to the real crop's map, and mask separability.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import IMAGE_SUFFIXES, read_rgb
from .decoder import normalise_image, studio_scaled
from .generator import load_generator, make_condition

GENERATOR_CONDITIONS = ("embedding", "mask", "none")
REFERENCE = "reference: real crops (Fréchet: a random half vs the other; cosine: a crop of another image)"


def eval_crops(folder: Path, limit: int, long_side: int, size: int, per_image: int = 2, seed: int = 0):
    """Held-out crops for the generator metrics: (Nx3xSxS RGB [0, 1], NxSxS int64 labels 0/1). Images scaled like
    the studio; per image one crop centred on a random point of the object's outline (object and background both
in view) and random others (seeded)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for path in sorted(p for p in (folder / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]:
        image = studio_scaled(read_rgb(path), long_side)
        mask = next((cv2.imread(str(folder / "masks" / f"{path.stem}{s}"), cv2.IMREAD_GRAYSCALE)
                     for s in (".png", ".bmp") if (folder / "masks" / f"{path.stem}{s}").exists()), None)
        if mask is None:
            continue
        mask = cv2.resize((mask > 128).astype(np.uint8), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        height, width = mask.shape
        edge = mask ^ cv2.erode(mask, np.ones((3, 3), np.uint8))
        ys, xs = np.nonzero(edge)
        pick = int(rng.integers(len(ys))) if len(ys) else 0
        centres = [(int(ys[pick]), int(xs[pick]))] if len(ys) else []
        while len(centres) < per_image:
            centres.append((int(rng.integers(height)), int(rng.integers(width))))
        for cy, cx in centres:
            y = int(np.clip(cy - size // 2, 0, max(0, height - size)))
            x = int(np.clip(cx - size // 2, 0, max(0, width - size)))
            crop, crop_mask = image[y:y + size, x:x + size], mask[y:y + size, x:x + size]
            if crop.shape[:2] != (size, size):
                continue
            images.append(crop.astype(np.float32) / 255)
            labels.append(crop_mask.astype(np.int64))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(np.stack(labels))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a and b (Dowson & Landau 1982)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real))


def mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def prototype_iou(maps: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Per crop with object and background (>= 10% of the grid each): each cell goes to the nearer (cosine) of the
    object's and the background's mean embedding, taken under the true mask; IoU with the true cell mask. High when
    the image shows a region with its own embeddings exactly where the mask says."""
    grid = F.interpolate(labels[:, None].float(), size=maps.shape[-2:], mode="area")[:, 0] > 0.5
    scores = []
    for vectors, inside in zip(F.normalize(maps, dim=1), grid):
        share = float(inside.float().mean())
        if not 0.1 <= share <= 0.9:
            continue
        fg, bg = vectors[:, inside].mean(1), vectors[:, ~inside].mean(1)
        predicted = (torch.einsum("dhw,d->hw", vectors, fg) > torch.einsum("dhw,d->hw", vectors, bg))
        scores.append(float((predicted & inside).sum() / (predicted | inside).sum()))
    return scores


@torch.no_grad()
def generator_results(embedder, manifest, runs: Path, data: Path, limit: int, tiles_out: Path) -> dict:
    """Generators conditioned on embedding / mask / nothing, on held-out eval crops (reporting only)."""
    loaded = {}
    for condition in GENERATOR_CONDITIONS:
        path = runs / f"generator_{condition}" / "last.pt"
        if not path.exists():
            raise FileNotFoundError(f"no generator checkpoint {path}: train it first (models/README.md)")
        loaded[condition] = load_generator(path)
    config = loaded["embedding"][1]
    if len({(c.data.crop, c.train.batch, c.train.steps, s["step"]) for _, c, s in loaded.values()}) != 1:
        raise ValueError("the three generator runs differ in crop, batch or steps: not an equal-compute comparison")
    size = config.data.crop
    parts = [eval_crops(data / "eval" / name, limit, manifest["input"]["longSide"], size) for name in ("GrabCut", "COCO_MVal")]
    images, labels = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    embed = lambda x: torch.cat([embedder(normalise_image(x[i:i + 64], manifest)) for i in range(0, len(x), 64)])  # noqa: E731
    real = embed(images)
    cells = lambda m: m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]).numpy()  # noqa: E731
    pooled = lambda m: F.normalize(m.mean((2, 3)), dim=1).numpy()  # noqa: E731
    half = len(images) // 2
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))  # both halves mix both sets
    first, second = order[:half], order[half:]
    centre = real.mean((0, 2, 3), keepdim=True)  # the direction every map shares; the centred cosine leaves it out
    rows = {REFERENCE: {
        "cells": frechet_distance(cells(real[first]), cells(real[second])),
        "pooled": frechet_distance(pooled(real[first]), pooled(real[second])),
        "cosine": float(F.cosine_similarity(real.roll(half, 0), real, dim=1).mean()),
        "centred": float(F.cosine_similarity(real.roll(half, 0) - centre, real - centre, dim=1).mean()),
        "iou": mean_or_none(prototype_iou(real, labels))}}
    samples = {}
    for condition, (generator, run_config, state) in loaded.items():
        randomness = torch.Generator().manual_seed(7)
        condition_map = make_condition(run_config, embedder, manifest, images, labels, randomness)
        noise = torch.randn(len(images), run_config.model.noise, generator=randomness)
        fake = torch.cat([generator(condition_map[i:i + 64], noise[i:i + 64], (size, size)) for i in range(0, len(images), 64)])
        again = embed(fake)
        rows[f"generator, condition: {condition}"] = {
            "cells": frechet_distance(cells(real), cells(again)), "pooled": frechet_distance(pooled(real), pooled(again)),
            "cosine": float(F.cosine_similarity(again, real, dim=1).mean()),
            "centred": float(F.cosine_similarity(again - centre, real - centre, dim=1).mean()),
            "iou": mean_or_none(prototype_iou(again, labels))}
        samples[condition] = fake
    write_generator_grid(images, labels, samples, tiles_out)
    steps = loaded["embedding"][2]["step"]
    minutes = {c: s["elapsed_minutes"] for c, (_, _, s) in loaded.items()}
    parameters = {c: s["parameters"]["generator"] for c, (_, _, s) in loaded.items()}
    final = {c: float(np.mean([e["discriminator"] for e in s["history"][-5:]])) for c, (_, _, s) in loaded.items()}
    return {"rows": rows, "crops": len(images), "size": size, "steps": steps, "batch": config.train.batch,
            "minutes": minutes, "parameters": parameters, "limit": limit,
            "discriminator_loss": final}


def write_generator_grid(images, labels, samples: dict, out: Path, count: int = 6) -> None:
    """Rows: held-out crop | its mask | generated from its embedding map | from its mask | unconditioned."""
    chosen = ([i for i in range(len(images)) if 0.1 < float(labels[i].float().mean()) < 0.9]
              or list(range(len(images))))[:count]
    to_tile = lambda t: cv2.resize((t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), (128, 128),  # noqa: E731
                                   interpolation=cv2.INTER_NEAREST)
    rows = []
    for index in chosen:
        mask = np.repeat((labels[index].numpy() * 255).astype(np.uint8)[..., None], 3, axis=2)
        cells = [to_tile(images[index]), cv2.resize(mask, (128, 128), interpolation=cv2.INTER_NEAREST)]
        cells += [to_tile(samples[c][index]) for c in GENERATOR_CONDITIONS]
        gap = np.full((128, 4, 3), 255, np.uint8)
        rows.append(np.pad(np.concatenate([x for cell in cells for x in (cell, gap)][:-1], axis=1),
                           ((0, 4), (0, 0), (0, 0)), constant_values=255))
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def generator_lines(result: dict) -> list[str]:
    number = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lines = [
        "## Generators", "",
        "![held-out crop | its mask | from its embedding map | from its mask | unconditioned](generation/generators.jpg)", "",
        f"Three copies of one small generator (`models/pwtrain/generator.py`: SPADE-style per-pixel scale/shift from a "
        "condition map, plus a noise vector; a patch discriminator that scores every grid cell and also reads the "
        "condition; hinge loss only) trained at equal compute: "
        f"{result['steps']} steps of batch {result['batch']}, {result['size']} px crops of VOC co-seg + COCO128 "
        "panoptic photos scaled like the studio, one CPU thread each on 2 shared cores ("
        + ", ".join(f"{c} {m:.0f} min" for c, m in result["minutes"].items()) + " wall; generators of "
        + ", ".join(f"{p / 1000:.0f}k" for p in result["parameters"].values()) + " parameters). Conditions: "
        "the stored int8 embedding map of the real crop; its instance masks (one channel per instance for the 6 "
        "largest, plus the boundary); nothing (a constant map). Discriminator hinge loss over the last logged steps: "
        + ", ".join(f"{c} {v:.2f}" for c, v in result["discriminator_loss"].items())
        + " (2 = chance: near it, the discriminator barely tells real from generated).", "",
        f"Measured on {result['crops']} held-out {result['size']} px crops (first {result['limit']} images of GrabCut "
        "and of COCO_MVal, one crop on the object's outline and one at random each), each generated from that crop's own "
        "condition with fixed noise:", "",
        "| images | Fréchet embedding distance, cells | Fréchet embedding distance, crop means | re-embedding cosine to the real crop's map | same, centred | mask separability IoU |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {row['cells']:.3f} | {row['pooled']:.4f} | {number(row['cosine'], '.3f')} | {number(row['centred'], '.3f')} | {number(row['iou'], '.3f')} |"
              for name, row in result["rows"].items()]
    lines += [
        "", "- Fréchet embedding distance: the Fréchet distance between Gaussians fitted to the frozen "
        "pixelwise-unet-s embeddings (16-d) of the real and of the generated crops - per grid cell (stride 4) and per "
        "crop (mean-pooled, renormalised). It is this project's own embedding space, not FID: no Inception weights "
        "can be had here, and the numbers are not comparable with published FIDs. Lower = closer to real images. The "
        "reference row's distances are the sampling floor (real against real).",
        "- Re-embedding cosine: the embedder on the generated crop against its map of the real crop, mean over cells. "
        "For the embedding-conditioned generator this is how well it honours its condition; for the others it "
        "shows how much of the real crop's content survives through a mask or nothing. The reference row is the "
        "cosine between two unrelated real crops' maps: any image scores about that, because all maps share a "
        "common direction. The centred cosine subtracts the mean real embedding from both maps first, so unrelated "
        "crops score near 0.",
        "- Mask separability IoU: per crop with object and background, every cell of the generated image's map is "
        "assigned to the nearer of the object's and the background's mean embedding (under the true mask); IoU "
        "with the true mask. A stand-in for mask preservation through the studio's click engine, which was not run.",
        "", "What these numbers can and cannot say: generators of a fifth of a million parameters trained for minutes "
        "of one CPU thread are far from converged, and their samples are blurry colour fields, not photos (at 1500 "
        "steps the mask-conditioned one paints flat fields with the instance outline drawn in, the unconditioned one "
        "flat fields with stripes at the border; their discriminators stayed near chance); the comparison "
        "is between conditions at the same (small) compute, not of what a trained generator can do. The embedding "
        "map carries far more information about the target than a mask or nothing, and the Fréchet distance is "
        "measured by the same embedder that made the condition, so the embedding-conditioned generator is favoured "
        "by construction; the mask and unconditioned runs show how much of that is the condition rather than the "
        "network. One seed, no error bars.", "",
        "Reproduce (each run alone can be resumed with `--resume`; `--device cuda` and a larger config on a GPU):", "",
        "```",
        *[f"/usr/bin/python3 -m models.pwtrain.generator --config models/configs/generator_s.json --condition {c} "
          f"--real-dirs ../shared/data/train/VOC_coseg ../shared/data/train/COCO128_panoptic --out models/runs/generator_{c}"
          for c in GENERATOR_CONDITIONS],
        "npm run report:generation -- --data ../shared/data --only generators",
        "```", "",
    ]
    return lines


def splice_generators(text: str, section: list[str], title: str = "## Generators",
                      done_bullet: str = "- Conditional generator") -> str:
    """The document with its `title` section (default '## Generators') replaced (or inserted before '## Not done')
    and the not-done bullet starting with `done_bullet` removed."""
    lines = [line for line in text.splitlines() if not line.startswith(done_bullet)]
    if title in lines:
        start = lines.index(title)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section
    else:
        at = lines.index("## Not done") if "## Not done" in lines else len(lines)
        lines[at:at] = section
    return "\n".join(lines).rstrip("\n") + "\n"


def kept_section(document: Path, title: str = "## Generators") -> list[str]:
    """The `title` section (default '## Generators') of an existing document (empty if it has none)."""
    lines = document.read_text().splitlines() if document.exists() else []
    if title not in lines:
        return []
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]
