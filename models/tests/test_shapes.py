import numpy as np
import torch

from models.pwtrain.config import DataConfig, ModelConfig, config_from_dict
from models.pwtrain.data import IGNORE, NEGATIVE, decode_coco_rle, mask_to_labels, scan_mask_folder
from models.pwtrain.stream import PairStream
from models.pwtrain.nets import build_model, parameter_count
from models.pwtrain.synthetic import synthetic_pair


def test_embed_net_output_is_unit_stride_four():
    model = build_model(ModelConfig(width=0.5, dim=8)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 96, 128))
    assert out.shape == (1, 8, 24, 32)
    assert torch.allclose(out.norm(dim=1), torch.ones(1, 24, 32), atol=1e-5)


def test_default_model_is_small():
    assert 0.3e6 < parameter_count(build_model(ModelConfig())) < 5e6


def test_synthetic_pair_shares_instances_across_views():
    images, labels = synthetic_pair(np.random.default_rng(3), 96)
    assert images.shape == (2, 96, 96, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    shared = set(np.unique(labels[0])) & set(np.unique(labels[1]))
    assert shared, "the two views of a pair must share at least one instance"
    assert (labels >= 0).all()


def test_mask_conversion_marks_background_and_ignore():
    mask = np.array([[0, 128, 255]], np.uint8)
    assert mask_to_labels(mask, "negative").tolist() == [[NEGATIVE, IGNORE, 1]]
    assert mask_to_labels(mask, "instance").tolist() == [[0, IGNORE, 1]]


def encode_compressed_rle(counts):
    """Reference encoder of COCO's compressed RLE string (pycocotools rleToString)."""
    out = []
    for index, value in enumerate(counts):
        if index > 2:
            value -= counts[index - 2]
        more = True
        while more:
            char = value & 0x1F
            value >>= 5
            more = not ((value == 0 and not char & 0x10) or (value == -1 and char & 0x10))
            if more:
                char |= 0x20
            out.append(chr(char + 48))
    return "".join(out)


def test_coco_rle_decodes_both_forms():
    mask = np.zeros((5, 4), np.uint8)
    mask[1:4, 1:3] = 1
    flat = mask.T.reshape(-1)  # COCO runs go down columns
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    assert (decode_coco_rle(counts, 5, 4) == mask).all()
    assert (decode_coco_rle(encode_compressed_rle(counts), 5, 4) == mask).all()


def test_real_folder_pairs(tmp_path):
    import cv2

    for group in ("Cat", "Dog"):
        (tmp_path / "images" / group).mkdir(parents=True)
        (tmp_path / "masks" / group).mkdir(parents=True)
        for index in range(2):
            image = np.random.default_rng(index).integers(0, 255, (40, 60, 3), dtype=np.uint8)
            mask = np.zeros((40, 60), np.uint8)
            mask[10:30, 20:40] = 255
            cv2.imwrite(str(tmp_path / "images" / group / f"{index}.jpg"), image)
            cv2.imwrite(str(tmp_path / "masks" / group / f"{index}.png"), mask)
    assert len(list(scan_mask_folder(tmp_path))) == 4
    stream = PairStream(DataConfig(crop=64, real_dirs=[str(tmp_path)], synthetic_fraction=0.0), (0, 0, 0), (1, 1, 1), 0)
    images, labels = stream.batch(2)
    assert images.shape == (4, 3, 64, 64) and labels.shape == (4, 64, 64)
    assert set(np.unique(labels.numpy())) <= {IGNORE, NEGATIVE, 1}


def test_config_rejects_unknown_keys():
    import pytest

    with pytest.raises(KeyError):
        config_from_dict({"model": {"widht": 2}})
