"""Configuration of the embedding-map decoder (decoder.py); a JSON file in models/configs/decoder*.json overrides
any field, unknown keys are an error (same rules as config.py).

    /usr/bin/python3 -c "from models.pwtrain.decoder_config import load_decoder_config as l; print(l('models/configs/decoder_s.json'))"
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from .config import _fill


@dataclass
class DecoderDataConfig:
    crop: int = 160  # training crop side in pixels of the studio-scaled image; a multiple of 32
    long_side: int = 512  # images are first scaled like the studio does (long side = embedder input.longSide)
    scale_jitter: float = 0.3  # then by a random factor in [1 - scale_jitter, 1] before cropping
    real_dirs: List[str] = field(default_factory=list)  # folders whose images/ (any depth) are read; never eval/
    synthetic_fraction: float = 0.3  # share of crops that are synthetic dead-leaves scenes (synthetic.py)
    seed: int = 0


@dataclass
class DecoderModelConfig:
    dim: int = 16  # embedding dimension (the embedder's output.dim)
    channels: List[int] = field(default_factory=lambda: [64, 32, 16])  # at stride 4, 2 and 1
    blocks: int = 2  # residual blocks at stride 4


@dataclass
class DecoderLossConfig:
    l1: float = 1.0  # L1 between decoded and source RGB in [0, 1]
    gradient: float = 0.5  # L1 between their horizontal/vertical finite differences (edges, no perceptual net)
    reembed: float = 0.2  # 1 - cosine between the input map and the frozen embedder's map of the decoded image
    adversarial: float = 0.0  # hinge GAN term from a small patch discriminator that also sees the map (0 = off)


@dataclass
class DecoderTrainConfig:
    batch: int = 6  # crops per step
    lr: float = 2e-3  # peak AdamW learning rate (the discriminator uses the same)
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    steps: int = 20000  # cosine schedule length; --minutes may stop earlier
    log_every: int = 20
    checkpoint_minutes: float = 4.0
    seed: int = 0


@dataclass
class DecoderConfig:
    id: str = "pixelwise-decoder-s"  # folder name under models/decoders
    name: str = "Pixelwise decoder S"
    embedder: str = "models/builtin/pixelwise-unet-s"  # the frozen embedding model whose stored maps are decoded
    data: DecoderDataConfig = field(default_factory=DecoderDataConfig)
    model: DecoderModelConfig = field(default_factory=DecoderModelConfig)
    loss: DecoderLossConfig = field(default_factory=DecoderLossConfig)
    train: DecoderTrainConfig = field(default_factory=DecoderTrainConfig)


_NESTED = {"data": DecoderDataConfig, "model": DecoderModelConfig, "loss": DecoderLossConfig,
           "train": DecoderTrainConfig}


def decoder_config_from_dict(values: dict) -> DecoderConfig:
    unknown = set(values) - {f.name for f in dataclasses.fields(DecoderConfig)}
    if unknown:
        raise KeyError(f"unknown DecoderConfig keys: {sorted(unknown)}")
    kwargs = {key: (_fill(_NESTED[key], value) if key in _NESTED else value) for key, value in values.items()}
    return DecoderConfig(**kwargs)


def load_decoder_config(path: str | Path) -> DecoderConfig:
    return decoder_config_from_dict(json.loads(Path(path).read_text()))


def decoder_config_to_dict(config: DecoderConfig) -> dict:
    return dataclasses.asdict(config)
