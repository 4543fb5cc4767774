"""The VAE, the GAN's foil: the pytorch/examples MLP (784 -> 400 -> 20) and a conv variant at the dcgan
sizes. Both decode to logits of a Bernoulli per pixel (BCE reconstruction); samples are sigmoid(logits)
mapped to the data's [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from ganterm.errors import UsageError
from ganterm.models.base import image_shape
from ganterm.models.dcgan import DCGAN_TOPOLOGY, DCGANDiscriminator, DCGANGenerator


class MLPVAE(nn.Module):
    def __init__(self, shape: tuple[int, int, int], z_dim: int = 20, hidden: int = 400) -> None:
        super().__init__()
        self.shape, self.z_dim = shape, z_dim
        n = shape[0] * shape[1] * shape[2]
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(n, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, z_dim), nn.Linear(hidden, z_dim)
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, n))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z).view(z.shape[0], *self.shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Samples in [-1, 1] from latents: what a generator returns."""
        return torch.sigmoid(self.decode(z)) * 2 - 1


class ConvVAE(nn.Module):
    """Encoder: the dcgan D's body; decoder: the dcgan G with its tanh dropped (it returns logits)."""

    def __init__(self, shape: tuple[int, int, int], z_dim: int = 20, ngf: int = 32, ndf: int = 32) -> None:
        super().__init__()
        self.shape, self.z_dim = shape, z_dim
        body = DCGANDiscriminator(shape, ndf, "batch")
        self.enc = nn.Sequential(*list(body.net)[:-1], nn.Flatten())
        with torch.no_grad():
            was = self.enc.training
            n_feat = self.enc.eval()(torch.zeros(2, *shape)).shape[1]
            self.enc.train(was)
        self.mu, self.logvar = nn.Linear(n_feat, z_dim), nn.Linear(n_feat, z_dim)
        gen = DCGANGenerator(z_dim, shape, ngf)
        self.dec = nn.Sequential(*list(gen.net)[:-1])  # no tanh: logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z.view(z.shape[0], self.z_dim, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode(z)) * 2 - 1


def build_vae(name: str, shape: tuple[int, ...], z_dim: int, **options: object) -> nn.Module:
    c, h, _ = image_shape(name, shape)
    if name == "mlp":
        unknown = sorted(set(options) - {"hidden"})
        if unknown:
            raise UsageError(f"the mlp VAE has no option {unknown[0]!r}; it takes: hidden")
        return MLPVAE((c, h, h), z_dim, int(options.get("hidden", 400)))  # type: ignore[arg-type]
    if name == "dcgan":
        if h not in DCGAN_TOPOLOGY:
            raise UsageError(f"the dcgan VAE makes 28, 32 or 64 pixel images, got {h}; use --image-size 28")
        unknown = sorted(set(options) - {"ngf", "ndf"})
        if unknown:
            raise UsageError(f"the dcgan VAE has no option {unknown[0]!r}; it takes: ngf, ndf")
        return ConvVAE((c, h, h), z_dim, int(options.get("ngf", 32)), int(options.get("ndf", 32)))  # type: ignore[arg-type]
    raise UsageError(f"--algo vae takes --model mlp or dcgan, not {name!r}")
