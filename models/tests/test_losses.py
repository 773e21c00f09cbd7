import torch
import torch.nn.functional as F

from models.pwtrain.config import LossConfig
from models.pwtrain.losses import contrastive_loss, discriminative_loss, embedding_loss


def pair_of_two_instances(spread: float, gap: float, seed: int = 0):
    """2 images x 2 instances (left/right halves) in 3-d; `gap` separates the instance centres."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[:, :, 4:] = 1
    centres = F.normalize(torch.tensor([[1.0, 0.0, 0.0], [1.0 - gap, gap, 0.0]]), dim=1)
    embeddings = centres[labels] + spread * torch.randn(2, 8, 8, 3, generator=generator)
    return F.normalize(embeddings, dim=-1).permute(0, 3, 1, 2).contiguous(), labels


def test_pull_term_prefers_tight_clusters():
    tight, labels = pair_of_two_instances(spread=0.01, gap=1.0)
    loose, _ = pair_of_two_instances(spread=0.5, gap=1.0)
    assert discriminative_loss(tight, labels)[1]["pull"] < discriminative_loss(loose, labels)[1]["pull"]


def test_push_term_prefers_separated_means():
    close, labels = pair_of_two_instances(spread=0.0, gap=0.05)
    far, _ = pair_of_two_instances(spread=0.0, gap=5.0)
    assert discriminative_loss(far, labels)[1]["push"] < discriminative_loss(close, labels)[1]["push"]


def test_negative_pixels_are_pushed_but_not_pulled():
    embeddings, labels = pair_of_two_instances(spread=0.0, gap=0.2)
    labels[:, :, 4:] = -1  # the right half becomes background that only acts as a negative
    _, parts = discriminative_loss(embeddings, labels)
    assert parts["push"] > 0 and parts["pull"] == 0


def test_contrastive_prefers_aligned_embeddings_and_uses_cross_image_positives():
    aligned, labels = pair_of_two_instances(spread=0.01, gap=1.0)
    random = F.normalize(torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    generator = torch.Generator().manual_seed(0)
    assert contrastive_loss(aligned, labels, samples=64, generator=generator) < contrastive_loss(
        random, labels, samples=64, generator=generator)
    swapped = labels.clone()
    swapped[1] = 1 - swapped[1]  # same looks, but ids now say image 2's halves match the opposite halves
    assert contrastive_loss(aligned, swapped, samples=64, generator=generator) > contrastive_loss(
        aligned, labels, samples=64, generator=generator)


def test_gradient_step_reduces_combined_loss():
    embeddings, labels = pair_of_two_instances(spread=0.3, gap=0.3)
    raw = embeddings.clone().requires_grad_(True)
    config = LossConfig(kind="combined", samples=64)
    losses = []
    for _ in range(2):
        loss, _ = embedding_loss(F.normalize(raw, dim=1), labels, config, torch.Generator().manual_seed(0))
        losses.append(float(loss))
        loss.backward()
        with torch.no_grad():
            raw -= 0.5 * raw.grad
            raw.grad = None
    assert losses[1] < losses[0]


def test_ignored_pixels_do_not_count():
    embeddings, labels = pair_of_two_instances(spread=0.2, gap=0.5)
    ignored = torch.full_like(labels, -2)
    loss, _ = discriminative_loss(embeddings, ignored)
    assert float(loss) == 0.0
