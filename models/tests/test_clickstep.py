"""The learned click step: the dump reader, a few real training steps with checkpoint and resume, and the export's
parity case (core/engine/clickstep.test.ts runs the TypeScript network on the shipped file's parity case)."""
import json
import struct

import numpy as np
import pytest
import torch

from models.pwtrain.clickstep import FEATURES, ClickStep, evaluate, export_weights, load_weights, read_dump, train


def write_dump(path, objects=12, rounds=4, size=(20, 16), seed=0):
    """Records like eval-clicks.ts --dump: an object whose engine logit is right inside and wrong in one corner
    that the 'previous' feature marks, so a step that learns anything learns to fix the corner."""
    rng = np.random.default_rng(seed)
    width, height = size
    with open(path, "wb") as out:
        for _ in range(objects * rounds):
            target = np.zeros((height, width), np.float32)
            target[4:12, 5:15] = 1
            features = rng.normal(0, 0.1, (len(FEATURES), height, width)).astype(np.float32)
            features[0] = np.where(target > 0.5, 1.0, -1.0)
            features[0, 4:8, 5:9] = -1.0  # the engine misses this corner ...
            features[10, 4:8, 5:9] = 1.0  # ... which the previous mask had
            target[0, 0] = -1  # an ignore cell
            out.write(struct.pack("<3I", width, height, len(FEATURES)))
            out.write(features.astype(np.float16).tobytes() + target.astype(np.float16).tobytes())


def test_read_dump_round_trip(tmp_path):
    write_dump(tmp_path / "d.bin", objects=2)
    records = read_dump(tmp_path / "d.bin")
    assert len(records) == 8
    features, target = records[0]
    assert features.shape == (len(FEATURES), 16, 20) and target.shape == (16, 20)
    assert target[0, 0] == -1 and target[5, 10] == 1 and features[0, 5, 5] == -1


def test_zero_step_is_the_engine():
    model = ClickStep(8, 6)
    features = torch.randn(1, len(FEATURES), 7, 9)
    assert torch.allclose(model(features), torch.clamp(features[:, :1] * 6, -12, 12))


def test_coarse_step_keeps_the_grid_size_and_starts_as_the_engine(tmp_path):
    """coarse=2 on odd grid sizes: 2x2 means with the edge repeated, the correction back on the full grid."""
    model = ClickStep(6, 4, coarse=2)
    features = torch.randn(2, len(FEATURES), 7, 9)
    out = model(features)
    assert out.shape == (2, 1, 7, 9)
    assert torch.allclose(out, torch.clamp(features[:, :1] * 6, -12, 12))
    write_dump(tmp_path / "d.bin", size=(21, 15))
    config = {"hidden": 6, "hidden2": 4, "coarse": 2, "crop": 15, "batch": 4, "lr": 0.01, "holdout_every": 4, "dumps": [str(tmp_path / "d.bin")]}
    result = train(config, tmp_path / "run", minutes=None, steps=100, log=lambda line: None)
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    exported = export_weights(ClickStep(6, 4, coarse=2), tmp_path / "w.json", {}, np.zeros((len(FEATURES), 5, 7), np.float32))
    assert exported["coarse"] == 2


def test_few_steps_train_resume_and_export(tmp_path):
    torch.set_num_threads(1)
    write_dump(tmp_path / "d.bin")
    config = {"hidden": 8, "hidden2": 6, "crop": 16, "batch": 4, "lr": 0.01, "holdout_every": 4, "dumps": [str(tmp_path / "d.bin")]}
    first = train(config, tmp_path / "run", minutes=None, steps=200, log=lambda line: None)
    assert first["step"] == 200 and (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").exists()
    start, end = first["history"][0], first["history"][-1]
    # The engine's corner error is learnable from the previous-mask feature: held-out IoU rises above the engine's.
    assert start["iou"] == start["engine_iou"]
    assert end["iou"] > start["engine_iou"] + 0.1 and end["loss"] < start["loss"]
    resumed = train(config, tmp_path / "run", minutes=None, steps=400, resume=True, log=lambda line: None)
    assert resumed["step"] == 400 and len(resumed["history"]) == len(first["history"]) + 1

    model = ClickStep(8, 6)
    model.load_state_dict(torch.load(tmp_path / "run" / "best.pt", map_location="cpu")["model"])
    features = np.random.default_rng(1).normal(0, 1, (len(FEATURES), 5, 7)).astype(np.float32)
    exported = export_weights(model, tmp_path / "w.json", {"steps": 400}, features)
    on_disk = json.loads((tmp_path / "w.json").read_text())
    assert on_disk["features"] == FEATURES and len(on_disk["w1"]) == 8 * len(FEATURES) and len(on_disk["w3"]) == 6 * 9
    assert on_disk["parity"] == exported["parity"] and len(on_disk["parity"]["logits"]) == 35
    # The JSON's numbers are the network's: a plain numpy forward pass from them gives PyTorch's logits.
    w1 = np.array(on_disk["w1"]).reshape(8, -1)
    w2 = np.array(on_disk["w2"]).reshape(6, 8)
    w3 = np.array(on_disk["w3"]).reshape(6, 3, 3)
    x = features.reshape(len(FEATURES), -1)
    h = np.maximum(0, w2 @ np.maximum(0, w1 @ x + np.array(on_disk["b1"])[:, None]) + np.array(on_disk["b2"])[:, None]).reshape(6, 5, 7)
    padded = np.pad(h, ((0, 0), (1, 1), (1, 1)))
    out = np.clip(features[0] * 6, -12, 12) + on_disk["b3"]
    for ky in range(3):
        for kx in range(3):
            out = out + np.einsum("h,hyx->yx", w3[:, ky, kx], padded[:, ky:ky + 5, kx:kx + 7])
    assert np.allclose(out.reshape(-1), on_disk["parity"]["logits"], atol=1e-4)


def test_load_weights_inverts_export_and_a_round_starts_from_them(tmp_path):
    """A further (on-policy) round: the exported JSON loads back to the same network, and train() with "init"
    starts from it (its first held-out check is the loaded network's, not the engine's) and goes on from there."""
    torch.set_num_threads(1)
    write_dump(tmp_path / "d.bin")
    config = {"hidden": 8, "hidden2": 6, "coarse": 2, "crop": 16, "batch": 4, "lr": 0.01, "holdout_every": 4,
              "dumps": [str(tmp_path / "d.bin")]}
    first = train(config, tmp_path / "run", minutes=None, steps=150, log=lambda line: None)
    model = ClickStep(8, 6, coarse=2)
    model.load_state_dict(torch.load(tmp_path / "run" / "best.pt", map_location="cpu")["model"])
    features = np.random.default_rng(2).normal(0, 1, (len(FEATURES), 5, 7)).astype(np.float32)
    export_weights(model, tmp_path / "w.json", {}, features)
    loaded = load_weights(tmp_path / "w.json")
    assert (loaded.hidden, loaded.hidden2, loaded.coarse) == (8, 6, 2)
    with torch.no_grad():
        batch = torch.from_numpy(features)[None]
        assert torch.allclose(loaded(batch), model(batch), atol=1e-6)
    held = evaluate(loaded, first["held"])
    assert held["iou"] > held["engine_iou"] + 0.1
    second = train({**config, "init": str(tmp_path / "w.json")}, tmp_path / "run2", minutes=None, steps=50,
                   log=lambda line: None)
    assert abs(second["history"][0]["iou"] - held["iou"]) < 1e-6 and second["step"] == 50
    with pytest.raises(ValueError, match="differ from the config"):
        train({**config, "hidden": 4, "init": str(tmp_path / "w.json")}, tmp_path / "run3", minutes=None, steps=1,
              log=lambda line: None)


def test_train_only_dumps_add_training_records_and_keep_the_held_out_part(tmp_path):
    """Augment's variants (models/experiments/augment-helps): `train_only_dumps` are all trained on, never held
    out, so a run with them picks its checkpoint on exactly the held-out records of a run without them."""
    torch.set_num_threads(1)
    write_dump(tmp_path / "d.bin", objects=8)
    write_dump(tmp_path / "v.bin", objects=5, seed=1)
    config = {"hidden": 8, "hidden2": 6, "crop": 16, "batch": 4, "lr": 0.01, "holdout_every": 4,
              "dumps": [str(tmp_path / "d.bin")]}
    without = train(config, tmp_path / "without", minutes=None, steps=20, log=lambda line: None)
    with_variants = train({**config, "train_only_dumps": [str(tmp_path / "v.bin")]}, tmp_path / "with", minutes=None,
                          steps=20, log=lambda line: None)
    assert without["train"] == 6 * 4 and with_variants["train"] == 6 * 4 + 5 * 4
    assert len(with_variants["held"]) == len(without["held"]) == 2 * 4
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(without["held"], with_variants["held"]))
    # Same init and seed: the first check (step 0) is the same network on the same records.
    first = [{key: run["history"][0][key] for key in ("iou", "loss")} for run in (without, with_variants)]
    assert first[0] == first[1]
    assert with_variants["step"] == without["step"] == 20
