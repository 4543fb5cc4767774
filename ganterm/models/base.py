"""What every model file shares: the (G, D) pair type, the image-shape check, a parameter count.

Every G maps z (B, z_dim) to data in [-1, 1] of shape (B, *shape); every D maps data to raw logits of
shape (B,): no sigmoid inside D, so each loss decides what the output means.
"""

from __future__ import annotations

import torch
from torch import nn

from ganterm.errors import UsageError

Pair = tuple[nn.Module, nn.Module]


class BodyHeadCritic(nn.Module):
    """A D whose `self.net` is a Sequential ending in its logit layer. The body and the logit layer apart:
    a projection D (cGAN) or a Q head (InfoGAN) reads the body's features."""

    net: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(x.shape[0])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[:-1](x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.net[-1](f).view(f.shape[0])


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def image_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise UsageError(
            f"model {name!r} makes images, not points of shape {shape}; for 2-D data use --model toy"
        )
    c, h, w = shape
    if c not in (1, 3):
        raise UsageError(
            f"model {name!r} makes 1- or 3-channel images, got {c} channels; use --channels 1 or 3"
        )
    if h != w:
        raise UsageError(f"model {name!r} makes square images, got {h}x{w}; resize the data to a square size")
    return c, h, w
