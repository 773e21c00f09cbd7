"""Train an embedding net on synthetic pairs plus real masks.

    /usr/bin/python3 -m models.pwtrain.train --config models/configs/unet_s.json --out models/runs/unet_s --minutes 100
    /usr/bin/python3 -m models.pwtrain.train --config models/configs/unet_s.json --out models/runs/unet_s --resume --minutes 30
    python -m models.pwtrain.train --config models/configs/unet_s_gpu.json --out models/runs/unet_s_gpu --device cuda \
        --workers 14 --init models/runs/unet_s/last.pt --minutes 7

Writes ``<out>/train.log`` (one JSON object per line) and ``<out>/last.pt`` every few minutes: a self-describing
checkpoint (model args, full config, step, elapsed minutes, metrics, history, weights, optimiser state) that
export.py and evaluate.py read without any other input. With --minutes the cosine learning-rate schedule runs on
wall-clock time so a budgeted run still ends at a low learning rate; otherwise it runs on ``train.steps``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import set_threads
from .checkpoint import load_checkpoint, save_checkpoint
from .runs import run_log, trainer_parser
from .config import config_to_dict, load_config
from .data import RealImages
from .stream import batch_loader
from .evaluate import synthetic_click_iou
from .losses import embedding_loss
from .nets import build_model, parameter_count
from .onnx_utils import IMAGENET_MEAN, IMAGENET_STD


def learning_rate(config, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / max(1, config.train.warmup_steps))
    return config.train.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train(config, out: Path, minutes: float | None, resume: bool, log=print, workers: int = 1,
          device: str = "cpu", init: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    step, elapsed_before, history, metrics, origin = 0, 0.0, [], {}, None
    checkpoint_path = out / "last.pt"
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, device)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed_before = state["step"], state["elapsed_minutes"]
        history, metrics, origin = state["history"], state["metrics"], state.get("origin")
        log(json.dumps({"event": "resume", "step": step, "elapsed_minutes": round(elapsed_before, 2)}))
    elif init:
        state = load_checkpoint(init, device)
        if state["model_args"] != config_to_dict(config)["model"]:
            raise ValueError(f"{init} has model arguments {state['model_args']}, the config has "
                             f"{config_to_dict(config)['model']}")
        model.load_state_dict(state["model"])
        origin = {"id": state["config"]["id"], "step": state["step"],
                  "minutes": round(state["elapsed_minutes"], 2), "origin": state.get("origin")}
        log(json.dumps({"event": "init", **origin}))
    batches = batch_loader(config.data, IMAGENET_MEAN, IMAGENET_STD, config.data.seed + step,
                           config.train.batch_pairs, workers)
    has_real = config.data.real_dirs or config.data.coco or config.data.panoptic
    real_images = len(RealImages(config.data)) if has_real else 0
    log(json.dumps({"event": "start", "id": config.id, "parameters": parameter_count(model),
                    "real_images": real_images, "threads": torch.get_num_threads()}))
    start = time.time()
    last_save, running = start, {}
    generator = torch.Generator(device=device).manual_seed(config.train.seed + step)
    total_minutes = minutes + elapsed_before if minutes else None
    model.train()
    while True:
        elapsed = elapsed_before + (time.time() - start) / 60
        progress = elapsed / total_minutes if total_minutes else step / config.train.steps
        if progress >= 1.0:
            break
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(config, step, progress)
        images, labels = next(batches)
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        embeddings = model(images)
        stride = config.train.label_stride
        labels = labels[:, stride // 2::stride, stride // 2::stride]
        embeddings = F.normalize(F.interpolate(embeddings, size=labels.shape[-2:], mode="bilinear",
                                               align_corners=False), dim=1)
        loss, parts = embedding_loss(embeddings, labels, config.loss, generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        step += 1
        for key, value in dict(parts, loss=float(loss)).items():
            running[key] = running.get(key, 0.0) + value
        if step % config.train.log_every == 0:
            entry = {"step": step, "minutes": round(elapsed, 2), "lr": round(optimiser.param_groups[0]["lr"], 6)}
            entry.update({key: round(value / config.train.log_every, 4) for key, value in running.items()})
            history.append(entry)
            running = {}
            log(json.dumps(entry))
        if time.time() - last_save > config.train.checkpoint_minutes * 60:
            metrics = checkpoint(model, optimiser, config, step, elapsed, history, origin, checkpoint_path, log)
            last_save = time.time()
    elapsed = elapsed_before + (time.time() - start) / 60
    metrics = checkpoint(model, optimiser, config, step, elapsed, history, origin, checkpoint_path, log)
    log(json.dumps({"event": "done", "step": step, "minutes": round(elapsed, 2)}))
    return metrics


def checkpoint(model, optimiser, config, step, elapsed, history, origin, path, log) -> dict:
    metrics = {"synthetic_click_iou": round(synthetic_click_iou(model, config.data.crop), 4)}
    model.train()
    save_checkpoint(path, model, optimiser, config, step, elapsed, metrics, history, origin)
    log(json.dumps({"event": "checkpoint", "step": step, "minutes": round(elapsed, 2), **metrics}))
    return metrics


def main() -> None:
    parser = trainer_parser(__doc__)
    parser.add_argument("--init", type=Path, default=None, help="start from this checkpoint's weights (fine-tune)")
    parser.add_argument("--workers", type=int, default=1, help="data synthesis processes (0 = in-process)")
    args = parser.parse_args()
    set_threads()
    config = load_config(args.config)
    with run_log(args.out) as log:
        train(config, args.out, args.minutes, args.resume, log, args.workers, args.device, args.init)


if __name__ == "__main__":
    main()
