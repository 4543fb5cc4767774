"""The class-conditional GAN: G and a projection discriminator (Miyato & Koyama) take the label; fakes are
drawn with the real batch's labels. The GAN step is GAN's; three hooks change how D scores."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import nn

from ganterm.algos.gan import GAN
from ganterm.algos.prior import Latent, LatentPrior
from ganterm.config import TrainConfig
from ganterm.errors import UsageError
from ganterm.models.heads import ConditionalGenerator, ProjectionDiscriminator


class CGAN(GAN):
    """Class-conditional: G(z, y) takes the label with the noise; D is a projection discriminator.

    Fakes are drawn with the real batch's labels, so D compares like with like and the gradient
    penalty interpolates within one class. Projection rather than ACGAN: ACGAN's auxiliary classifier
    rewards G for easy-to-classify samples (it is known to drop diversity within a class), while the
    projection term only asks that (x, y) look like a real pair.
    """

    name: ClassVar[str] = "cgan"
    views: ClassVar[tuple[str, ...]] = ("class",)
    needs_labels: ClassVar[bool] = True

    def make_prior(self, cfg: TrainConfig, n_classes: int) -> LatentPrior:
        if n_classes < 2:
            raise UsageError(
                "--algo cgan needs class labels: use mnist, fashion-mnist, cifar10, shapes, or a folder "
                "with one sub-folder per class"
            )
        return LatentPrior(int(cfg.z_dim), n_classes=n_classes)

    def build(self) -> dict[str, nn.Module]:
        n = self.prior.n_classes
        G, D = self.build_pair(self.prior.z_dim + n)
        return {"G": ConditionalGenerator(G, n), "D": ProjectionDiscriminator(D, n, self.shape)}

    def condition(self, latent: Latent, y: torch.Tensor | None) -> Latent:
        return replace(latent, y=y)

    def _real_logits(self, state: Any, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return state["D"](x, y)

    def _fake_terms(
        self, state: Any, x: torch.Tensor, latent: Latent, for_g: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        return state["D"](x, latent.y), None, {}

    def _d_fn(self, state: Any, y: torch.Tensor | None) -> Any:
        D = state["D"]
        return lambda x: D(x, y)

    def generate(self, nets: dict[str, nn.Module], latent: Latent) -> torch.Tensor:
        return nets["G"](latent.z, latent.y)
