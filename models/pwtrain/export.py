"""Export a trained checkpoint (or a random-init control) to ONNX + model.json (+ MODEL_CARD.md).

    /usr/bin/python3 -m models.pwtrain.export --checkpoint models/runs/unet_s/last.pt --out models/builtin/pixelwise-unet-s
    /usr/bin/python3 -m models.pwtrain.export --config models/configs/ablation_random.json --untrained --out models/experiments/ablation-random

The ONNX graph comes from a separate export wrapper (eval mode, named input ``image`` and output ``embedding``,
opset 17, dynamic H and W). The export only counts as done once onnxruntime-node reproduces the PyTorch output
within 1e-4 (models/tools/ort_run.cjs); the sha256 in model.json is taken from the file written.
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import set_threads
from .checkpoint import load_model
from .config import Config, load_config
from .stream import PairStream
from .nets import parameter_count
from .onnx_utils import IMAGENET_MEAN, IMAGENET_STD, check_parity, export_onnx, run_onnxruntime_node, write_manifest

MULTIPLE_OF = 32  # the encoder downsamples five times


class ExportWrapper(nn.Module):
    """image float32 1x3xHxW (ImageNet-normalised RGB, H and W multiples of 32) -> embedding float32
    1xDx(H/4)x(W/4), unit L2 norm per cell.

    With ``center`` (D floats, the mean training embedding) each cell becomes normalize(e - center). Why: the
    trained embeddings sit in a cap of the sphere (mean vector norm ~0.8), so all cosine similarities are high
    and a fixed click threshold separates little; removing the common component spreads them without changing
    which cells are nearest to which cluster mean by much."""

    def __init__(self, model: nn.Module, center: torch.Tensor | None = None):
        super().__init__()
        self.model = model.eval()
        self.register_buffer("center", (center if center is not None else torch.zeros(0)).reshape(1, -1, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        embedding = self.model(image)
        if self.center.numel():
            embedding = F.normalize(embedding - self.center, dim=1)
        return embedding


@torch.no_grad()
def training_mean_embedding(model: nn.Module, config: Config, pairs: int = 48) -> torch.Tensor:
    """Mean embedding over training-distribution crops (synthetic + the config's real folders; never eval/)."""
    stream = PairStream(config.data, IMAGENET_MEAN, IMAGENET_STD, seed=4242)
    total, count = torch.zeros(config.model.dim), 0
    for _ in range(pairs // 4):
        images, labels = stream.batch(4)
        embedding = model.eval()(images)
        valid = (labels[:, 2::4, 2::4] != -2).unsqueeze(1).float()
        total += (embedding * valid).sum(dim=(0, 2, 3))
        count += float(valid.sum())
    return total / max(1.0, count)


def time_at_long_side(onnx_path: Path, long_side: int = 1024, repeat: int = 5) -> dict:
    """onnxruntime-node cost of one 4:3 image with the given long side: median wall ms with 2 threads, and median
    process CPU ms with 1 thread and no spinning (on a shared machine the CPU time is the honest number; an idle
    2-core machine needs roughly cpu/2 to cpu wall ms)."""
    height = long_side * 3 // 4 // MULTIPLE_OF * MULTIPLE_OF
    image = np.random.rand(1, 3, height, long_side).astype(np.float32)
    _, wall = run_onnxruntime_node(onnx_path, image, threads=2, repeat=repeat)
    _, cpu = run_onnxruntime_node(onnx_path, image, threads=1, repeat=repeat, spin=False)
    return {f"onnxruntime-node at {long_side}x{height}: wall ms, 2 threads, shared machine": round(wall["medianMs"], 1),
            f"onnxruntime-node at {long_side}x{height}: CPU ms, 1 thread": round(float(np.median(cpu["cpuMs"])), 1)}


def loss_description(config: Config) -> str:
    parts = []
    if config.loss.kind in ("discriminative", "combined"):
        parts.append(f"discriminative (delta_v {config.loss.delta_v}, delta_d {config.loss.delta_d}, gamma {config.loss.gamma})")
    if config.loss.kind in ("contrastive", "combined"):
        parts.append(f"pixel InfoNCE (temperature {config.loss.temperature}, {config.loss.samples} balanced samples "
                     "per pair, cross-image positives)")
    return " + ".join(parts)


def data_description(config: Config) -> str:
    """Training data in words; folder names only (cards must not carry paths outside the repository)."""
    data = config.data
    real = [Path(folder).name for folder in data.real_dirs] + [Path(a).name for a, _ in data.coco]
    panoptic = [Path(folder).name for folder in data.panoptic]
    if not (real or panoptic) or data.synthetic_fraction >= 1:
        return "synthetic dead-leaves pairs only"
    parts = [f"synthetic dead-leaves pairs ({data.synthetic_fraction:.0%} of pairs)"]
    if data.composite_fraction > 0:
        parts.append(f"composited scenes ({data.composite_fraction:.0%}: cutouts of {', '.join(real + panoptic)} "
                     "pasted onto real photos and synthetic views)")
    if real:
        parts.append(f"real masks ({', '.join(real)}; same-class image pairs, background negative-only)")
    if panoptic:
        parts.append(f"panoptic scenes ({', '.join(panoptic)}; every segment an instance)")
    return " + ".join(parts) + "; never eval/"


def loss_curve(history: list, points: int = 6) -> str:
    """'step s: loss (nce n, disc d)' at evenly spaced points, each averaged over its neighbourhood of log lines."""
    if not history:
        return "n/a"
    width = max(1, len(history) // points)
    parts = []
    for start in range(0, len(history), width)[:points]:
        window = history[start:start + width]
        mean = lambda key: sum(entry.get(key, 0.0) for entry in window) / len(window)  # noqa: E731
        detail = ", ".join(f"{key} {mean(key):.2f}" for key in ("nce", "disc") if key in window[0])
        parts.append(f"step {window[-1]['step']}: {mean('loss'):.3f} ({detail})")
    return "; ".join(parts)


def training_description(state) -> str:
    if state is None:
        return "none (random-init control)"
    text = (f"{state['step']} steps, {state['elapsed_minutes']:.1f} min wall-clock on "
            f"{state.get('hardware', 'a shared 2-core CPU')}")
    origin = state.get("origin")
    if origin:
        text += f", fine-tuning `{origin['id']}` after its {origin['step']} steps ({origin['minutes']:.0f} min)"
    return text


def write_card(folder: Path, model_id: str, name: str, config: Config, state, parameters: int, timings: dict,
               metrics: dict) -> None:
    history = (state or {}).get("history", [])
    first = history[0] if history else {}
    trained = training_description(state)
    lines = [
        f"# {name} (`{model_id}`)", "",
        "Pixel-wise embedding network: image -> one 16-d unit vector per 4x4 pixel cell; same object = close.", "",
        "| | |", "|---|---|",
        f"| parameters | {parameters:,} |",
        f"| architecture | ResNet-style encoder (stride 32, global context) + FPN decoder to stride 4, "
        f"head with {'colour skip, ' if config.model.colour_skip else ''}{'(x, y) coordinates, ' if config.model.coords else ''}"
        f"L2-normalised {config.model.dim}-d output |",
        f"| input | long side {config.long_side}, padded to a multiple of {MULTIPLE_OF}, ImageNet mean/std |",
        f"| loss | {loss_description(config)} |",
        f"| data | {data_description(config)} |",
        f"| training | {trained}, "
        f"batch {config.train.batch_pairs} pairs of {config.data.crop}px crops, AdamW lr {config.train.lr} |",
    ]
    if first:
        lines.append(f"| loss curve (window means) | {loss_curve(history)} |")
    if state is not None and state.get("metrics"):
        lines.append(f"| synthetic one-click IoU (held-out synthetic pairs) | {state['metrics'].get('synthetic_click_iou')} |")
    for name, value in {**timings, **metrics}.items():
        lines.append(f"| {name} | {value} |")
    lines += ["", "Metrics named `proxy` come from `models.pwtrain.evaluate`: the standard NoC click protocol with a "
              "simple nearest-click cosine rule (object where similarity to the nearest positive click beats the "
              "nearest negative click and a fixed threshold), no smoothing; the studio's click engine is measured "
              "separately and is the reference.", "",
              "Weaknesses: a small network trained briefly (see the training row) on synthetic shapes plus 598 "
              "real foreground masks, so real-image features are shallow (colour/texture-level); "
              "the embedding lives at stride 4 and is upsampled bilinearly, so thin structures and boundaries "
              "are soft; the (x, y) head input helps separate look-alike objects within an image but also makes "
              "far-apart parts of one object less similar.", "",
              "Training command (from the repository root):", "",
              f"    /usr/bin/python3 -m models.pwtrain.train --config models/configs/<config>.json --out models/runs/<run>",
              f"    /usr/bin/python3 -m models.pwtrain.export --checkpoint models/runs/<run>/last.pt --out models/{folder.resolve().parent.name}/{folder.resolve().name}",
              "", "Never trained on the eval/ sets (GrabCut, COCO_MVal); metrics on them are measured after training."]
    (folder / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--config", type=Path, help="with --untrained: the config of the random-init control")
    parser.add_argument("--untrained", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="models/builtin/<id> or models/experiments/<id>")
    parser.add_argument("--id", help="override the model id (default: config id)")
    parser.add_argument("--name", help="override the model name (default: config name)")
    parser.add_argument("--long-side", type=int, help="override manifest input.longSide")
    parser.add_argument("--metrics", type=Path, help="JSON object of measured metrics for MODEL_CARD.md")
    parser.add_argument("--card", action="store_true", help="write MODEL_CARD.md")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--center", action="store_true", help="subtract the mean training embedding, renormalise")
    parser.add_argument("--skip-timing", action="store_true", help="skip the onnxruntime-node timing runs")
    args = parser.parse_args()
    if (args.checkpoint is None) == (not args.untrained):
        parser.error("give --checkpoint, or --untrained with --config")
    set_threads()
    warnings.filterwarnings("ignore")
    model, config, state = load_model(args.checkpoint, load_config(args.config) if args.config else None)
    model_id, name, long_side = args.id or config.id, args.name or config.name, args.long_side or config.long_side
    center = training_mean_embedding(model, config) if args.center else None
    wrapper = ExportWrapper(model, center)
    onnx_path = args.out / "model.onnx"
    export_onnx(wrapper, onnx_path, torch.randn(1, 3, 128, 160))
    worst = check_parity(wrapper, onnx_path, [(128, 160), (96, 64), (224, 320)])
    steps = "random init" if state is None else f"{state['step']} steps"
    real = config.data.real_dirs or config.data.coco
    data = "synthetic pairs + real masks" if real and config.data.synthetic_fraction < 1 else "synthetic pairs only"
    write_manifest(
        args.out, id=model_id, name=name, version=args.version, kind="learned", license="MIT",
        description=f"{parameter_count(model) / 1e6:.2f}M-parameter U-Net/FPN, {config.loss.kind} loss, "
                    f"{data}, {steps}; {config.model.dim}-d embeddings at stride 4.",
        long_side=long_side, multiple_of=MULTIPLE_OF, mean=IMAGENET_MEAN, std=IMAGENET_STD, stride=4,
        dim=config.model.dim)
    timings = {}
    for side in ([] if args.skip_timing else sorted({long_side, 1024})):
        timings.update(time_at_long_side(onnx_path, side))
    if args.card:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
        write_card(args.out, model_id, name, config, state, parameter_count(model), timings, metrics)
    print(json.dumps({"out": str(args.out), "parity_max_abs_diff": worst, "bytes": onnx_path.stat().st_size,
                      **timings}))


if __name__ == "__main__":
    main()
