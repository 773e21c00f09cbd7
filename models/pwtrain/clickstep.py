"""The learned click step (core/engine/clickstep.ts): training on dumped click rounds, and export to JSON.

Data: `npx tsx tests/bench/eval-clicks.ts --dataset <train folder> --model pixelwise-unet-s --dump <file.bin>`
runs the standard click protocol (first click at the object's most interior point, each next click at the
interior of the larger error region, the previous mask fed back into the next round) on stored-format (int8)
maps and writes, for the first and three seeded later rounds of every object, the learned step's input features
exactly as the TypeScript step computes them, and the object's share of every grid cell. `--step learned` with
the current weights places the clicks at the learned step's own errors and feeds its own masks back (a second
round, RITM-style iterative training). Only train/ folders: eval-clicks refuses to dump from eval/.

    nice -n 10 /usr/bin/python3 -m models.pwtrain.clickstep --config models/configs/clickstep.json \
        --out .cache/clickstep/run --minutes 30 [--resume] [--export core/engine/clickstep-weights.json]

A further round starts from exported weights: `"init": "core/engine/clickstep-weights.json"` in the config
(models/configs/clickstep-onpolicy.json: the engine-driven dumps plus dumps made with --step learned).

Model selection: held-out objects of the training dumps (every `holdout_every`-th object), never eval/.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

FEATURES = [
    "engineLogit", "evidence", "colorRatio", "fade", "geoPositive", "geoNegative", "gridPositive", "gridNegative",
    "diskPositive", "diskNegative", "previous", "cosPositive", "cosNegative", "red", "green", "blue",
]

DEFAULTS = {"hidden": 12, "hidden2": 8, "coarse": 1, "crop": 64, "batch": 16, "lr": 3e-3, "weight_decay": 1e-5,
            "holdout_every": 10, "rounds_per_object": 4, "checkpoint_minutes": 2, "dumps": [], "train_only_dumps": [],
            "seed": 0}


class ClickStep(nn.Module):
    """1x1 -> ReLU -> 1x1 -> ReLU -> 3x3 (zero padding), added to the engine's clamped logit (feature 0 * 6).
    coarse=2: the network on 2x2 block means (odd sizes: the edge row/column repeated), bilinear back up."""

    def __init__(self, hidden: int = 12, hidden2: int = 8, coarse: int = 1):
        super().__init__()
        self.hidden, self.hidden2, self.coarse = hidden, hidden2, coarse
        self.conv1 = nn.Conv2d(len(FEATURES), hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden2, 1)
        self.conv3 = nn.Conv2d(hidden2, 1, 3, padding=1)
        nn.init.zeros_(self.conv3.weight)
        nn.init.zeros_(self.conv3.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        engine = torch.clamp(features[:, :1] * 6, -12, 12)
        x = features
        if self.coarse == 2:
            height, width = features.shape[-2:]
            x = nn.functional.pad(x, (0, width % 2, 0, height % 2), mode="replicate")
            x = nn.functional.avg_pool2d(x, 2)
        correction = self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x)))))
        if self.coarse == 2:
            correction = nn.functional.interpolate(correction, scale_factor=2, mode="bilinear", align_corners=False)
            correction = correction[..., :height, :width]
        return engine + correction


def read_dump(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Records of eval-clicks.ts --dump: (features float16 [F, H, W], target float16 [H, W], -1 = ignore)."""
    raw = Path(path).read_bytes()
    records, offset = [], 0
    while offset + 12 <= len(raw):
        width, height, count = np.frombuffer(raw, np.uint32, 3, offset)
        cells = int(width) * int(height)
        if count != len(FEATURES):
            raise ValueError(f"{path}: records have {count} features, this trainer knows {len(FEATURES)}")
        if offset + 12 + cells * (int(count) + 1) * 2 > len(raw):
            break  # a record still being written (a dump in progress): left out
        offset += 12
        values = np.frombuffer(raw, np.float16, cells * (int(count) + 1), offset)
        offset += values.nbytes
        records.append((values[: cells * count].reshape(int(count), int(height), int(width)),
                        values[cells * count:].reshape(int(height), int(width))))
    return records


def split(records: list, every: int, per_object: int) -> tuple[list, list]:
    """Held-out objects (all their rounds): every `every`-th object in dump order."""
    train, held = [], []
    for index, record in enumerate(records):
        (held if (index // per_object) % every == 0 else train).append(record)
    return train, held


def batch(records: list, size: int, crop: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    features = np.zeros((size, len(FEATURES), crop, crop), np.float32)
    targets = np.full((size, crop, crop), -1, np.float32)
    for b in range(size):
        f, t = records[rng.integers(len(records))]
        h, w = t.shape
        y = rng.integers(0, max(1, h - crop + 1))
        x = rng.integers(0, max(1, w - crop + 1))
        patch_f, patch_t = f[:, y:y + crop, x:x + crop], t[y:y + crop, x:x + crop]
        if rng.random() < 0.5:
            patch_f, patch_t = patch_f[:, :, ::-1], patch_t[:, ::-1]
        features[b, :, :patch_t.shape[0], :patch_t.shape[1]] = patch_f
        targets[b, :patch_t.shape[0], :patch_t.shape[1]] = patch_t
    return torch.from_numpy(features), torch.from_numpy(targets)


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    valid = targets >= 0
    loss = nn.functional.binary_cross_entropy_with_logits(logits[:, 0][valid], targets[valid])
    return loss


@torch.no_grad()
def evaluate(model: ClickStep, records: list) -> dict:
    """Held-out mean IoU of grid masks (p > 0.49 vs share > 0.5) for the step and for the engine (feature 0)."""
    ious, engine_ious, losses = [], [], []
    for f, t in records:
        features = torch.from_numpy(f.astype(np.float32))[None]
        target = torch.from_numpy(t.astype(np.float32))[None]
        logits = model(features)
        losses.append(float(loss_fn(logits, target)))
        valid = t >= 0
        truth = (t > 0.5) & valid
        for store, predicted in ((ious, logits[0, 0].numpy()), (engine_ious, f[0].astype(np.float32) * 6)):
            mask = (1 / (1 + np.exp(-np.clip(predicted, -30, 30))) > 0.49) & valid
            union = (mask | truth).sum()
            store.append(float((mask & truth).sum() / union) if union else 1.0)
    return {"loss": float(np.mean(losses)), "iou": float(np.mean(ious)), "engine_iou": float(np.mean(engine_ious))}


def export_weights(model: ClickStep, path: str | Path, meta: dict, parity_features: np.ndarray) -> dict:
    """JSON for core/engine/clickstep.ts, with a parity case: `parity_features` [F, H, W] and PyTorch's logits."""
    with torch.no_grad():
        logits = model(torch.from_numpy(parity_features.astype(np.float32))[None])[0, 0].numpy()
    rows = lambda tensor: [float(v) for v in tensor.detach().reshape(-1).numpy()]  # noqa: E731
    _, height, width = parity_features.shape
    out = {
        "features": FEATURES, "hidden": model.hidden, "hidden2": model.hidden2, "coarse": model.coarse,
        "w1": rows(model.conv1.weight), "b1": rows(model.conv1.bias),
        "w2": rows(model.conv2.weight), "b2": rows(model.conv2.bias),
        "w3": rows(model.conv3.weight), "b3": float(model.conv3.bias[0]),
        "meta": meta,
        "parity": {"width": int(width), "height": int(height),
                   "features": [float(v) for v in parity_features.astype(np.float32).reshape(-1)],
                   "logits": [float(v) for v in logits.reshape(-1)]},
    }
    Path(path).write_text(json.dumps(out, separators=(",", ":")) + "\n")
    return out


def load_weights(path: str | Path) -> ClickStep:
    """A network from an exported weights JSON (the shipped core/engine/clickstep-weights.json): export's inverse."""
    data = json.loads(Path(path).read_text())
    if data["features"] != FEATURES:
        raise ValueError(f"{path}: its features {data['features']} are not this trainer's {FEATURES}")
    model = ClickStep(data["hidden"], data["hidden2"], data.get("coarse", 1))
    tensor = lambda values, like: torch.tensor(values, dtype=torch.float32).reshape(like.shape)  # noqa: E731
    with torch.no_grad():
        model.conv1.weight.copy_(tensor(data["w1"], model.conv1.weight))
        model.conv1.bias.copy_(tensor(data["b1"], model.conv1.bias))
        model.conv2.weight.copy_(tensor(data["w2"], model.conv2.weight))
        model.conv2.bias.copy_(tensor(data["b2"], model.conv2.bias))
        model.conv3.weight.copy_(tensor(data["w3"], model.conv3.weight))
        model.conv3.bias.fill_(float(data["b3"]))
    return model


def train(config: dict, out: Path, minutes: float | None, steps: int | None = None, resume: bool = False,
          log=print, records: list | None = None) -> dict:
    """Trains until `minutes` or `steps`; checkpoints (last.pt, best.pt by held-out IoU) and resumes from last.pt."""
    settings = {**DEFAULTS, **config}
    torch.manual_seed(settings["seed"])
    rng = np.random.default_rng(settings["seed"])
    # Split each dump on its own: the same objects are held out of every dump of a folder (engine-driven and
    # learned-step-driven rounds of one image never land on both sides).
    train_records, held = [], []
    for part in [records] if records is not None else [read_dump(dump) for dump in settings["dumps"]]:
        train_part, held_part = split(part, settings["holdout_every"], settings["rounds_per_object"])
        train_records += train_part
        held += held_part
    for dump in settings.get("train_only_dumps", []):
        # Records trained on and never held out (e.g. Augment's variants of the training-side images only): the
        # held-out part, and so the checkpoint pick, stays that of `dumps`.
        train_records += read_dump(dump)
    if not train_records or not held:
        raise ValueError("need dumped records for both training and the held-out part")
    model = ClickStep(settings["hidden"], settings["hidden2"], settings["coarse"])
    if settings.get("init"):
        # Start from exported weights (a further round on new dumps); its shape must be the config's.
        init = load_weights(settings["init"])
        if (init.hidden, init.hidden2, init.coarse) != (model.hidden, model.hidden2, model.coarse):
            raise ValueError(f"{settings['init']}: hidden {init.hidden}/{init.hidden2}, coarse {init.coarse} "
                             "differ from the config's")
        model.load_state_dict(init.state_dict())
    optimiser = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    out.mkdir(parents=True, exist_ok=True)
    step, best, history, seconds = 0, -1.0, [], 0.0
    if resume and (out / "last.pt").exists():
        state = torch.load(out / "last.pt", map_location="cpu")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, best, history, seconds = state["step"], state["best"], state["history"], state["seconds"]
        rng = np.random.default_rng(step)
        log(f"resumed at step {step}")
    started, last_save = time.time() - seconds, time.time()

    def save(name: str) -> None:
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step, "best": best,
                    "history": history, "seconds": time.time() - started, "config": settings}, out / name)

    def check() -> None:
        nonlocal best
        model.eval()
        metrics = {"step": step, "minutes": round((time.time() - started) / 60, 2), **evaluate(model, held)}
        model.train()
        history.append(metrics)
        log(json.dumps(metrics))
        if metrics["iou"] > best:
            best = metrics["iou"]
            save("best.pt")

    if step == 0:
        check()
    while True:
        if steps is not None and step >= steps:
            break
        if minutes is not None and time.time() - started >= minutes * 60:
            break
        features, targets = batch(train_records, settings["batch"], settings["crop"], rng)
        loss = loss_fn(model(features), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 200 == 0 or (steps is not None and step >= steps):
            check()
        if time.time() - last_save > settings["checkpoint_minutes"] * 60:
            save("last.pt")
            last_save = time.time()
    save("last.pt")
    return {"step": step, "best": best, "history": history, "held": held, "train": len(train_records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--steps", type=int, help="stop after this many steps (equal compute for compared runs)")
    parser.add_argument("--seed", type=int, help="the init's and the batches' seed (default: the config's, else 0)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--export", help="write the best checkpoint's weights JSON here")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--export-only", action="store_true", help="export --out's best.pt now (no training)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = json.loads(Path(args.config).read_text())
    if args.seed is not None:
        config["seed"] = args.seed
    out = Path(args.out)
    if args.export_only:
        held, count = [], 0
        for dump in config["dumps"]:
            train_part, held_part = split(read_dump(dump), config.get("holdout_every", DEFAULTS["holdout_every"]),
                                          config.get("rounds_per_object", DEFAULTS["rounds_per_object"]))
            held += held_part
            count += len(train_part)
        count += sum(len(read_dump(dump)) for dump in config.get("train_only_dumps", []))
        result = {"held": held, "train": count}
    else:
        result = train(config, out, args.minutes, steps=args.steps, resume=args.resume,
                       log=lambda line: print(line, flush=True))
    if args.export:
        state = torch.load(out / "best.pt", map_location="cpu")
        model = ClickStep(state["config"]["hidden"], state["config"]["hidden2"], state["config"].get("coarse", 1))
        model.load_state_dict(state["model"])
        best = max(state["history"], key=lambda item: item["iou"])
        f, _ = result["held"][0]
        meta = {"trainedOn": [Path(d).name for d in config["dumps"] + config.get("train_only_dumps", [])],
                "config": Path(args.config).name, "seed": config.get("seed", 0),
                "steps": state["step"], "minutes": round(state["seconds"] / 60, 1), "trainRecords": result["train"],
                "heldOutRecords": len(result["held"]), "heldOut": best}
        if config.get("init"):
            meta["init"] = Path(config["init"]).name
            meta["initHeldOut"] = state["history"][0]
        export_weights(model, args.export, meta, np.ascontiguousarray(f[:, :6, :7]).astype(np.float32))
        print(f"exported {args.export}: {json.dumps(meta)}")


if __name__ == "__main__":
    main()
