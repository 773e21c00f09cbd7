"""The training stream: synthetic pairs (synthetic.py), composited real cutouts (composite.py) and real pairs
(data.py), mixed by the config's fractions, as endless batches.

    /usr/bin/python3 -m models.pwtrain.stream --real ../shared/data/train/VOC_coseg --out /tmp/pairs.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from .composite import ObjectBank, composite_pair
from .config import DataConfig
from .data import RealImages
from .synthetic import synthetic_pair


class PairStream:
    """Endless batches: (images 2Bx3xSxS float32 normalised, labels 2BxSxS int64); images 2k and 2k+1 pair."""

    def __init__(self, config: DataConfig, mean, std, seed: int):
        self.config, self.rng = config, np.random.default_rng(seed)
        self.real = RealImages(config) if (config.real_dirs or config.coco or config.panoptic) else None
        self.bank = (ObjectBank(config.real_dirs, config.panoptic, config.real_long_side)
                     if config.composite_fraction > 0 else None)
        self.mean = np.asarray(mean, np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, np.float32).reshape(1, 1, 3)

    def pair(self):
        config, draw = self.config, self.rng.random()
        if self.bank is not None and self.bank.cutouts and draw < config.composite_fraction:
            return composite_pair(self.rng, self.bank, config.crop)
        if self.real is None or len(self.real) == 0 or draw < config.composite_fraction + config.synthetic_fraction:
            return synthetic_pair(self.rng, config.crop, config.min_objects, config.max_objects,
                                  config.shared_fraction, config.duplicate_probability)
        return self.real.pair(self.rng, config.crop, config.pair_same_class)

    def batch(self, pairs: int):
        images, labels = zip(*(self.pair() for _ in range(pairs)))
        images = (np.concatenate(images) - self.mean) / self.std
        return (torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
                torch.from_numpy(np.concatenate(labels)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", nargs="*", default=[], help="images/ + masks/ folders")
    parser.add_argument("--out", type=Path, default=Path("pairs.png"))
    args = parser.parse_args()
    stream = PairStream(DataConfig(real_dirs=args.real, synthetic_fraction=0.5), (0, 0, 0), (1, 1, 1), 0)
    images, labels = stream.batch(4)
    palette = np.random.default_rng(1).integers(0, 255, (4096, 3)).astype(np.uint8)
    palette_labels = palette[np.where(labels.numpy() < 0, 4095 + labels.numpy(), labels.numpy() % 4000)]
    rows = [np.concatenate([(images[i].numpy().transpose(1, 2, 0) * 255).astype(np.uint8), palette_labels[i]], 1)
            for i in range(len(images))]
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}; {len(stream.real or [])} real images")


class PairBatches(torch.utils.data.IterableDataset):
    """PairStream as an endless iterable for a DataLoader worker, so data synthesis overlaps the training step."""

    def __init__(self, config: DataConfig, mean, std, seed: int, pairs: int):
        super().__init__()
        self.config, self.mean, self.std, self.seed, self.pairs = config, mean, std, seed, pairs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        torch.set_num_threads(1)
        stream = PairStream(self.config, self.mean, self.std, self.seed + (info.id * 7919 if info else 0))
        while True:
            yield stream.batch(self.pairs)


def batch_loader(config: DataConfig, mean, std, seed: int, pairs: int, workers: int = 1):
    """Iterator of (images, labels) batches; workers=0 synthesises in the training process."""
    dataset = PairBatches(config, mean, std, seed, pairs)
    if workers == 0:
        return iter(dataset)
    return iter(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers, prefetch_factor=4,
                                            persistent_workers=True))


if __name__ == "__main__":
    main()
