"""DCGAN (Radford et al.): transposed-conv G and strided-conv D at 28, 32 or 64 pixels."""

from __future__ import annotations

import torch
from torch import nn

from ganterm.errors import UsageError, choices_message
from ganterm.models.base import BodyHeadCritic, Pair, image_shape

NORMS = ("batch", "layer", "none")

DCGAN_TOPOLOGY = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _d_norm(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        # GroupNorm with one group normalises each sample over (C, H, W): a per-sample layer norm,
        # so the gradient penalty's per-sample gradients stay independent of the rest of the batch.
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """DCGAN paper init: conv weights N(0, 0.02); norm scales N(1, 0.02), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], ngf: int = 64) -> None:
        super().__init__()
        self.z_dim, self.shape = z_dim, shape
        start, n_up = DCGAN_TOPOLOGY[shape[1]]
        ch = ngf * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, start, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(BodyHeadCritic):
    def __init__(self, shape: tuple[int, int, int], ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        self.shape, self.norm = shape, norm
        end, n_down = DCGAN_TOPOLOGY[shape[1]]
        # A conv followed by a norm with a shift needs no bias of its own.
        bias = norm == "none"
        layers: list[nn.Module] = [nn.Conv2d(shape[0], ndf, 4, 2, 1, bias=bias), nn.LeakyReLU(0.2)]
        ch = ndf
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=bias), _d_norm(norm, ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, end, 1, 0))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)


def build_dcgan(
    shape: tuple[int, ...],
    z_dim: int,
    gp_safe: bool = False,
    ngf: int = 64,
    ndf: int = 64,
    norm: str | None = None,
) -> Pair:
    c, h, _ = image_shape("dcgan", shape)
    if h not in DCGAN_TOPOLOGY:
        raise UsageError(
            f"model 'dcgan' makes 28, 32 or 64 pixel images, got {h}; use --image-size 28, 32 or 64"
        )
    if norm is None:
        norm = "layer" if gp_safe else "batch"
    if norm not in NORMS:
        raise UsageError(choices_message("discriminator norm", norm, NORMS))
    if gp_safe and norm == "batch":
        # Batch norm mixes samples, so the per-sample gradient the penalty constrains is not D's own.
        raise UsageError("batch norm in the critic breaks the gradient penalty; use norm 'layer' or 'none'")
    return DCGANGenerator(z_dim, (c, h, h), ngf), DCGANDiscriminator((c, h, h), ndf, norm)
