"""Configuration of the conditional generator (generator.py); a JSON file in models/configs/generator*.json
overrides any field, unknown keys are an error (same rules as config.py). Data settings and crop loading are the
decoder's (``DecoderDataConfig``), so both pipelines read the same crops.

    /usr/bin/python3 -c "from models.pwtrain.generator_config import load_generator_config as l; print(l('models/configs/generator_s.json'))"
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from .config import _fill
from .decoder_config import DecoderDataConfig

CONDITIONS = ("embedding", "mask", "none")


@dataclass
class GeneratorModelConfig:
    dim: int = 16  # embedding dimension (the embedder's output.dim)
    instances: int = 6  # "mask" condition: one channel per instance for the K largest in the crop, + a boundary channel
    noise: int = 16  # noise vector per image, broadcast over the grid and fed with the condition to every modulation
    channels: List[int] = field(default_factory=lambda: [64, 32, 16])  # generator at stride 4, 2 and 1
    hidden: int = 16  # SPADE: channels of the shared conv that reads the condition before per-pixel scale/shift
    discriminator: int = 32  # patch discriminator width
    # Spectral norm on the discriminator's convolutions. Off by default: with it, after 250 steps (batch 8, 64 px,
    # lr 8e-4) the discriminator still scored real and generated crops within 0.2 of each other (hinge loss 1.9-2.0,
    # where 2 is chance) and the mask and unconditioned generators drifted to flat colours.
    spectral_norm: bool = False


@dataclass
class GeneratorTrainConfig:
    batch: int = 8  # crops per step
    lr_generator: float = 4e-4
    lr_discriminator: float = 4e-4  # equal rates: without spectral norm a faster discriminator is not needed
    betas: List[float] = field(default_factory=lambda: [0.0, 0.9])
    steps: int = 2000  # fixed step budget: equal compute across conditions means equal steps, batch and crop size
    log_every: int = 20
    checkpoint_minutes: float = 4.0
    seed: int = 0


@dataclass
class GeneratorConfig:
    id: str = "pixelwise-generator-s"
    condition: str = "embedding"  # "embedding" (the stored map) | "mask" (instance masks) | "none"
    embedder: str = "models/builtin/pixelwise-unet-s"  # frozen; computes the stored maps (and the report's metrics)
    data: DecoderDataConfig = field(default_factory=DecoderDataConfig)
    model: GeneratorModelConfig = field(default_factory=GeneratorModelConfig)
    train: GeneratorTrainConfig = field(default_factory=GeneratorTrainConfig)


_NESTED = {"data": DecoderDataConfig, "model": GeneratorModelConfig, "train": GeneratorTrainConfig}


def generator_config_from_dict(values: dict) -> GeneratorConfig:
    unknown = set(values) - {f.name for f in dataclasses.fields(GeneratorConfig)}
    if unknown:
        raise KeyError(f"unknown GeneratorConfig keys: {sorted(unknown)}")
    kwargs = {key: (_fill(_NESTED[key], value) if key in _NESTED else value) for key, value in values.items()}
    config = GeneratorConfig(**kwargs)
    if config.condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, not {config.condition!r}")
    return config


def load_generator_config(path: str | Path, condition: str | None = None) -> GeneratorConfig:
    """The config at ``path``; ``condition`` (if given) overrides its condition so one file serves all three."""
    values = json.loads(Path(path).read_text())
    if condition is not None:
        values["condition"] = condition
    return generator_config_from_dict(values)


def generator_config_to_dict(config: GeneratorConfig) -> dict:
    return dataclasses.asdict(config)
