"""Small fully convolutional embedding networks.

    /usr/bin/python3 -m models.pwtrain.nets   # prints parameter counts and a CPU forward time

``EmbedNet``: ResNet-style encoder (strides 2..32, global context at stride 32) and an FPN decoder back to
stride 4; the head sees the decoder features, optionally the stride-4 average colour and the normalised (x, y)
cell position, and ends in D channels that are L2-normalised per pixel.
Input: float32 Bx3xHxW, H and W multiples of 32. Output: float32 BxDx(H/4)x(W/4), unit L2 norm per cell.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


def conv_bn(inputs: int, outputs: int, kernel: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(outputs)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (ResNet basic block)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels, relu=False))

    def forward(self, x):
        return F.relu(x + self.body(x))


def stage(inputs: int, outputs: int, blocks: int) -> nn.Sequential:
    """Stride-2 3x3 convolution, then residual blocks. Dense 3x3 convolutions rather than depthwise ones: on
    CPU, PyTorch's depthwise backward pass is several times slower, and CPU training time is the budget."""
    return nn.Sequential(conv_bn(inputs, outputs, 3, 2), *[ResidualBlock(outputs) for _ in range(blocks)])


def cell_coordinates(reference: torch.Tensor) -> torch.Tensor:
    """Bx2xhxw (x, y) cell centres divided by the longer grid side, built from shapes so H and W stay dynamic."""
    ones = torch.ones_like(reference[:, :1])
    xs, ys = torch.cumsum(ones, 3) - 0.5, torch.cumsum(ones, 2) - 0.5
    extent = torch.maximum(xs.amax(dim=(2, 3), keepdim=True), ys.amax(dim=(2, 3), keepdim=True)) + 0.5
    return torch.cat([xs, ys], 1) / extent


class EmbedNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        width = lambda channels: max(8, int(round(channels * config.width / 8)) * 8)  # noqa: E731
        c2, c4, c8, c16, c32, dec = (width(c) for c in (16, 32, 48, 96, 128, config.decoder_channels))
        self.config = config
        self.stem = conv_bn(3, c2, 3, 2)
        self.stage4, self.stage8 = stage(c2, c4, 1), stage(c4, c8, 1)
        self.stage16, self.stage32 = stage(c8, c16, 2), stage(c16, c32, 2)
        self.context = nn.Sequential(nn.Conv2d(c32, c32, 1), nn.ReLU(inplace=True))
        self.lateral = nn.ModuleList([nn.Conv2d(c, dec, 1) for c in (c4, c8, c16, c32)])
        self.refine = nn.ModuleList([conv_bn(dec, dec) for _ in range(3)])
        extra = (3 if config.colour_skip else 0) + (2 if config.coords else 0)
        self.head = nn.Sequential(conv_bn(dec + extra, dec, 3), nn.Conv2d(dec, config.dim, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        f4 = self.stage4(self.stem(image))
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        f32 = self.stage32(f16)
        f32 = f32 + self.context(f32.mean(dim=(2, 3), keepdim=True))  # image-level context, any input size
        features = self.lateral[3](f32)
        for level, skip in zip((2, 1, 0), (f16, f8, f4)):
            upsampled = F.interpolate(features, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            features = self.refine[level](upsampled + self.lateral[level](skip))
        extras = [features]
        if self.config.colour_skip:
            extras.append(F.avg_pool2d(image, 4))
        if self.config.coords:
            extras.append(cell_coordinates(features))
        return F.normalize(self.head(torch.cat(extras, 1)), dim=1)


def build_model(config: ModelConfig) -> EmbedNet:
    return EmbedNet(config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    import time

    from . import set_threads

    set_threads()
    for width in (0.75, 1.0, 1.25):
        model = build_model(ModelConfig(width=width)).eval()
        with torch.no_grad():
            image = torch.randn(1, 3, 768, 1024)
            model(image)
            start = time.perf_counter()
            model(image)
        print(f"width {width}: {parameter_count(model) / 1e6:.3f}M params, "
              f"{(time.perf_counter() - start) * 1000:.0f} ms torch forward at 1024x768")
