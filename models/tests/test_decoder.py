"""Decoder pipeline: the shipped embedder loaded back into torch, shapes, loss direction, a few real training
steps (with the adversarial term), resume, and the ONNX export checked through onnxruntime-node."""
import json

import numpy as np
import torch

from models.pwtrain.decoder import (Decoder, build_decoder, gradient_l1, load_decoder, load_embedder,
                                    quantise_like_studio, reembed_cosine, studio_map, train)
from models.pwtrain.decoder_config import decoder_config_from_dict
from models.pwtrain.decoder_export import check_decoder_parity, export_decoder_onnx, write_decoder_manifest
from models.pwtrain.onnx_utils import REPO_ROOT, run_onnxruntime_node, sha256_file

EMBEDDER = REPO_ROOT / "models" / "builtin" / "pixelwise-unet-s"
TINY = {"id": "tiny-decoder", "data": {"crop": 64, "synthetic_fraction": 1.0},
        "model": {"channels": [16, 8, 8], "blocks": 1},
        "loss": {"adversarial": 0.05},
        "train": {"batch": 2, "steps": 3, "warmup_steps": 1, "log_every": 1, "checkpoint_minutes": 100}}


def test_embedder_from_onnx_matches_onnxruntime_node():
    net, manifest = load_embedder(EMBEDDER)
    image = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(image).numpy()
    actual, _ = run_onnxruntime_node(EMBEDDER / manifest["file"], image.numpy())
    assert actual.shape == expected.shape == (1, 16, 16, 24)
    assert np.abs(actual - expected).max() < 1e-4


def test_quantisation_matches_the_studio_int8_rule():
    maps = torch.nn.functional.normalize(torch.randn(2, 16, 5, 7, generator=torch.Generator().manual_seed(3)), dim=1)
    stored = quantise_like_studio(maps)
    for index in range(2):
        scale = float(maps[index].abs().max()) / 127
        codes = stored[index] / scale
        assert torch.allclose(codes, codes.round(), atol=1e-3)  # integer codes, one scale per image
        assert abs(float(codes.abs().max()) - 127) < 1e-3
    assert float((stored - maps).abs().max()) <= float(maps.abs().max()) / 254 + 1e-6


def test_decoder_shapes_and_range():
    config = decoder_config_from_dict(TINY)
    decoder = build_decoder(config).eval()
    with torch.no_grad():
        output = decoder(torch.randn(3, 16, 7, 5))
    assert output.shape == (3, 3, 28, 20)
    assert float(output.min()) >= 0 and float(output.max()) <= 1


def test_losses_point_the_right_way():
    embedder, manifest = load_embedder(EMBEDDER)
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(1, 3, 64, 64, generator=generator)
    flat = image.mean(dim=(2, 3), keepdim=True).expand_as(image)
    assert gradient_l1(image, image) == 0 and gradient_l1(flat, image) > 0
    embedding = studio_map(embedder, manifest, image)
    other = torch.rand(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        same, different = reembed_cosine(embedder, manifest, image, embedding), reembed_cosine(embedder, manifest, other, embedding)
    assert float(same) > 0.99 > float(different)


def test_few_steps_resume_export_and_parity(tmp_path):
    config = decoder_config_from_dict(TINY)
    lines = []
    metrics = train(config, tmp_path / "run", minutes=None, resume=False, log=lines.append)
    assert "synthetic_psnr" in metrics and np.isfinite(metrics["synthetic_psnr"])
    entries = [json.loads(line) for line in lines if '"step"' in line and "event" not in line]
    assert len(entries) == 3 and all(np.isfinite(e["loss"]) and "adversarial" in e and "reembed" in e for e in entries)
    config.train.steps = 5
    train(config, tmp_path / "run", minutes=None, resume=True, log=lines.append)
    decoder, loaded, state = load_decoder(tmp_path / "run" / "last.pt")
    assert isinstance(decoder, Decoder) and state["step"] == 5 and loaded.id == "tiny-decoder"
    assert state["embedder"]["id"] == "pixelwise-unet-s"

    folder = tmp_path / "export"
    export_decoder_onnx(decoder, folder / "model.onnx", 16)
    assert check_decoder_parity(decoder, folder / "model.onnx", 16, [(8, 12), (5, 3)]) < 1e-4
    manifest = write_decoder_manifest(folder, id=loaded.id, name="tiny", version="0", description="",
                                      embedder=state["embedder"], dim=16)
    assert manifest["sha256"] == sha256_file(folder / "model.onnx")
    assert json.loads((folder / "decoder.json").read_text())["embedder"]["sha256"] == sha256_file(EMBEDDER / "model.onnx")
