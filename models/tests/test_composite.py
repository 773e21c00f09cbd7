"""Compositing: instance ids exact after occlusion, shared objects across views, real folders read as written."""
import json

import cv2
import numpy as np
import pytest

from models.pwtrain.composite import (BACKGROUND_IDS, DISTRACTOR_IDS, SHARED_IDS, Background, Cutout, ObjectBank,
                                      composite_pair, paste)
from models.pwtrain.config import DataConfig
from models.pwtrain.data import IGNORE, NEGATIVE
from models.pwtrain.stream import PairStream


def disk_cutout(radius: int, colour) -> Cutout:
    yy, xx = np.mgrid[:2 * radius, :2 * radius]
    mask = (yy - radius + 0.5) ** 2 + (xx - radius + 0.5) ** 2 <= radius ** 2
    return Cutout(np.broadcast_to(np.float32(colour), (*mask.shape, 3)).copy(), mask)


def test_labels_are_each_pastes_pixels_minus_what_later_pastes_cover():
    rng = np.random.default_rng(5)
    image = np.zeros((64, 64, 3), np.float32)
    labels = np.full((64, 64), NEGATIVE, np.int64)
    owned = [paste(rng, image, labels, disk_cutout(20, (1, 0, 0)), 10 + i, scale_range=(0.4, 0.8)) for i in range(6)]
    expected = np.full((64, 64), NEGATIVE, np.int64)
    for i, pixels in enumerate(owned):
        assert pixels.any(), "at least half of every object stays inside the canvas"
        expected[pixels] = 10 + i
    np.testing.assert_array_equal(labels, expected)
    visible = [(labels == 10 + i).sum() for i in range(6)]
    assert visible[-1] == owned[-1].sum(), "the last paste is never covered"
    assert sum(visible) < sum(pixels.sum() for pixels in owned), "some pastes occlude others"


def test_pasted_pixels_take_the_objects_colour_and_the_rest_is_untouched():
    rng = np.random.default_rng(0)
    image = np.full((48, 48, 3), 0.5, np.float32)
    labels = np.zeros((48, 48), np.int64)
    owned = paste(rng, image, labels, disk_cutout(16, (0.9, 0.9, 0.9)), 7)
    assert (image[~owned] == 0.5).sum() > 0.9 * (~owned).sum() * 3, "outside the object only its soft edge blends"
    inside = cv2.erode(owned.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.abs(image[inside] - 0.5).min() > 0.05, "inside, the (recoloured) object replaces the background"


def bank_of_disks() -> ObjectBank:
    bank = ObjectBank()
    bank.cutouts = [disk_cutout(r, c) for r, c in [(12, (1, 0, 0)), (16, (0, 1, 0)), (20, (0, 0, 1)), (9, (1, 1, 0))]]
    labels = np.full((80, 80), NEGATIVE, np.int64)
    labels[10:40, 10:40] = 1
    labels[50:70, :] = IGNORE
    bank.backgrounds = [Background(np.full((80, 80, 3), 128, np.uint8), labels)]
    return bank


def test_pairs_share_objects_and_keep_distractors_and_backgrounds_apart():
    bank = bank_of_disks()
    pairs_sharing = 0
    for seed in range(12):
        images, labels = composite_pair(np.random.default_rng(seed), bank, 64, min_objects=3, max_objects=6,
                                        synthetic_background=0.5 if seed % 2 else 0.0)
        assert images.shape == (2, 64, 64, 3) and labels.shape == (2, 64, 64) and labels.dtype == np.int64
        assert 0 <= images.min() and images.max() <= 1 and labels.min() >= IGNORE
        ids = [set(np.unique(view).tolist()) for view in labels]
        shared = [{i for i in view if SHARED_IDS <= i < DISTRACTOR_IDS} for view in ids]
        pairs_sharing += bool(shared[0] & shared[1])
        distractors = [{i for i in view if DISTRACTOR_IDS <= i < BACKGROUND_IDS} for view in ids]
        assert not distractors[0] & distractors[1], "a distractor belongs to one view only"
    assert pairs_sharing >= 10, "shared objects keep one id in both views (unless one view covers them all)"


def write_panoptic(root, stem="000000000001"):
    (root / "images").mkdir(parents=True)
    (root / "segments").mkdir()
    image = np.zeros((60, 80, 3), np.uint8)
    image[10:30, 10:40] = (200, 30, 30)
    image[35:55, 45:75] = (30, 200, 30)
    indices = np.zeros((60, 80), np.uint16)
    indices[:, :] = 3  # stuff
    indices[10:30, 10:40] = 1
    indices[35:55, 45:75] = 2  # crowd
    indices[0:5, 0:5] = 0
    cv2.imwrite(str(root / "images" / f"{stem}.jpg"), image[..., ::-1])
    cv2.imwrite(str(root / "segments" / f"{stem}.png"), indices)
    segments = [{"index": 1, "isthing": 1, "iscrowd": 0}, {"index": 2, "isthing": 1, "iscrowd": 1},
                {"index": 3, "isthing": 0, "iscrowd": 0}]
    (root / "segments.json").write_text(json.dumps({"images": [{"stem": stem, "segments": segments}]}))


def test_bank_reads_panoptic_things_as_cutouts_and_scenes_as_backgrounds(tmp_path):
    write_panoptic(tmp_path / "train" / "pan")
    bank = ObjectBank(panoptic_dirs=[tmp_path / "train" / "pan"], min_area=100)
    assert len(bank.cutouts) == 1, "the one non-crowd thing; the crowd and the stuff segment are not cut out"
    assert bank.cutouts[0].mask.shape == (20, 30) and bank.cutouts[0].mask.all()
    assert bank.cutouts[0].rgb[5, 5, 0] > 0.6
    labels = bank.backgrounds[0].labels
    assert labels[0, 0] == IGNORE and labels[40, 50] == IGNORE and labels[20, 20] == 1 and labels[58, 5] == 3


def test_bank_refuses_eval_folders(tmp_path):
    write_panoptic(tmp_path / "eval" / "pan")
    with pytest.raises(ValueError, match="eval"):
        ObjectBank(panoptic_dirs=[tmp_path / "eval" / "pan"])


def test_stream_mixes_composites_from_the_configs_folders(tmp_path):
    write_panoptic(tmp_path / "train" / "pan")
    config = DataConfig(crop=64, panoptic=[str(tmp_path / "train" / "pan")], composite_fraction=1.0,
                        synthetic_fraction=0.0)
    images, labels = PairStream(config, (0, 0, 0), (1, 1, 1), 0).batch(3)
    assert images.shape == (6, 3, 64, 64) and labels.shape == (6, 64, 64)
    assert ((labels >= SHARED_IDS) & (labels < BACKGROUND_IDS)).any(), "cutouts were pasted"
