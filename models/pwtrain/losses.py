"""Losses on per-pixel embeddings of image pairs.

    /usr/bin/python3 -m pytest -q models/tests/test_losses.py

Inputs everywhere: embeddings float32 2BxDxHxW (unit L2 norm per pixel, images 2k and 2k+1 form a pair) and
labels int64 2BxHxW at the same resolution (>= 0 instance id shared across a pair, -1 negative-only, -2 ignore;
see data.py). Each pair is one "scene": its instances are clusters that span both images, which is what makes
matching across images a training signal.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LossConfig


def pair_pixels(embeddings: torch.Tensor, labels: torch.Tensor):
    """Yield (N x D embeddings, N labels) per image pair, pixels of both images together."""
    dim = embeddings.shape[1]
    for index in range(0, embeddings.shape[0], 2):
        pixels = embeddings[index:index + 2].permute(0, 2, 3, 1).reshape(-1, dim)
        yield pixels, labels[index:index + 2].reshape(-1)


def discriminative_loss(embeddings, labels, delta_v=0.25, delta_d=0.6, gamma=0.001):
    """De Brabandere et al. 2017: pull pixels to within delta_v of their instance mean, push instance means
    at least 2 * delta_d apart, keep means small; negative-only pixels are pushed 2 * delta_d from every mean.
    Returns (loss, parts dict)."""
    totals = {"pull": 0.0, "push": 0.0, "reg": 0.0}
    pairs = 0
    for pixels, label in pair_pixels(embeddings, labels):
        valid = label >= 0
        if not valid.any():
            continue
        ids, inverse = torch.unique(label[valid], return_inverse=True)
        members = pixels[valid]
        counts = torch.bincount(inverse, minlength=len(ids)).clamp(min=1).unsqueeze(1).float()
        means = pixels.new_zeros(len(ids), pixels.shape[1]).index_add_(0, inverse, members) / counts
        distance = (members - means[inverse]).norm(dim=1)
        pull_each = pixels.new_zeros(len(ids)).index_add_(0, inverse, F.relu(distance - delta_v) ** 2)
        pull = (pull_each / counts.squeeze(1)).mean()
        push = pixels.new_zeros(())
        if len(ids) > 1:
            gaps = torch.cdist(means, means)
            off_diagonal = ~torch.eye(len(ids), dtype=torch.bool, device=means.device)
            push = (F.relu(2 * delta_d - gaps[off_diagonal]) ** 2).mean()
        negatives = pixels[label == -1]
        if len(negatives):
            push = push + (F.relu(2 * delta_d - torch.cdist(negatives, means)) ** 2).mean()
        totals["pull"] = totals["pull"] + pull
        totals["push"] = totals["push"] + push
        totals["reg"] = totals["reg"] + means.norm(dim=1).mean()
        pairs += 1
    if pairs == 0:
        zero = embeddings.sum() * 0
        return zero, {"pull": 0.0, "push": 0.0, "reg": 0.0}
    parts = {key: value / pairs for key, value in totals.items()}
    loss = parts["pull"] + parts["push"] + gamma * parts["reg"]
    return loss, {key: float(value) for key, value in parts.items()}


def sample_balanced(label: torch.Tensor, count: int, generator=None) -> torch.Tensor:
    """Indices of up to `count` labelled pixels (label != -2), each instance (and the negatives) equally likely,
    so large backgrounds do not crowd out small objects."""
    usable = label != -2
    if not usable.any():
        return torch.zeros(0, dtype=torch.long, device=label.device)
    ids, inverse, sizes = torch.unique(label[usable], return_inverse=True, return_counts=True)
    weights = torch.zeros_like(label, dtype=torch.float)
    weights[usable] = 1.0 / sizes[inverse].float()
    return torch.multinomial(weights, min(count, int(usable.sum())), replacement=False, generator=generator)


def contrastive_loss(embeddings, labels, temperature=0.1, samples=384, generator=None):
    """Pixel-level supervised InfoNCE: every sampled pixel with an instance id is an anchor, its positives are
    the other samples with the same id (also in the other image of the pair), the rest are negatives."""
    losses = []
    for pixels, label in pair_pixels(embeddings, labels):
        picked = sample_balanced(label, samples, generator)
        if len(picked) < 2:
            continue
        vectors, ids = pixels[picked], label[picked]
        logits = vectors @ vectors.t() / temperature
        self_mask = torch.eye(len(ids), dtype=torch.bool, device=ids.device)
        logits = logits.masked_fill(self_mask, float("-inf"))
        positive = (ids.unsqueeze(0) == ids.unsqueeze(1)) & ~self_mask & (ids.unsqueeze(1) >= 0)
        log_probability = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        positives = positive.sum(1)
        anchors = positives > 0
        if not anchors.any():
            continue
        per_anchor = -(log_probability.masked_fill(~positive, 0).sum(1)[anchors] / positives[anchors])
        losses.append(per_anchor.mean())
    if not losses:
        return embeddings.sum() * 0
    return torch.stack(losses).mean()


def embedding_loss(embeddings, labels, config: LossConfig, generator=None):
    """The configured loss; returns (loss, parts dict of floats for the log)."""
    parts = {}
    loss = embeddings.new_zeros(())
    if config.kind in ("discriminative", "combined"):
        term, detail = discriminative_loss(embeddings, labels, config.delta_v, config.delta_d, config.gamma)
        weight = config.discriminative_weight if config.kind == "combined" else 1.0
        loss = loss + weight * term
        parts.update(detail, disc=float(term))
    if config.kind in ("contrastive", "combined"):
        term = contrastive_loss(embeddings, labels, config.temperature, config.samples, generator)
        weight = config.contrastive_weight if config.kind == "combined" else 1.0
        loss = loss + weight * term
        parts["nce"] = float(term)
    if not parts:
        raise ValueError(f"unknown loss kind {config.kind!r}")
    return loss, parts
