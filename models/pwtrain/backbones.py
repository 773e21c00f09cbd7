"""Exporters for strong public backbones that users run on their own machines (no download happens here).

    /usr/bin/python3 -m models.pwtrain.backbones dinov2 --weights dinov2_vits14_pretrain.pth --out models/builtin/dinov2-vits14
    /usr/bin/python3 -m models.pwtrain.backbones dinov2 --variant vitb14 --weights dinov2_vitb14_pretrain.pth --out models/builtin/dinov2-vitb14
    /usr/bin/python3 -m models.pwtrain.backbones sam --weights sam_vit_b_01ec64.pth --out models/builtin/sam-vit-b

The architectures are written in plain PyTorch with the official state-dict key names, so the official
checkpoints load with ``strict=True`` (DINOv2: facebookresearch/dinov2 ``dinov2_vits14`` and ``dinov2_vitb14``; SAM: the
``image_encoder.*`` part of facebookresearch/segment-anything ``sam_vit_b``). Without --weights the model is
randomly initialised, which is only useful for testing the export path.

Each is wrapped to the studio contract: image float32 1x3xHxW (ImageNet mean/std) -> embedding float32
1xDx(H/4)x(W/4): patch features bilinearly upsampled to stride 4 and L2-normalised per cell; --dim N applies a
fixed, seeded random orthogonal projection to N dimensions first (smaller stored maps, distances roughly kept).
DINOv2 takes any H, W that are multiples of 28 (patch 14, and H/4 must be whole). SAM's encoder has a fixed
1024x1024 input with absolute and relative position tables, so its manifest sets longSide = multipleOf =
img_size: the studio then pads every image to exactly 1024x1024, which is SAM's own preprocessing.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import set_threads
from .onnx_utils import IMAGENET_MEAN, IMAGENET_STD, check_parity, export_onnx, write_manifest


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, names=("fc1", "fc2")):
        super().__init__()
        setattr(self, names[0], nn.Linear(dim, hidden))
        setattr(self, names[1], nn.Linear(hidden, dim))
        self.names = names

    def forward(self, x):
        return getattr(self, self.names[1])(F.gelu(getattr(self, self.names[0])(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x):
        return x * self.gamma


class DinoAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-2, -1) * (dim // self.heads) ** -0.5, dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(batch, tokens, dim))


class DinoBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.mlp = DinoAttention(dim, heads), Mlp(dim, dim * 4)
        self.ls1, self.ls2 = LayerScale(dim), LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2(nn.Module):
    """DINOv2 ViT (default ViT-S/14, 518px pretraining grid 37x37); returns Bx dim x H/14 x W/14 patch features."""

    def __init__(self, dim=384, depth=12, heads=6, patch=14, grid=37, registers=0):
        super().__init__()
        self.patch, self.grid = patch, grid
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + grid * grid, dim) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # unused at inference; kept for strict loading
        self.register_tokens = nn.Parameter(torch.zeros(1, registers, dim)) if registers else None
        self.blocks = nn.ModuleList([DinoBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, image):
        patches = self.patch_embed.proj(image)
        batch, dim, height, width = patches.shape
        grid_pos = self.pos_embed[:, 1:].reshape(1, self.grid, self.grid, dim).permute(0, 3, 1, 2)
        grid_pos = F.interpolate(grid_pos, size=(height, width), mode="bicubic", align_corners=False)
        tokens = patches.flatten(2).transpose(1, 2) + grid_pos.flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(batch, -1, -1) + self.pos_embed[:, :1]
        parts = [cls] + ([self.register_tokens.expand(batch, -1, -1)] if self.register_tokens is not None else [])
        x = torch.cat(parts + [tokens], 1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)[:, len(parts):]
        return x.transpose(1, 2).reshape(batch, dim, height, width)


class LayerNorm2d(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels)), eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        variance = (x - mean).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * (x - mean) / torch.sqrt(variance + self.eps) + self.bias[:, None, None]


def relative_positions(q_size: int, k_size: int, table: torch.Tensor) -> torch.Tensor:
    """SAM's get_rel_pos for the fixed sizes used here (table length 2 * size - 1, no resizing)."""
    q = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    return table[(q - k + (k_size - 1) * max(q_size / k_size, 1.0)).long()]


class SamAttention(nn.Module):
    def __init__(self, dim: int, heads: int, size: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * size - 1, dim // heads))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * size - 1, dim // heads))

    def forward(self, x):
        batch, height, width, dim = x.shape
        qkv = self.qkv(x).reshape(batch, height * width, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, batch * self.heads, height * width, -1).unbind(0)
        attention = (q * self.scale) @ k.transpose(-2, -1)
        rq = q.reshape(batch * self.heads, height, width, -1)
        rel_h = torch.einsum("bhwc,hkc->bhwk", rq, relative_positions(height, height, self.rel_pos_h))
        rel_w = torch.einsum("bhwc,wkc->bhwk", rq, relative_positions(width, width, self.rel_pos_w))
        attention = (attention.view(-1, height, width, height, width) + rel_h[:, :, :, :, None]
                     + rel_w[:, :, :, None, :]).view(-1, height * width, height * width)
        out = (attention.softmax(dim=-1) @ v).view(batch, self.heads, height, width, -1)
        return self.proj(out.permute(0, 2, 3, 1, 4).reshape(batch, height, width, -1))


class SamBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, grid: int):
        super().__init__()
        self.window = window
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = SamAttention(dim, heads, window if window > 0 else grid)
        self.mlp = Mlp(dim, dim * 4, names=("lin1", "lin2"))

    def forward(self, x):
        shortcut, x = x, self.norm1(x)
        if self.window > 0:
            batch, height, width, dim = x.shape
            pad_h, pad_w = (-height) % self.window, (-width) % self.window
            x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
            rows, cols = (height + pad_h) // self.window, (width + pad_w) // self.window
            x = x.view(batch, rows, self.window, cols, self.window, dim).permute(0, 1, 3, 2, 4, 5)
            x = self.attn(x.reshape(-1, self.window, self.window, dim))
            x = x.view(batch, rows, cols, self.window, self.window, dim).permute(0, 1, 3, 2, 4, 5)
            x = x.reshape(batch, rows * self.window, cols * self.window, dim)[:, :height, :width]
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class SamImageEncoder(nn.Module):
    """SAM ViT image encoder (default ViT-B: 1024px, patch 16, windows of 14, 4 global blocks, 256-d neck);
    returns Bx256x(img/16)x(img/16)."""

    def __init__(self, img_size=1024, patch=16, dim=768, depth=12, heads=12, window=14,
                 global_blocks=(2, 5, 8, 11), out_chans=256):
        super().__init__()
        grid = img_size // patch
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, dim))
        self.blocks = nn.ModuleList([SamBlock(dim, heads, 0 if i in global_blocks else window, grid)
                                     for i in range(depth)])
        self.neck = nn.Sequential(nn.Conv2d(dim, out_chans, 1, bias=False), LayerNorm2d(out_chans),
                                  nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False), LayerNorm2d(out_chans))

    def forward(self, image):
        x = self.patch_embed.proj(image).permute(0, 2, 3, 1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.neck(x.permute(0, 3, 1, 2))


class StrideFourEmbedding(nn.Module):
    """Export wrapper: backbone features -> optional fixed projection -> bilinear to H/4 x W/4 -> unit L2 norm."""

    def __init__(self, backbone: nn.Module, channels: int, dim: int = 0, seed: int = 0):
        super().__init__()
        self.backbone = backbone.eval()
        projection = None
        if dim:
            generator = torch.Generator().manual_seed(seed)
            projection = torch.linalg.qr(torch.randn(channels, dim, generator=generator))[0].t().contiguous()
            projection = projection.reshape(dim, channels, 1, 1)
        self.register_buffer("projection", projection if projection is not None else torch.zeros(0))

    def forward(self, image):
        features = self.backbone(image)
        if self.projection.numel():
            features = F.conv2d(features, self.projection)
        size = (image.shape[2] // 4, image.shape[3] // 4)
        return F.normalize(F.interpolate(features, size=size, mode="bilinear", align_corners=False), dim=1)


VARIANTS = {
    "dinov2": {"vits14": dict(dim=384, depth=12, heads=6), "vitb14": dict(dim=768, depth=12, heads=12),
               "tiny": dict(dim=32, depth=2, heads=2, grid=4)},
    "sam": {"vit_b": dict(), "tiny": dict(img_size=64, dim=32, depth=2, heads=2, window=2, global_blocks=(1,),
                                          out_chans=32)},
}


def build_backbone(family: str, variant: str) -> tuple[nn.Module, int]:
    """(backbone, feature channels)."""
    options = VARIANTS[family][variant]
    if family == "dinov2":
        return DinoV2(**options), options["dim"]
    return SamImageEncoder(**options), options.get("out_chans", 256)


def load_weights(backbone: nn.Module, family: str, path: Path) -> None:
    state = torch.load(path, map_location="cpu")
    state = state.get("model", state) if isinstance(state, dict) else state
    if family == "sam":  # a full SAM checkpoint: keep only the image encoder
        prefix = "image_encoder."
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} or state
    backbone.load_state_dict(state, strict=True)


def export_backbone(family: str, variant: str, out: Path, weights: Path | None = None, dim: int = 0,
                    long_side: int | None = None, check_shapes=None) -> dict:
    backbone, channels = build_backbone(family, variant)
    if weights is not None:
        load_weights(backbone, family, weights)
    wrapper = StrideFourEmbedding(backbone, channels, dim).eval()
    if family == "dinov2":
        multiple, long_side = 28, long_side or 448
        sample, shapes = torch.randn(1, 3, 56, 84), check_shapes or [(56, 84), (84, 56)]
    else:
        size = VARIANTS["sam"][variant].get("img_size", 1024)
        multiple, long_side = size, size
        sample, shapes = torch.randn(1, 3, size, size), check_shapes or [(size, size)]
    onnx_path = out / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(wrapper, onnx_path, sample)
    worst = check_parity(wrapper, onnx_path, shapes)
    trained = "official weights" if weights is not None else "RANDOM weights (export test only)"
    names = {"dinov2": "DINOv2", "sam": "SAM image encoder"}
    manifest = write_manifest(
        out, id=f"{family}-{variant.replace('_', '-')}".lower(), name=f"{names[family]} {variant}",
        version="1.0.0", kind="learned", license="Apache-2.0",
        description=f"{names[family]} {variant} patch features ({trained}), bilinear to stride 4"
                    f"{f', projected to {dim}-d' if dim else ''}, L2-normalised.",
        long_side=long_side, multiple_of=multiple, mean=IMAGENET_MEAN, std=IMAGENET_STD, stride=4,
        dim=dim or channels)
    return {"manifest": manifest, "parity_max_abs_diff": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=sorted(VARIANTS))
    parser.add_argument("--variant", help="dinov2: vits14 | vitb14 | tiny; sam: vit_b | tiny")
    parser.add_argument("--weights", type=Path, help="official checkpoint file (no download happens)")
    parser.add_argument("--dim", type=int, default=0, help="fixed random projection to this many dims (0 = keep)")
    parser.add_argument("--long-side", type=int, help="dinov2 only: manifest longSide (multiple of 28)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    set_threads()
    variant = args.variant or {"dinov2": "vits14", "sam": "vit_b"}[args.family]
    result = export_backbone(args.family, variant, args.out, args.weights, args.dim, args.long_side)
    print(f"wrote {args.out}/model.onnx, parity max abs diff {result['parity_max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
