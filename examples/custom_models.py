"""Your own networks, trained by `ganterm train`: pass this file and the function that builds them.

    ganterm train shapes --model examples/custom_models.py:build --steps 500
    ganterm sample runs/<that run> --out samples.png --model examples/custom_models.py:build
                                        # naming the file is what lets ganterm run it to rebuild G
    ganterm train shapes --algo cgan --model examples/custom_models.py:build   # cGAN / InfoGAN too

`build(shape, z_dim)` gets the data's per-sample shape (C, H, W) and the width of G's input (the noise,
plus the one-hot label under --algo cgan or the codes under --algo infogan) and returns (G, D):
G maps (N, z_dim) to images (N, C, H, W) in [-1, 1]; D maps images to one raw logit per sample (no
sigmoid: the loss decides what the logit means). D's `features(x)` and `head(f)` are optional; with
them --algo cgan (a projection D) and --algo infogan (a Q head on D's body) work on it.
ganterm checks both networks against the data before the first step and names any shape that is off.
"""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """A small MLP: z -> 256 -> 256 -> C*H*W, tanh to [-1, 1]."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], hidden: int = 256) -> None:
        super().__init__()
        self.shape = shape
        c, h, w = shape
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, c * h * w),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    """Two strided convs and a linear logit; the body and the head apart for cGAN and InfoGAN."""

    def __init__(self, shape: tuple[int, int, int], width: int = 32) -> None:
        super().__init__()
        c, h, w = shape
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.logit = nn.Linear(2 * width * (h // 4) * (w // 4), 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.logit(f).view(f.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build(shape: tuple[int, ...], z_dim: int) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ValueError(f"these networks make images; the data is points of shape {shape}")
    return Generator(z_dim, shape), Discriminator(shape)  # type: ignore[arg-type]
