"""Conditional generator pipeline: shapes for the three conditions, hinge loss direction, the mask encoding,
a few real training steps on a tiny labelled folder, and resume from the self-describing checkpoint."""
import json

import cv2
import numpy as np
import pytest
import torch

from models.pwtrain.decoder import load_embedder
from models.pwtrain.generator import (ConditionalPatchDiscriminator, Generator, LabelledCropStream,
                                      hinge_discriminator, hinge_generator, load_generator, make_condition,
                                      mask_condition, train)
from models.pwtrain.generator_config import generator_config_from_dict
from models.pwtrain.onnx_utils import REPO_ROOT

EMBEDDER = REPO_ROOT / "models" / "builtin" / "pixelwise-unet-s"


def tiny(condition: str, **train_settings) -> dict:
    return {"id": "tiny-generator", "condition": condition, "data": {"crop": 64, "synthetic_fraction": 1.0},
            "model": {"channels": [16, 8, 8], "hidden": 8, "noise": 4, "discriminator": 8, "instances": 3},
            "train": {"batch": 2, "steps": 3, "log_every": 1, "checkpoint_minutes": 100, **train_settings}}


@pytest.mark.parametrize("condition,channels", [("embedding", 16), ("mask", 4), ("none", 1)])
def test_shapes_for_each_condition(condition, channels):
    config = generator_config_from_dict(tiny(condition))
    embedder, manifest = load_embedder(EMBEDDER)
    images = torch.rand(2, 3, 64, 96)
    labels = torch.zeros(2, 64, 96, dtype=torch.int64)
    labels[:, 10:30, 20:50] = 1
    map_ = make_condition(config, embedder, manifest, images, labels)
    grid = (16, 24) if condition != "mask" else (64, 96)
    assert map_.shape == (2, channels, *grid)
    generator, discriminator = Generator(config), ConditionalPatchDiscriminator(config)
    fake = generator(map_, torch.randn(2, 4), (64, 96))
    assert fake.shape == (2, 3, 64, 96)
    assert float(fake.min()) >= 0 and float(fake.max()) <= 1
    assert discriminator(fake, map_).shape == (2, 1, 16, 24)  # one score per grid cell


def test_the_condition_changes_the_output_and_noise_varies_it():
    config = generator_config_from_dict(tiny("mask"))
    generator = Generator(config).eval()
    labels = torch.zeros(1, 64, 64, dtype=torch.int64)
    labels[:, 16:48, 16:48] = 1
    other = torch.zeros_like(labels)
    other[:, :, 32:] = 1
    noise = torch.randn(1, 4)
    with torch.no_grad():
        a = generator(mask_condition(labels, 3, torch.Generator().manual_seed(0)), noise, (64, 64))
        b = generator(mask_condition(other, 3, torch.Generator().manual_seed(0)), noise, (64, 64))
        c = generator(mask_condition(labels, 3, torch.Generator().manual_seed(0)), torch.randn(1, 4), (64, 64))
    assert float((a - b).abs().mean()) > 1e-4
    assert float((a - c).abs().mean()) > 1e-4


def test_mask_condition_channels_and_boundary():
    labels = torch.zeros(1, 8, 8, dtype=torch.int64)
    labels[0, 2:6, 2:6] = 7
    labels[0, 0, 0] = 9  # a third, tiny instance
    encoded = mask_condition(labels, 2, torch.Generator().manual_seed(1))
    assert encoded.shape == (1, 3, 8, 8)
    instance_channels = encoded[0, :2]
    assert float(instance_channels.sum()) == 64 - 1  # the two largest instances, one channel each; id 9 dropped
    assert sorted(int(c.sum()) for c in instance_channels) == [16, 47]
    boundary = encoded[0, 2]
    assert boundary[2, 2] == 1 and boundary[3, 3] == 0 and boundary[7, 7] == 0


def test_hinge_losses_point_the_right_way():
    confident_real, confident_fake = torch.full((4, 1, 2, 2), 2.0), torch.full((4, 1, 2, 2), -2.0)
    assert float(hinge_discriminator(confident_real, confident_fake)) == 0.0  # past the margin: nothing to learn
    assert float(hinge_discriminator(confident_fake, confident_real)) == pytest.approx(6.0)  # fooled both ways
    assert float(hinge_discriminator(torch.zeros(1), torch.zeros(1))) == pytest.approx(2.0)
    # the generator's loss falls as the discriminator rates its output more real
    assert float(hinge_generator(torch.full((3,), 1.0))) < float(hinge_generator(torch.full((3,), -1.0)))
    scores = torch.zeros(5, requires_grad=True)
    hinge_generator(scores).backward()
    assert bool((scores.grad < 0).all())  # gradient descent raises the fake scores


def test_labelled_crops_from_a_folder(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        cv2.imwrite(str(root / "images" / f"a{index}.jpg"), rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
        mask = np.zeros((90, 120), np.uint8)
        mask[20:70, 30:90] = 255
        cv2.imwrite(str(root / "masks" / f"a{index}.png"), mask)
    config = generator_config_from_dict({**tiny("mask"), "data": {"crop": 64, "long_side": 128, "scale_jitter": 0.0,
                                                                   "synthetic_fraction": 0.0, "real_dirs": [str(root)]}})
    images, labels = LabelledCropStream(config, 0).batch(4)
    assert images.shape == (4, 3, 64, 64) and labels.shape == (4, 64, 64)
    assert set(torch.unique(labels).tolist()) <= {0, 1} and int(labels.sum()) > 0


@pytest.mark.parametrize("condition", ["embedding", "mask", "none"])
def test_a_few_steps_then_resume(tmp_path, condition):
    config = generator_config_from_dict(tiny(condition))
    lines = []
    result = train(config, tmp_path, None, False, lines.append)
    assert result["step"] == 3
    checkpoint = tmp_path / "last.pt"
    generator, loaded, state = load_generator(checkpoint)
    assert loaded.condition == condition and state["condition"] == condition and state["step"] == 3
    assert state["embedder"]["id"] == "pixelwise-unet-s" and len(state["history"]) == 3
    assert all(np.isfinite([entry["generator"], entry["discriminator"]]).all() for entry in state["history"])
    before = {k: v.clone() for k, v in state["model"].items()}
    config.train.steps = 5
    result = train(config, tmp_path, None, True, lines.append)
    assert json.loads(lines[0])["event"] == "start"
    assert any(json.loads(line).get("event") == "resume" and json.loads(line)["step"] == 3 for line in lines)
    _, _, state = load_generator(checkpoint)
    assert state["step"] == 5 and len(state["history"]) == 5
    assert any(not torch.equal(before[k], state["model"][k]) for k in before)  # it kept learning
    other = generator_config_from_dict(tiny("none" if condition != "none" else "mask", steps=6))
    with pytest.raises(ValueError, match="conditioned run"):
        train(other, tmp_path, None, True, lines.append)


def test_report_section_on_three_tiny_runs(tmp_path):
    """gen_report's generators section end to end: three equal-compute tiny runs, a tiny eval-shaped folder."""
    from models.pwtrain.generator_eval import (REFERENCE, frechet_distance, generator_lines, generator_results,
                                               kept_section, splice_generators)

    rng = np.random.default_rng(0)
    for name in ("GrabCut", "COCO_MVal"):
        (tmp_path / "data" / "eval" / name / "images").mkdir(parents=True)
        (tmp_path / "data" / "eval" / name / "masks").mkdir(parents=True)
        for index in range(3):
            cv2.imwrite(str(tmp_path / "data" / "eval" / name / "images" / f"{name}{index}.jpg"),
                        rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
            mask = np.zeros((300, 400), np.uint8)
            cv2.circle(mask, (200, 150), 40 + 10 * index, 255, -1)
            cv2.imwrite(str(tmp_path / "data" / "eval" / name / "masks" / f"{name}{index}.png"), mask)
    for condition in ("embedding", "mask", "none"):
        train(generator_config_from_dict(tiny(condition, steps=2)), tmp_path / "runs" / f"generator_{condition}",
              None, False, lambda line: None)
    embedder, manifest = load_embedder(EMBEDDER)
    result = generator_results(embedder, manifest, tmp_path / "runs", tmp_path / "data", 3, tmp_path / "grid.jpg")
    assert result["crops"] == 12 and result["steps"] == 2
    assert set(result["rows"]) == {REFERENCE, "generator, condition: embedding",
                                   "generator, condition: mask", "generator, condition: none"}
    for row in result["rows"].values():
        assert row["cells"] >= 0 and 0 <= row["iou"] <= 1  # outline crops hold object and background
    assert cv2.imread(str(tmp_path / "grid.jpg")).shape[1] == 5 * 128 + 4 * 4
    doc = "# t\n\n## Edits\n\nx\n\n## Not done\n\n- Conditional generator (SPADE...)\n- other\n"
    once = splice_generators(doc, generator_lines(result))
    assert "## Generators" in once and "- Conditional generator" not in once and "- other" in once
    assert once.index("## Generators") < once.index("## Not done")
    assert splice_generators(once, generator_lines(result)) == once  # replaced in place, not added twice
    (tmp_path / "doc.md").write_text(once)
    assert splice_generators(doc, kept_section(tmp_path / "doc.md")) == once  # the full report without checkpoints
    a = rng.normal(size=(500, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + 1) == pytest.approx(4, abs=1e-3)  # mean shift by 1 in 4 dims, same covariance
    # a run that stopped at another step count is refused: not an equal-compute comparison
    train(generator_config_from_dict(tiny("none", steps=3)), tmp_path / "runs" / "generator_none", None, True,
          lambda line: None)
    with pytest.raises(ValueError, match="equal-compute"):
        generator_results(embedder, manifest, tmp_path / "runs", tmp_path / "data", 3, tmp_path / "grid.jpg")


def test_an_unknown_condition_is_a_clear_error():
    with pytest.raises(ValueError, match="condition must be one of embedding, mask, none"):
        generator_config_from_dict(tiny("segments"))


def test_report_keeps_the_hand_written_augmentation_section(tmp_path):
    """gen_report rewrites docs/generation.md but keeps '## Does augmentation help?' (written from
    models/experiments/augment-helps) before '## Not done', and drops the not-done bullet it answers."""
    from models.pwtrain.gen_report import AUGMENT_SECTION
    from models.pwtrain.generator_eval import kept_section, splice_generators

    old = f"# t\n\n## Edits\n\nx\n\n{AUGMENT_SECTION}\n\n| run | NoC@90 |\n| with | 5.1 |\n\n## Not done\n\n- y\n"
    (tmp_path / "doc.md").write_text(old)
    regenerated = "# t\n\n## Edits\n\nz\n\n## Not done\n\n- Does augmentation help: not measured\n- y\n\n## Reproduce\n"
    kept = kept_section(tmp_path / "doc.md", AUGMENT_SECTION)
    assert kept[0] == AUGMENT_SECTION and "| with | 5.1 |" in kept
    out = splice_generators(regenerated, kept, AUGMENT_SECTION, "- Does augmentation help")
    assert "| with | 5.1 |" in out and "\nz\n" in out and "not measured" not in out
    assert out.index("## Edits") < out.index(AUGMENT_SECTION) < out.index("## Not done") < out.index("## Reproduce")
    assert splice_generators(out, kept, AUGMENT_SECTION, "- Does augmentation help") == out
