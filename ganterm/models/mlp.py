"""The seed's pair: an MLP generator (z -> 128 -> 128 -> 784, leaky ReLU, sigmoid) and a two-layer 5x5
stride-2 conv discriminator (64, 128 filters)."""

from __future__ import annotations

import torch
from torch import nn

from ganterm.errors import UsageError
from ganterm.models.base import BodyHeadCritic, Pair, image_shape


class MLPGenerator(nn.Module):
    """The classic fully connected G; a sigmoid mapped to [-1, 1] so it matches the data range."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], hidden: int = 128) -> None:
        super().__init__()
        self.z_dim, self.shape = z_dim, shape
        out = shape[0] * shape[1] * shape[2]
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, out),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (2 * self.net(z) - 1).view(z.shape[0], *self.shape)


class ConvDiscriminator(BodyHeadCritic):
    """Two strided 5x5 convs (28 -> 14 -> 7) and a linear logit: the mlp pair's D."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape
        self.net = nn.Sequential(
            nn.Conv2d(shape[0], 64, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
        )


def build_mlp(shape: tuple[int, ...], z_dim: int, gp_safe: bool = False, hidden: int = 128) -> Pair:
    c, h, _ = image_shape("mlp", shape)
    if h != 28:
        raise UsageError(f"model 'mlp' makes 28x28 images, got {h}x{h}; use --model dcgan (28, 32 or 64)")
    # The conv D has no batch norm, so it is GP-safe as it is.
    return MLPGenerator(z_dim, (c, 28, 28), hidden), ConvDiscriminator((c, 28, 28))
