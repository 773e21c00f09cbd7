"""Configuration dataclasses with commented defaults; a JSON file in models/configs/ overrides any field.

    /usr/bin/python3 -c "from models.pwtrain.config import load_config; print(load_config('models/configs/unet_s.json'))"

A JSON config has the sections ``data``, ``model``, ``loss``, ``train`` plus ``id`` / ``name``; unknown keys are
an error so a typo cannot silently fall back to a default.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional


@dataclass
class DataConfig:
    crop: int = 192  # training image side in pixels (square crops); a multiple of 32
    synthetic_fraction: float = 0.7  # share of training pairs from the synthetic generator, the rest is real data
    real_dirs: List[str] = field(default_factory=list)  # folders holding images/ + masks/ (any depth), paired by stem
    coco: List[List[str]] = field(default_factory=list)  # [instances.json, image folder] pairs (COCO instances)
    panoptic: List[str] = field(default_factory=list)  # COCO128-panoptic folders: every segment an instance
    composite_fraction: float = 0.0  # share of pairs composited from real cutouts (composite.py), from the rest
    real_background: str = "negative"  # "negative": real background only acts as a negative; "instance": one id
    pair_same_class: bool = True  # real pairs: two images of one class folder whose foregrounds count as positives
    real_long_side: int = 320  # real images are cached at this long side (pixels) before cropping
    min_objects: int = 4  # synthetic: fewest objects per view (shared + distractors)
    max_objects: int = 14  # synthetic: most objects per view
    shared_fraction: float = 0.6  # synthetic: share of objects that appear in both views of a pair
    duplicate_probability: float = 0.15  # synthetic: chance a distractor copies another object's look
    seed: int = 0  # base seed for the data stream; resumed runs continue with seed + step


@dataclass
class ModelConfig:
    width: float = 1.0  # channel multiplier of the encoder/decoder (1.0 is about 1.2M parameters)
    dim: int = 16  # embedding dimension D
    decoder_channels: int = 48  # FPN channels before the multiplier
    coords: bool = True  # concatenate normalised (x, y) at the head so look-alike objects can separate by place
    colour_skip: bool = True  # concatenate the stride-4 average colour at the head (sharper colour boundaries)


@dataclass
class LossConfig:
    kind: str = "combined"  # "discriminative", "contrastive" or "combined"
    delta_v: float = 0.25  # pull: pixels within this distance of their instance mean cost nothing
    delta_d: float = 0.6  # push: instance means at least 2 * delta_d apart cost nothing
    gamma: float = 0.001  # regulariser on the norm of instance means (De Brabandere et al. 2017)
    temperature: float = 0.1  # InfoNCE temperature on cosine similarity
    samples: int = 384  # InfoNCE: pixels sampled per image pair (instance-balanced)
    discriminative_weight: float = 1.0  # weight of the discriminative term in "combined"
    contrastive_weight: float = 1.0  # weight of the InfoNCE term in "combined"


@dataclass
class TrainConfig:
    batch_pairs: int = 4  # image pairs per step (2 * batch_pairs images)
    lr: float = 3e-3  # peak AdamW learning rate
    weight_decay: float = 1e-4  # AdamW weight decay
    warmup_steps: int = 50  # linear warm-up
    steps: int = 20000  # cosine schedule length; --minutes may stop earlier
    label_stride: int = 2  # losses on this grid: embeddings upsampled from stride 4, labels subsampled
    log_every: int = 25  # steps between log lines
    checkpoint_minutes: float = 3.0  # wall-clock minutes between checkpoints
    seed: int = 0  # torch seed for initialisation


@dataclass
class Config:
    id: str = "pixelwise-unet-s"  # model id (folder name under models/builtin or models/experiments)
    name: str = "Pixelwise U-Net S"  # human name written to model.json
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    long_side: int = 512  # manifest input.longSide for the exported model
    untrained: bool = False  # random-init control: export without training


def _fill(cls, values: dict):
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise KeyError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs = {}
    for key, value in values.items():
        kind = names[key].type
        nested = {"DataConfig": DataConfig, "ModelConfig": ModelConfig, "LossConfig": LossConfig,
                  "TrainConfig": TrainConfig}.get(kind if isinstance(kind, str) else getattr(kind, "__name__", ""))
        kwargs[key] = _fill(nested, value) if nested else value
    return cls(**kwargs)


def config_from_dict(values: dict) -> Config:
    return _fill(Config, values)


def load_config(path: str | Path) -> Config:
    return config_from_dict(json.loads(Path(path).read_text()))


def config_to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)
