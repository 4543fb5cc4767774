"""The VAE (Kingma & Welling), the GAN's foil: one network, no discriminator, a likelihood to climb.

Loss per image = BCE reconstruction (summed over pixels, pixels read as Bernoulli in [0, 1]) + KL to
N(0, I), as pytorch/examples' VAE; the chart shows both parts and the ELBO (their negative sum).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganterm.algos.base import Algorithm, StepContext, grad_norm
from ganterm.algos.prior import Latent, LatentPrior
from ganterm.channel.layout import ChartGroup, Headline, Layout, SeriesSpec
from ganterm.config import TrainConfig
from ganterm.models.vae_nets import build_vae

VAE_LAYOUT = Layout(
    (
        ChartGroup(
            "reconstruction and KL", (SeriesSpec("recon", "recon", "cyan"), SeriesSpec("kl", "KL", "red"))
        ),
        ChartGroup("ELBO", (SeriesSpec("elbo", "ELBO", "green"),)),
        ChartGroup("grad norm", (SeriesSpec("grad", "|∇|", "magenta"),)),
    ),
    (Headline("elbo", "ELBO", ".2f"), Headline("recon", "recon", ".2f"), Headline("kl", "KL", ".2f")),
)


class VAE(Algorithm):
    name: ClassVar[str] = "vae"
    layout: ClassVar[Layout] = VAE_LAYOUT
    views: ClassVar[tuple[str, ...]] = ("recon",)
    sampler_net: ClassVar[str] = "vae"
    metrics = ("elbo", "recon", "kl", "grad")

    def __init__(self, cfg: TrainConfig, shape: tuple[int, ...], n_classes: int = 0) -> None:
        self.cfg, self.shape = cfg, tuple(shape)
        self.prior = LatentPrior(int(cfg.z_dim))

    def build(self) -> dict[str, nn.Module]:
        return {
            "vae": build_vae(
                str(self.cfg.model), self.shape, self.prior.z_dim, **(self.cfg.model_options or {})
            )
        }

    def optimizer_groups(self) -> dict[str, tuple[tuple[str, ...], float]]:
        return {"vae": (("vae",), float(self.cfg.lr_g))}

    def setup(self, state: Any) -> None:
        self.params = state.params("vae")

    def step(self, state: Any, ctx: StepContext) -> torch.Tensor:
        vae, gen = state["vae"], state.gen
        x, _ = ctx.batch(ctx.batch_size)
        with ctx.autocast_ctx():
            mu, logvar = vae.encode(x)
            eps = torch.randn(mu.shape, generator=gen, device=gen.device).to(mu.device)
            z = mu + eps * torch.exp(0.5 * logvar)
            logits = vae.decode(z)
        mu, logvar = mu.float(), logvar.float()
        target = (x.float() + 1) / 2  # [-1, 1] -> [0, 1]
        n = x.shape[0]
        recon = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="sum") / n
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        loss = recon + kl
        if ctx.inject_nan:
            loss = loss * float("nan")
        opt = state.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = grad_norm(self.params)
        opt.step()
        with torch.no_grad():
            return torch.stack([-loss.detach(), recon.detach(), kl.detach(), gn.float().to(loss.device)])

    def generate(self, nets: dict[str, nn.Module], latent: Latent) -> torch.Tensor:
        return nets["vae"](latent.z)

    def reconstruct(self, nets: dict[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image for the encoder's mean latent, in [-1, 1]."""
        mu, _ = nets["vae"].encode(x)
        return nets["vae"](mu)
