"""Non-learned graph and backbone exporters (random weights, tiny sizes) through onnxruntime-node."""
import json

import numpy as np
import torch

from models.pwtrain.backbones import DinoV2, SamImageEncoder, export_backbone
from models.pwtrain.nonlearned import DIM, ColorPositionFeatures
from models.pwtrain.onnx_utils import check_parity, export_onnx
from test_train_export import assert_manifest


def test_colorpos_graph_parity_and_contract(tmp_path):
    module = ColorPositionFeatures().eval()
    export_onnx(module, tmp_path / "model.onnx", torch.rand(1, 3, 32, 48))
    assert check_parity(module, tmp_path / "model.onnx", [(32, 48), (60, 20)]) < 1e-4
    with torch.no_grad():
        out = module(torch.rand(1, 3, 40, 64))
    assert out.shape == (1, DIM, 10, 16)
    assert torch.allclose(out.norm(dim=1), torch.ones(1, 10, 16), atol=1e-5)


def test_colorpos_separates_colours_more_than_shades():
    image = torch.zeros(1, 3, 32, 64)
    image[:, 0, :, :32] = 0.9  # red left half
    image[:, 2, :, 32:] = 0.9  # blue right half
    with torch.no_grad():
        out = ColorPositionFeatures()(image)[0]
    same = float(out[:, 4, 1] @ out[:, 4, 2])
    different = float(out[:, 4, 1] @ out[:, 4, 14])
    assert same > different


def test_builtin_colorpos_manifest_matches_file():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "builtin" / "pixelwise-colorpos"
    assert_manifest(json.loads((folder / "model.json").read_text()), folder)


def test_dinov2_tiny_export(tmp_path):
    result = export_backbone("dinov2", "tiny", tmp_path, dim=8)
    assert result["parity_max_abs_diff"] < 1e-4
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert_manifest(manifest, tmp_path)
    assert manifest["input"]["multipleOf"] == 28 and manifest["output"]["dim"] == 8


def test_sam_tiny_export_fixed_square_input(tmp_path):
    result = export_backbone("sam", "tiny", tmp_path)
    assert result["parity_max_abs_diff"] < 1e-4
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert_manifest(manifest, tmp_path)
    assert manifest["input"]["longSide"] == manifest["input"]["multipleOf"] == 64


def test_official_key_names_load_strictly(tmp_path):
    """Save a state dict under the official names (random values) and load it back strictly, as --weights does."""
    from models.pwtrain.backbones import load_weights

    dino = DinoV2(dim=32, depth=1, heads=2, grid=4)
    keys = set(dino.state_dict())
    for name in ("cls_token", "pos_embed", "mask_token", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight",
                 "blocks.0.ls1.gamma", "blocks.0.mlp.fc2.bias", "norm.weight"):
        assert name in keys
    sam = SamImageEncoder(img_size=64, dim=32, depth=2, heads=2, window=2, global_blocks=(1,), out_chans=16)
    full = {f"image_encoder.{k}": v for k, v in sam.state_dict().items()}
    full["prompt_encoder.point_embeddings.0.weight"] = torch.zeros(1, 16)  # other SAM parts are skipped
    torch.save(full, tmp_path / "sam.pth")
    load_weights(SamImageEncoder(img_size=64, dim=32, depth=2, heads=2, window=2, global_blocks=(1,), out_chans=16),
                 "sam", tmp_path / "sam.pth")
    for name in ("pos_embed", "blocks.0.attn.rel_pos_h", "blocks.1.mlp.lin1.weight", "neck.0.weight", "neck.3.bias"):
        assert f"image_encoder.{name}" in full
    assert np.isfinite(sam(torch.randn(1, 3, 64, 64)).detach().numpy()).all()


def test_dinov2_vitb14_matches_the_official_shapes():
    """ViT-B/14 (catalogue entry dinov2-vitb14): 768-d, 12 blocks of 12 heads, the official key names and sizes."""
    from models.pwtrain.backbones import build_backbone

    backbone, channels = build_backbone("dinov2", "vitb14")
    state = backbone.state_dict()
    assert channels == 768
    assert state["blocks.11.attn.qkv.weight"].shape == (2304, 768)
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 768)
    assert sum(p.numel() for p in backbone.parameters()) == 86_580_480
