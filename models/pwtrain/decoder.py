"""Decode stored pixel-embedding maps back to RGB images: the inverse of the embedding model.

    /usr/bin/python3 -m models.pwtrain.decoder --config models/configs/decoder_s.json --out models/runs/decoder_s --minutes 50
    /usr/bin/python3 -m models.pwtrain.decoder --config models/configs/decoder_s.json --out models/runs/decoder_s --resume --minutes 20
    python -m models.pwtrain.decoder --config models/configs/decoder_s_gpu.json --out models/runs/decoder_s_gpu --device cuda

Input: the map exactly as the studio stores it (core/embedding.ts): the frozen embedder's output for the image
scaled to its input.longSide, unit vectors at stride 4, quantised to int8 with one scale per image
(q = round(v / s), s = max|v| / 127) and dequantised (v' = q * s, not renormalised). Output: RGB in [0, 1] at
4x the grid (the scaled image; the studio resizes it to the image's own size).

Losses: L1 + finite-difference gradient L1 against the source crop; re-embedding (the frozen embedder runs on
the decoded image, 1 - cosine with the input map); optionally a hinge adversarial term from a small patch
discriminator that sees the image and the map. The embedder is the shipped ONNX file loaded back into the same
torch net (``load_embedder``: BatchNorm folded, checked against onnxruntime-node), so training sees exactly the
studio's maps. Writes ``<out>/train.log`` and a self-describing ``<out>/last.pt`` like train.py.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import set_threads
from .checkpoint import atomic_save, hardware
from .runs import run_log, trainer_parser
from .config import ModelConfig
from .data import IMAGE_SUFFIXES, read_rgb
from .decoder_config import DecoderConfig, decoder_config_from_dict, decoder_config_to_dict, load_decoder_config
from .nets import EmbedNet, parameter_count
from .onnx_utils import REPO_ROOT, sha256_file
from .synthetic import synthetic_pair


# ---------------------------------------------------------------------------------------------------- embedder

def load_onnx_weights(net: nn.Module, onnx_path: Path, sample: torch.Tensor) -> nn.Module:
    """Loads an ONNX file exported from ``net``'s architecture back into it (frozen, eval mode).

    The export folded every BatchNorm into the convolution before it and named those weights anonymously, so the
    ONNX Conv nodes are matched to the net's convolutions in execution order on ``sample`` (shapes checked) and
    each BatchNorm becomes identity plus the folded bias."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    if any(i.name.endswith("center") for i in graph.initializer):
        raise ValueError(f"{onnx_path}: centred exports are not supported")
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [[weights.get(name) for name in node.input[1:]] for node in graph.node if node.op_type == "Conv"]
    order: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda module, *_: order.append(module))
             for m in net.modules() if isinstance(m, nn.Conv2d)]
    net.eval()
    with torch.no_grad():
        net(sample)
    for hook in hooks:
        hook.remove()
    if len(order) != len(convs):
        raise ValueError(f"{onnx_path}: {len(convs)} ONNX convolutions, the net has {len(order)}")
    following_bn = {}
    for module in net.modules():
        if isinstance(module, nn.Sequential):
            items = list(module)
            for first, second in zip(items, items[1:]):
                if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                    following_bn[first] = second
    for conv, (weight, bias) in zip(order, convs):
        if tuple(weight.shape) != tuple(conv.weight.shape):
            raise ValueError(f"{onnx_path}: ONNX weight {weight.shape} does not fit {tuple(conv.weight.shape)}")
        conv.weight.data = torch.from_numpy(weight.copy())
        if conv in following_bn:
            norm = following_bn[conv]
            norm.weight.data.fill_(1.0)
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
            norm.bias.data = torch.from_numpy(bias.copy())
        elif conv.bias is not None:
            conv.bias.data = torch.from_numpy(bias.copy())
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net.eval()


def load_embedder(model_dir: Path) -> tuple[nn.Module, dict]:
    """The built-in ONNX embedder as a frozen torch EmbedNet: (net, manifest)."""
    model_dir = Path(model_dir)
    manifest = json.loads((model_dir / "model.json").read_text())
    net = EmbedNet(ModelConfig(dim=manifest["output"]["dim"]))
    return load_onnx_weights(net, model_dir / manifest["file"], torch.zeros(1, 3, 64, 64)), manifest


def normalise_image(rgb: torch.Tensor, manifest: dict) -> torch.Tensor:
    """Bx3xHxW RGB in [0, 1] -> the embedder's input (mean/std from the manifest)."""
    mean = torch.tensor(manifest["input"]["mean"], device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(manifest["input"]["std"], device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


def quantise_like_studio(embedding: torch.Tensor) -> torch.Tensor:
    """BxDxhxw unit vectors -> int8 with one scale per image, dequantised (core/embedding.ts quantize/dequantize)."""
    scale = embedding.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) / 127
    return torch.round(embedding / scale) * scale


@torch.no_grad()
def studio_map(embedder: nn.Module, manifest: dict, rgb: torch.Tensor) -> torch.Tensor:
    """The map the studio would store for these RGB crops (H, W multiples of 32), dequantised."""
    return quantise_like_studio(embedder(normalise_image(rgb, manifest)))


# ---------------------------------------------------------------------------------------------------- networks

def conv_bn(inputs: int, outputs: int, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(inputs, outputs, 3, 1, 1, bias=False), nn.BatchNorm2d(outputs)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels, relu=False))

    def forward(self, x):
        return F.relu(x + self.body(x))


class Decoder(nn.Module):
    """BxDxhxw map -> Bx3x(4h)x(4w) RGB in [0, 1]: residual blocks at stride 4, two x2 upsampling stages."""

    def __init__(self, config):
        super().__init__()
        c4, c2, c1 = config.channels
        self.stem = conv_bn(config.dim, c4)
        self.blocks = nn.Sequential(*[Residual(c4) for _ in range(config.blocks)])
        self.up2 = nn.Sequential(conv_bn(c4, c2), Residual(c2))
        self.up1 = nn.Sequential(conv_bn(c2, c1), nn.Conv2d(c1, 3, 3, 1, 1))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(embedding))
        x = self.up2(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return torch.sigmoid(x)


class PatchDiscriminator(nn.Module):
    """Per-patch real/fake score from the image and the (upsampled) map it should depict."""

    def __init__(self, dim: int, channels: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3 + dim, channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels * 2, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels * 2, channels * 2, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels * 2, 1, 3, 1, 1))

    def forward(self, image, embedding):
        return self.net(torch.cat([image, F.interpolate(embedding, size=image.shape[-2:], mode="nearest")], 1))


def build_decoder(config: DecoderConfig) -> Decoder:
    return Decoder(config.model)


# ---------------------------------------------------------------------------------------------------- losses

def gradient_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(output) - dx(target)).abs().mean() + (dy(output) - dy(target)).abs().mean()


def reembed_cosine(embedder: nn.Module, manifest: dict, output: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """Mean cosine between the input map and the embedder's map of the decoded image (gradient flows to output)."""
    again = embedder(normalise_image(output, manifest))
    return F.cosine_similarity(again, embedding, dim=1).mean()


def decoder_losses(config: DecoderConfig, embedder, manifest, decoder, discriminator, target, embedding):
    """(total generator loss, parts dict of floats, decoded image)."""
    output = decoder(embedding)
    parts = {"l1": F.l1_loss(output, target)}
    if config.loss.gradient:
        parts["gradient"] = gradient_l1(output, target)
    if config.loss.reembed:
        parts["reembed"] = 1 - reembed_cosine(embedder, manifest, output, embedding)
    if config.loss.adversarial and discriminator is not None:
        parts["adversarial"] = -discriminator(output, embedding).mean()
    weights = {"l1": config.loss.l1, "gradient": config.loss.gradient, "reembed": config.loss.reembed,
               "adversarial": config.loss.adversarial}
    total = sum(weights[key] * value for key, value in parts.items())
    return total, {key: float(value) for key, value in parts.items()}, output


def discriminator_loss(discriminator, real, fake, embedding) -> torch.Tensor:
    """Hinge loss; fake is detached so only the discriminator learns from it."""
    return (F.relu(1 - discriminator(real, embedding)).mean() + F.relu(1 + discriminator(fake.detach(), embedding)).mean())


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    mse = float(((output - target) ** 2).mean())
    return 10 * math.log10(1 / max(mse, 1e-10))


# ---------------------------------------------------------------------------------------------------- data

def training_images(config: DecoderConfig) -> list[Path]:
    paths = []
    for root in config.data.real_dirs:
        if "eval" in Path(root).resolve().parts:
            raise ValueError(f"refusing to train on an eval/ folder: {root}")
        if not Path(root).is_dir():
            raise FileNotFoundError(f"no training folder {root} (relative paths are read from the working directory)")
        for images in sorted(p for p in Path(root).rglob("images") if p.is_dir()):
            paths += sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return paths


def studio_scaled(image: np.ndarray, long_side: int) -> np.ndarray:
    """Scale so the long side is ``long_side`` (the studio's embedder input size)."""
    scale = long_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def random_crop(rng: np.random.Generator, image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    if height < size or width < size:
        image = cv2.copyMakeBorder(image, 0, max(0, size - height), 0, max(0, size - width), cv2.BORDER_REFLECT)
        height, width = image.shape[:2]
    y, x = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    return image[y:y + size, x:x + size]


class CropStream:
    """Endless Bx3xSxS RGB [0, 1] crops: real photos at the studio's scale (jittered, flipped) and synthetic scenes."""

    def __init__(self, config: DecoderConfig, seed: int):
        self.config, self.paths = config, training_images(config)
        self.rng = np.random.default_rng(seed)

    def crop(self) -> np.ndarray:
        data, size = self.config.data, self.config.data.crop
        if not self.paths or self.rng.random() < data.synthetic_fraction:
            return synthetic_pair(self.rng, size, 3, 10)[0][0]
        image = studio_scaled(read_rgb(self.paths[int(self.rng.integers(len(self.paths)))]), data.long_side)
        factor = 1 - self.rng.random() * data.scale_jitter
        if factor < 1:
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        image = random_crop(self.rng, image, size)
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
        return image.astype(np.float32) / 255

    def batch(self, count: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.crop() for _ in range(count)])).permute(0, 3, 1, 2).contiguous()


def validation_crops(size: int, count: int = 8) -> torch.Tensor:
    """Fixed held-out synthetic scenes (their own seed) for the checkpoint metric."""
    rng = np.random.default_rng(12345)
    crops = [synthetic_pair(rng, size, 3, 10)[0][0] for _ in range(count)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------------------------------------------- training

def learning_rate(config: DecoderConfig, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / max(1, config.train.warmup_steps))
    return config.train.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def embedder_path(config: DecoderConfig) -> Path:
    path = Path(config.embedder)
    return path if path.is_absolute() else REPO_ROOT / path


def frozen_embedder(config, device: str) -> tuple[nn.Module, dict]:
    """The config's embedder on `device`, checked against the config's map dimension."""
    embedder, manifest = load_embedder(embedder_path(config))
    embedder.to(device)
    if manifest["output"]["dim"] != config.model.dim:
        raise ValueError(f"{config.embedder} has {manifest['output']['dim']}-d maps, the config says {config.model.dim}")
    return embedder, manifest


@torch.no_grad()
def validate(config, embedder, manifest, decoder, crops) -> dict:
    decoder.eval()
    embedding = studio_map(embedder, manifest, crops)
    output = decoder(embedding)
    cosine = float(reembed_cosine(embedder, manifest, output, embedding))
    decoder.train()
    return {"synthetic_psnr": round(psnr(output, crops), 3), "synthetic_reembed_cosine": round(cosine, 4)}


def save(path: Path, config, decoder, discriminator, optimisers, step, elapsed, metrics, history, manifest) -> None:
    state = {"config": decoder_config_to_dict(config), "step": step, "elapsed_minutes": elapsed, "metrics": metrics,
             "history": history, "hardware": hardware(str(next(decoder.parameters()).device)),
             "parameters": parameter_count(decoder),
             "embedder": {"id": manifest["id"], "sha256": manifest["sha256"]},
             "model": {k: v.cpu() for k, v in decoder.state_dict().items()},
             "discriminator": None if discriminator is None else {k: v.cpu() for k, v in discriminator.state_dict().items()},
             "optimisers": [o.state_dict() for o in optimisers]}
    atomic_save(state, path)


def load_decoder(checkpoint: Path) -> tuple[Decoder, DecoderConfig, dict]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = decoder_config_from_dict(state["config"])
    decoder = build_decoder(config)
    decoder.load_state_dict(state["model"])
    return decoder.eval(), config, state


def train(config: DecoderConfig, out: Path, minutes: float | None, resume: bool, log=print,
          device: str = "cpu") -> dict:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.train.seed)
    embedder, manifest = frozen_embedder(config, device)
    decoder = build_decoder(config).to(device)
    discriminator = PatchDiscriminator(config.model.dim).to(device) if config.loss.adversarial else None
    optimisers = [torch.optim.AdamW(decoder.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)]
    if discriminator is not None:
        optimisers.append(torch.optim.AdamW(discriminator.parameters(), lr=config.train.lr, betas=(0.5, 0.999)))
    step, elapsed_before, history, metrics = 0, 0.0, [], {}
    path = out / "last.pt"
    if resume and path.exists():
        state = torch.load(path, map_location=device, weights_only=False)
        if state["embedder"]["sha256"] != manifest["sha256"]:
            raise ValueError(f"{path} was trained against another {manifest['id']} file (sha256 differs)")
        decoder.load_state_dict(state["model"])
        if discriminator is not None and state["discriminator"] is not None:
            discriminator.load_state_dict(state["discriminator"])
        for optimiser, saved in zip(optimisers, state["optimisers"]):
            optimiser.load_state_dict(saved)
        step, elapsed_before, history, metrics = state["step"], state["elapsed_minutes"], state["history"], state["metrics"]
        log(json.dumps({"event": "resume", "step": step, "elapsed_minutes": round(elapsed_before, 2)}))
    stream = CropStream(config, config.data.seed + step)
    held_out = validation_crops(config.data.crop).to(device)
    log(json.dumps({"event": "start", "id": config.id, "parameters": parameter_count(decoder),
                    "real_images": len(stream.paths), "embedder": manifest["id"], "threads": torch.get_num_threads()}))
    start = last_save = time.time()
    total_minutes = minutes + elapsed_before if minutes else None
    running: dict = {}
    decoder.train()
    while True:
        elapsed = elapsed_before + (time.time() - start) / 60
        progress = elapsed / total_minutes if total_minutes else step / config.train.steps
        if progress >= 1.0:
            break
        for optimiser in optimisers:
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, step, progress)
        target = stream.batch(config.train.batch).to(device)
        embedding = studio_map(embedder, manifest, target)
        loss, parts, output = decoder_losses(config, embedder, manifest, decoder, discriminator, target, embedding)
        optimisers[0].zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 5.0)
        optimisers[0].step()
        if discriminator is not None:
            d_loss = discriminator_loss(discriminator, target, output, embedding)
            optimisers[1].zero_grad(set_to_none=True)
            d_loss.backward()
            optimisers[1].step()
            parts["discriminator"] = float(d_loss)
        step += 1
        for key, value in dict(parts, loss=float(loss), psnr=psnr(output.detach(), target)).items():
            running[key] = running.get(key, 0.0) + value
        if step % config.train.log_every == 0:
            entry = {"step": step, "minutes": round(elapsed, 2), "lr": round(optimisers[0].param_groups[0]["lr"], 6)}
            entry.update({key: round(value / config.train.log_every, 4) for key, value in running.items()})
            history.append(entry)
            running = {}
            log(json.dumps(entry))
        if time.time() - last_save > config.train.checkpoint_minutes * 60:
            metrics = validate(config, embedder, manifest, decoder, held_out)
            save(path, config, decoder, discriminator, optimisers, step, elapsed, metrics, history, manifest)
            log(json.dumps({"event": "checkpoint", "step": step, "minutes": round(elapsed, 2), **metrics}))
            last_save = time.time()
    elapsed = elapsed_before + (time.time() - start) / 60
    metrics = validate(config, embedder, manifest, decoder, held_out)
    save(path, config, decoder, discriminator, optimisers, step, elapsed, metrics, history, manifest)
    log(json.dumps({"event": "done", "step": step, "minutes": round(elapsed, 2), **metrics}))
    return metrics


def main() -> None:
    parser = trainer_parser(__doc__)
    args = parser.parse_args()
    set_threads()
    config = load_decoder_config(args.config)
    with run_log(args.out) as log:
        train(config, args.out, args.minutes, args.resume, log, args.device)


if __name__ == "__main__":
    main()
