"""Conditional image generator: SPADE-style per-pixel modulation by a condition map, plus noise, trained against a
per-cell (patch) discriminator that also reads the condition. One code path, three conditions:

- ``embedding``: the map exactly as the studio stores it (the frozen pixelwise-unet-s at stride 4, int8 with one
  scale per image, dequantised; decoder.studio_map),
- ``mask``: instance masks only - one channel per instance for the K largest instances in the crop (channels in
  random order: instance ids carry no meaning) plus a boundary channel,
- ``none``: a constant map, so the modulation degenerates to a learned per-channel affine (an unconditional GAN).

    /usr/bin/python3 -m models.pwtrain.generator --config models/configs/generator_s.json --condition mask \
        --real-dirs /abs/shared/data/train/VOC_coseg /abs/shared/data/train/COCO128_panoptic --out models/runs/generator_mask
    (add --resume to continue from <out>/last.pt; --device cuda with a larger config on a GPU)

Crops are read like the decoder's (decoder.CropStream: images scaled like the studio, jittered, cropped, flipped)
with their instance labels cropped alongside (VOC co-seg foreground masks, COCO128 panoptic segments; synthetic
scenes carry their own). Loss: hinge (Lim & Ye 2017) for both nets, nothing else, so the three conditions differ
only in what the networks are told. Equal compute = the same step budget, batch and crop size.
Writes ``<out>/train.log`` and a self-describing ``<out>/last.pt``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from . import set_threads
from .checkpoint import atomic_save, hardware
from .runs import run_log, trainer_parser
from .data import read_rgb
from .decoder import CropStream, frozen_embedder, random_crop, studio_map, studio_scaled
from .generator_config import (GeneratorConfig, generator_config_from_dict, generator_config_to_dict,
                               load_generator_config)
from .nets import parameter_count
from .synthetic import synthetic_pair

STRIDE = 4


# ---------------------------------------------------------------------------------------------------- data

def label_path(image: Path) -> Path | None:
    """The instance labels stored beside an image: <root>/segments/<stem>.png (COCO128 panoptic, 16-bit segment
    indices) or <root>/masks/<relative>.png|bmp (foreground masks), where <root>/images holds the image."""
    parts = image.parts
    if "images" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("images")
    root, relative = Path(*parts[:index]), Path(*parts[index + 1:])
    candidates = [root / "segments" / f"{image.stem}.png"] + [root / "masks" / relative.with_suffix(s) for s in (".png", ".bmp")]
    return next((path for path in candidates if path.exists()), None)


def read_labels(image: Path, shape: tuple[int, int]) -> np.ndarray:
    """HxW int32 instance ids for an image (0 = background or unlabelled); one instance if nothing is stored."""
    path = label_path(image)
    if path is None:
        return np.zeros(shape, np.int32)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if stored is None:
        raise OSError(f"cannot read labels {path}")
    if stored.ndim == 3:
        stored = stored[..., 0]
    if path.parent.name == "masks":
        stored = (stored > 128).astype(np.int32)  # 128 = ignore band: counted as background here
    if stored.shape != shape:
        raise ValueError(f"{path}: labels {stored.shape} do not match the image {shape}")
    return stored.astype(np.int32)


class LabelledCropStream(CropStream):
    """The decoder's crop stream with each crop's instance labels: (Bx3xSxS RGB [0, 1], BxSxS int64 ids)."""

    def crop(self) -> tuple[np.ndarray, np.ndarray]:
        data, size = self.config.data, self.config.data.crop
        if not self.paths or self.rng.random() < data.synthetic_fraction:
            images, labels = synthetic_pair(self.rng, size, 3, 10)
            return images[0], labels[0]
        path = self.paths[int(self.rng.integers(len(self.paths)))]
        image = read_rgb(path)
        labels = read_labels(path, image.shape[:2])
        image = studio_scaled(image, data.long_side)
        factor = 1 - self.rng.random() * data.scale_jitter
        if factor < 1:
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        labels = cv2.resize(labels, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        both = random_crop(self.rng, np.dstack([image.astype(np.int32), labels]), size)
        if self.rng.random() < 0.5:
            both = both[:, ::-1]
        return both[..., :3].astype(np.float32) / 255, both[..., 3].astype(np.int64)

    def batch(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        crops = [self.crop() for _ in range(count)]
        images = torch.from_numpy(np.stack([c[0] for c in crops])).permute(0, 3, 1, 2).contiguous()
        return images, torch.from_numpy(np.stack([c[1] for c in crops]))


def mask_condition(labels: torch.Tensor, instances: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """BxHxW instance ids -> Bx(K+1)xHxW: one channel per instance for the K largest (random channel order),
    then the instance boundary (pixels whose 4-neighbour has another id)."""
    batch, height, width = labels.shape
    out = torch.zeros(batch, instances + 1, height, width)
    for index in range(batch):
        ids, counts = torch.unique(labels[index], return_counts=True)
        largest = ids[torch.argsort(counts, descending=True)][:instances]
        channels = torch.randperm(instances, generator=generator)[:len(largest)]
        for instance, channel in zip(largest.tolist(), channels.tolist()):
            out[index, channel] = (labels[index] == instance).float()
    edge = torch.zeros(batch, height, width, dtype=torch.bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    edge[:, :, :-1] |= labels[:, :, 1:] != labels[:, :, :-1]
    out[:, instances] = edge.float()
    return out


def condition_channels(config: GeneratorConfig) -> int:
    return {"embedding": config.model.dim, "mask": config.model.instances + 1, "none": 1}[config.condition]


def make_condition(config: GeneratorConfig, embedder, manifest, images: torch.Tensor, labels: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The condition map for a batch of real crops: stride-4 stored map, full-size mask channels, or constant."""
    if config.condition == "embedding":
        return studio_map(embedder, manifest, images)
    if config.condition == "mask":
        return mask_condition(labels, config.model.instances, generator).to(images.device)
    batch, _, height, width = images.shape
    return torch.ones(batch, 1, height // STRIDE, width // STRIDE, device=images.device)


def resize_to(condition: torch.Tensor, size) -> torch.Tensor:
    """Area-average when shrinking (small instances keep a share), nearest when enlarging."""
    if tuple(condition.shape[-2:]) == tuple(size):
        return condition
    shrinking = condition.shape[-1] > size[-1]
    return F.interpolate(condition, size=size, mode="area" if shrinking else "nearest")


# ---------------------------------------------------------------------------------------------------- networks

class SPADE(nn.Module):
    """Parameter-free BatchNorm, then per-pixel scale and shift predicted from the condition (Park et al. 2019)."""

    def __init__(self, channels: int, condition: int, hidden: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(condition, hidden, 3, 1, 1), nn.ReLU(inplace=True))
        self.gamma = nn.Conv2d(hidden, channels, 3, 1, 1)
        self.beta = nn.Conv2d(hidden, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        features = self.shared(resize_to(condition, x.shape[-2:]))
        return self.norm(x) * (1 + self.gamma(features)) + self.beta(features)


class SPADEBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, condition: int, hidden: int):
        super().__init__()
        self.norm1, self.conv1 = SPADE(inputs, condition, hidden), nn.Conv2d(inputs, outputs, 3, 1, 1)
        self.norm2, self.conv2 = SPADE(outputs, condition, hidden), nn.Conv2d(outputs, outputs, 3, 1, 1)
        self.skip = nn.Conv2d(inputs, outputs, 1, bias=False) if inputs != outputs else nn.Identity()

    def forward(self, x, condition):
        y = self.conv1(F.leaky_relu(self.norm1(x, condition), 0.2))
        y = self.conv2(F.leaky_relu(self.norm2(y, condition), 0.2))
        return self.skip(x) + y


class Generator(nn.Module):
    """(condition map, noise vector) -> Bx3xHxW RGB in [0, 1] at 4x the grid. The noise is broadcast over the grid
    and concatenated to the condition (OASIS-style 3D noise), so every modulation sees both."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        c4, c2, c1 = config.model.channels
        self.noise = config.model.noise
        inputs = condition_channels(config) + self.noise
        self.head = nn.Conv2d(inputs, c4, 3, 1, 1)
        self.block4 = SPADEBlock(c4, c4, inputs, config.model.hidden)
        self.block2 = SPADEBlock(c4, c2, inputs, config.model.hidden)
        self.block1 = SPADEBlock(c2, c1, inputs, config.model.hidden)
        self.rgb = nn.Conv2d(c1, 3, 3, 1, 1)

    def forward(self, condition: torch.Tensor, noise: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        grid = (size[0] // STRIDE, size[1] // STRIDE)
        full = resize_to(condition, size)
        joined = torch.cat([full, noise[:, :, None, None].expand(-1, -1, *size)], 1)
        x = self.block4(self.head(resize_to(joined, grid)), joined)
        x = self.block2(F.interpolate(x, scale_factor=2.0, mode="nearest"), joined)
        x = self.block1(F.interpolate(x, scale_factor=2.0, mode="nearest"), joined)
        return torch.sigmoid(self.rgb(F.leaky_relu(x, 0.2)))


class ConditionalPatchDiscriminator(nn.Module):
    """Real/fake score per grid cell (stride 4) from the image and the condition map."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        width = config.model.discriminator
        wrap = spectral_norm if config.model.spectral_norm else (lambda module: module)
        conv = lambda i, o, k, s: wrap(nn.Conv2d(i, o, k, s, (k - 1) // 2 if s == 1 else 1))  # noqa: E731
        self.net = nn.Sequential(
            conv(3 + condition_channels(config), width, 4, 2), nn.LeakyReLU(0.2, inplace=True),
            conv(width, width * 2, 4, 2), nn.LeakyReLU(0.2, inplace=True),
            conv(width * 2, width * 2, 3, 1), nn.LeakyReLU(0.2, inplace=True),
            conv(width * 2, 1, 3, 1))

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, resize_to(condition, image.shape[-2:])], 1))


# ---------------------------------------------------------------------------------------------------- losses

def hinge_discriminator(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """mean relu(1 - D(real)) + mean relu(1 + D(fake)): zero once real scores >= 1 and fake scores <= -1."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


# ---------------------------------------------------------------------------------------------------- training

def save(path: Path, config, generator, discriminator, optimisers, step, elapsed, history, manifest) -> None:
    state = {"config": generator_config_to_dict(config), "condition": config.condition, "step": step,
             "elapsed_minutes": elapsed, "history": history, "hardware": hardware(str(next(generator.parameters()).device)),
             "parameters": {"generator": parameter_count(generator), "discriminator": parameter_count(discriminator)},
             "embedder": {"id": manifest["id"], "sha256": manifest["sha256"]},
             "model": {k: v.cpu() for k, v in generator.state_dict().items()},
             "discriminator": {k: v.cpu() for k, v in discriminator.state_dict().items()},
             "optimisers": [o.state_dict() for o in optimisers]}
    atomic_save(state, path)


def load_generator(checkpoint: Path) -> tuple[Generator, GeneratorConfig, dict]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = generator_config_from_dict(state["config"])
    generator = Generator(config)
    generator.load_state_dict(state["model"])
    return generator.eval(), config, state


def train(config: GeneratorConfig, out: Path, minutes: float | None, resume: bool, log=print,
          device: str = "cpu") -> dict:
    """Trains until config.train.steps (or ``minutes`` more wall time, whichever first); returns the last log entry."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.train.seed)
    embedder, manifest = frozen_embedder(config, device)
    generator, discriminator = Generator(config).to(device), ConditionalPatchDiscriminator(config).to(device)
    betas = tuple(config.train.betas)
    optimisers = [torch.optim.Adam(generator.parameters(), lr=config.train.lr_generator, betas=betas),
                  torch.optim.Adam(discriminator.parameters(), lr=config.train.lr_discriminator, betas=betas)]
    step, elapsed_before, history = 0, 0.0, []
    path = out / "last.pt"
    if resume and path.exists():
        state = torch.load(path, map_location=device, weights_only=False)
        if state["embedder"]["sha256"] != manifest["sha256"]:
            raise ValueError(f"{path} was trained against another {manifest['id']} file (sha256 differs)")
        if state["condition"] != config.condition:
            raise ValueError(f"{path} is a {state['condition']!r}-conditioned run; the config says {config.condition!r}")
        generator.load_state_dict(state["model"])
        discriminator.load_state_dict(state["discriminator"])
        for optimiser, saved in zip(optimisers, state["optimisers"]):
            optimiser.load_state_dict(saved)
        step, elapsed_before, history = state["step"], state["elapsed_minutes"], state["history"]
        log(json.dumps({"event": "resume", "step": step, "elapsed_minutes": round(elapsed_before, 2)}))
    stream = LabelledCropStream(config, config.data.seed + step)
    noise_rng = torch.Generator().manual_seed(config.train.seed * 1000 + step)
    log(json.dumps({"event": "start", "id": config.id, "condition": config.condition,
                    "generator_parameters": parameter_count(generator),
                    "discriminator_parameters": parameter_count(discriminator),
                    "real_images": len(stream.paths), "embedder": manifest["id"], "threads": torch.get_num_threads()}))
    start = last_save = time.time()
    running: dict = {}
    entry: dict = {}
    generator.train()
    size = (config.data.crop, config.data.crop)
    while step < config.train.steps and (minutes is None or time.time() - start < minutes * 60):
        images, labels = stream.batch(config.train.batch)
        images = images.to(device)
        condition = make_condition(config, embedder, manifest, images, labels, noise_rng)
        noise = torch.randn(images.shape[0], config.model.noise, generator=noise_rng).to(device)
        fake = generator(condition, noise, size)
        d_loss = hinge_discriminator(discriminator(images, condition), discriminator(fake.detach(), condition))
        optimisers[1].zero_grad(set_to_none=True)
        d_loss.backward()
        optimisers[1].step()
        g_loss = hinge_generator(discriminator(fake, condition))
        optimisers[0].zero_grad(set_to_none=True)
        g_loss.backward()
        optimisers[0].step()
        step += 1
        for key, value in {"generator": float(g_loss), "discriminator": float(d_loss)}.items():
            running[key] = running.get(key, 0.0) + value
        if step % config.train.log_every == 0:
            elapsed = elapsed_before + (time.time() - start) / 60
            entry = {"step": step, "minutes": round(elapsed, 2)}
            entry.update({key: round(value / config.train.log_every, 4) for key, value in running.items()})
            history.append(entry)
            running = {}
            log(json.dumps(entry))
        if time.time() - last_save > config.train.checkpoint_minutes * 60:
            save(path, config, generator, discriminator, optimisers, step,
                 elapsed_before + (time.time() - start) / 60, history, manifest)
            log(json.dumps({"event": "checkpoint", "step": step}))
            last_save = time.time()
    elapsed = elapsed_before + (time.time() - start) / 60
    save(path, config, generator, discriminator, optimisers, step, elapsed, history, manifest)
    log(json.dumps({"event": "done", "step": step, "minutes": round(elapsed, 2)}))
    return {"step": step, "minutes": elapsed, **entry}


def main() -> None:
    parser = trainer_parser(__doc__, minutes_help="wall-clock cap for this call")
    parser.add_argument("--condition", choices=("embedding", "mask", "none"), help="overrides the config's condition")
    parser.add_argument("--real-dirs", nargs="+", help="overrides data.real_dirs (never eval/)")
    parser.add_argument("--steps", type=int, help="overrides train.steps (the equal-compute budget)")
    args = parser.parse_args()
    set_threads()
    config = load_generator_config(args.config, args.condition)
    if args.real_dirs:
        config.data.real_dirs = list(args.real_dirs)
    if args.steps:
        config.train.steps = args.steps
    with run_log(args.out) as log:
        train(config, args.out, args.minutes, args.resume, log, args.device)


if __name__ == "__main__":
    main()
