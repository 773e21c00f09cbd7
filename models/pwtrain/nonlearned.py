"""The non-learned built-in model ``pixelwise-colorpos``: colour + position + multi-scale filter responses.

    /usr/bin/python3 -m models.pwtrain.nonlearned --out models/builtin/pixelwise-colorpos

A fixed feature graph (no training, no data): the image is converted to an opponent colour space (a cheap
Lab-like space: lightness plus red-green and yellow-blue axes), average-pooled to stride 4, blurred at two
scales, combined with gradient energy of the lightness at two scales and the cell position, weighted, a
constant channel is appended (so L2 normalisation keeps relative magnitudes) and each cell is L2-normalised.
Output: float32 1x16x(H/4)x(W/4). It is the baseline every learned model must beat.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from . import set_threads
from .onnx_utils import check_parity, export_onnx, write_manifest

# Channel weights: why these values. Colour dominates (objects are mostly colour-coherent); position is weaker so
# that a colour-coherent object is not split by distance alone; texture terms are small tie-breakers.
COLOUR_WEIGHT = 2.0
BLUR_WEIGHTS = (1.0, 0.7)
TEXTURE_WEIGHT = 3.0
POSITION_WEIGHT = 0.8
CONSTANT = 1.0
DIM = 16


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


class ColorPositionFeatures(torch.nn.Module):
    """1x3xHxW RGB in [0, 1] (mean 0, std 1 in the manifest) -> 1x16x(H/4)x(W/4), unit L2 norm per cell."""

    def __init__(self) -> None:
        super().__init__()
        opponent = torch.tensor([
            [1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)],  # lightness
            [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],  # red - green
            [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)],  # yellow - blue
        ])
        self.register_buffer("opponent", opponent.view(3, 3, 1, 1))
        for index, sigma in enumerate((1.0, 3.0)):
            kernel = gaussian_kernel(sigma)
            self.register_buffer(f"blur{index}", kernel)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
        self.register_buffer("sobel", torch.stack([sobel, sobel.t()]).unsqueeze(1))

    @staticmethod
    def separable_blur(x: torch.Tensor, kernel: torch.Tensor, channels: int) -> torch.Tensor:
        """Depthwise Gaussian blur with edge replication; ``channels`` is static so the export sees fixed kernels."""
        radius = kernel.numel() // 2
        x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
        x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
        return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        colour = F.avg_pool2d(F.conv2d(image, self.opponent), 4)
        fine, coarse = self.separable_blur(colour, self.blur0, 3), self.separable_blur(colour, self.blur1, 3)
        lightness = colour[:, :1]
        gradients = F.conv2d(F.pad(lightness, (1, 1, 1, 1), mode="replicate"), self.sobel).abs()
        texture = torch.cat([self.separable_blur(gradients, self.blur0, 2), self.separable_blur(gradients, self.blur1, 2)], 1)
        ones = torch.ones_like(lightness)
        xs, ys = torch.cumsum(ones, 3) - 0.5, torch.cumsum(ones, 2) - 0.5
        extent = torch.maximum(xs.amax(dim=(2, 3), keepdim=True), ys.amax(dim=(2, 3), keepdim=True)) + 0.5
        features = torch.cat([
            COLOUR_WEIGHT * colour, BLUR_WEIGHTS[0] * fine, BLUR_WEIGHTS[1] * coarse, TEXTURE_WEIGHT * texture,
            POSITION_WEIGHT * xs / extent, POSITION_WEIGHT * ys / extent, CONSTANT * ones,
        ], 1)
        return F.normalize(features, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("models/builtin/pixelwise-colorpos"))
    parser.add_argument("--long-side", type=int, default=1024, help="studio resizes the long side to this")
    args = parser.parse_args()
    set_threads()
    module = ColorPositionFeatures().eval()
    onnx_path = args.out / "model.onnx"
    export_onnx(module, onnx_path, torch.rand(1, 3, 64, 96))
    worst = check_parity(module, onnx_path, [(64, 96), (120, 80), (256, 192)])
    manifest = write_manifest(
        args.out, id="pixelwise-colorpos", name="Colour + position (non-learned)", version="1.0.0",
        kind="non-learned", license="MIT",
        description="Fixed feature graph: opponent colour at stride 4, Gaussian-blurred colour at two scales, "
                    "lightness gradient energy at two scales and cell position, L2-normalised (16-d). No training.",
        long_side=args.long_side, multiple_of=4, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), stride=4, dim=DIM)
    print(f"wrote {onnx_path} (parity max abs diff {worst:.2e}) sha256 {manifest['sha256'][:12]}")


if __name__ == "__main__":
    main()
