import numpy as np

from models.pwtrain.evaluate import interior_point, noc, simulate_noc


def test_interior_point_counts_image_border_as_boundary():
    region = np.zeros((20, 40), bool)
    region[:, :10] = True  # touches the border on three sides
    (y, x), depth = interior_point(region)
    assert 4 <= y <= 15 and x in (4, 5) and depth == 5  # 5 px from the left image border, not 0


def test_oracle_embedding_needs_one_click_and_noisy_one_needs_more():
    target = np.zeros((60, 80), bool)
    target[15:45, 20:60] = True
    ignore = np.zeros_like(target)
    oracle = np.stack([target, ~target]).astype(np.float32)
    ious = simulate_noc(oracle, target, ignore, threshold=0.8)
    assert ious[0] == 1.0 and noc(ious, 0.9) == 1 and len(ious) == 20
    flat = np.stack([np.ones_like(target), np.zeros_like(target)]).astype(np.float32)  # every pixel alike
    assert noc(simulate_noc(flat, target, ignore, threshold=0.8), 0.9) == 20
