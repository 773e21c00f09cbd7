"""A few real training steps, the real export, and the real onnxruntime-node session (models/tools/ort_run.cjs)."""
import json
import re

import numpy as np
import torch

from models.pwtrain.config import config_from_dict
from models.pwtrain.checkpoint import load_model
from models.pwtrain.export import ExportWrapper
from models.pwtrain.onnx_utils import check_parity, export_onnx, run_onnxruntime_node, sha256_file, write_manifest
from models.pwtrain.train import train

TINY = {"id": "tiny-test", "long_side": 128,
        "data": {"crop": 64, "min_objects": 2, "max_objects": 4},
        "model": {"width": 0.25, "dim": 8, "decoder_channels": 16},
        "loss": {"kind": "combined", "samples": 64},
        "train": {"batch_pairs": 1, "steps": 3, "warmup_steps": 1, "log_every": 1, "checkpoint_minutes": 100}}


def assert_manifest(manifest: dict, folder):
    """The fields and formats core/manifest.ts (zod) requires."""
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", manifest["id"])
    assert manifest["kind"] in ("learned", "non-learned")
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["sha256"])
    assert manifest["sha256"] == sha256_file(folder / manifest["file"])
    assert set(manifest["input"]) == {"name", "longSide", "multipleOf", "mean", "std"}
    assert set(manifest["output"]) == {"name", "stride", "dim", "normalized"}
    assert len(manifest["input"]["mean"]) == 3 and len(manifest["input"]["std"]) == 3
    assert manifest["output"]["stride"] <= 4
    assert "/work" not in json.dumps(manifest) and "/tmp" not in json.dumps(manifest)


def test_few_steps_train_checkpoint_export_and_parity(tmp_path):
    config = config_from_dict(TINY)
    lines = []
    metrics = train(config, tmp_path / "run", minutes=None, resume=False, log=lines.append, workers=0)
    assert "synthetic_click_iou" in metrics
    state = torch.load(tmp_path / "run" / "last.pt", map_location="cpu")
    assert state["step"] == 3 and state["model_args"]["dim"] == 8 and state["history"]
    assert all(np.isfinite(entry["loss"]) for entry in state["history"])

    model, loaded, _ = load_model(tmp_path / "run" / "last.pt", None)
    assert loaded.id == "tiny-test"
    folder = tmp_path / "export"
    wrapper = ExportWrapper(model)
    export_onnx(wrapper, folder / "model.onnx", torch.randn(1, 3, 64, 96))
    assert check_parity(wrapper, folder / "model.onnx", [(64, 96), (96, 32)]) < 1e-4
    manifest = write_manifest(folder, id=loaded.id, name="tiny", version="0", kind="learned", description="",
                              license="MIT", long_side=128, multiple_of=32, mean=(0.5,) * 3, std=(0.25,) * 3,
                              stride=4, dim=8)
    assert_manifest(json.loads((folder / "model.json").read_text()), folder)
    output, _ = run_onnxruntime_node(folder / "model.onnx", np.zeros((1, 3, 32, 64), np.float32))
    assert output.shape == (1, 8, 8, 16)
    assert np.allclose(np.linalg.norm(output, axis=1), 1, atol=1e-4)
    assert manifest["output"]["dim"] == 8


def test_centered_export_wrapper_stays_unit_norm(tmp_path):
    from models.pwtrain.export import training_mean_embedding

    config = config_from_dict(TINY)
    model, _, _ = load_model(None, config)
    center = training_mean_embedding(model, config, pairs=4)
    assert center.shape == (8,) and float(center.norm()) <= 1.0 + 1e-5
    wrapper = ExportWrapper(model, center)
    export_onnx(wrapper, tmp_path / "model.onnx", torch.randn(1, 3, 64, 64))
    assert check_parity(wrapper, tmp_path / "model.onnx", [(64, 64)]) < 1e-4
    with torch.no_grad():
        out = wrapper(torch.randn(1, 3, 64, 64))
    assert torch.allclose(out.norm(dim=1), torch.ones(1, 16, 16), atol=1e-5)


def test_resume_continues_step_count(tmp_path):
    config = config_from_dict(TINY)
    train(config, tmp_path, minutes=None, resume=False, log=lambda line: None, workers=0)
    config.train.steps = 5
    train(config, tmp_path, minutes=None, resume=True, log=lambda line: None, workers=0)
    assert torch.load(tmp_path / "last.pt", map_location="cpu")["step"] == 5


def test_init_fine_tunes_from_another_run_and_records_its_origin(tmp_path):
    from models.pwtrain.export import training_description

    config = config_from_dict(TINY)
    train(config, tmp_path / "base", minutes=None, resume=False, log=lambda line: None, workers=0)
    base = torch.load(tmp_path / "base" / "last.pt", map_location="cpu")
    config.train.steps, config.train.lr = 1, 0.0  # lr 0: the weights must stay the initial ones (BN stats move)
    train(config, tmp_path / "tuned", minutes=None, resume=False, log=lambda line: None, workers=0,
          init=tmp_path / "base" / "last.pt")
    tuned = torch.load(tmp_path / "tuned" / "last.pt", map_location="cpu")
    assert tuned["step"] == 1 and tuned["origin"] == {"id": "tiny-test", "step": 3, "minutes": 0.0, "origin": None}
    weights = [key for key in tuned["model"] if "running_" not in key and "num_batches" not in key]
    assert weights and all(torch.equal(base["model"][key], tuned["model"][key]) for key in weights)
    assert "fine-tuning `tiny-test` after its 3 steps" in training_description(tuned)
    assert tuned["hardware"].startswith("CPU")

    other = config_from_dict({**TINY, "model": {**TINY["model"], "dim": 4}})
    try:
        train(other, tmp_path / "bad", minutes=None, resume=False, log=lambda line: None, workers=0,
              init=tmp_path / "base" / "last.pt")
    except ValueError as error:
        assert "model arguments" in str(error)
    else:
        raise AssertionError("a checkpoint with other model arguments must be refused")
