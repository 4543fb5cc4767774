"""InfoGAN (Chen et al. 2016): codes c beside the noise, and a Q head on D's body that recovers them.

The mutual-information term L_I = λ_cat·CE(Q_cat, c_cat) + λ_con·½‖Q_con − c_con‖² (a unit-variance
Gaussian for the continuous codes) is added to D's loss on the generated batch, so Q's gradient
reaches Q and the body it shares with D (the known bug of public ports is a Q on detached features
that never trains that body), and to G's loss, so G makes its codes recoverable. The chart shows
ln K − CE, the lower bound on I(c_cat; G(z, c)), against its ceiling H(c_cat) = ln K.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ganterm.algos.gan import GAN
from ganterm.algos.prior import Latent, LatentPrior
from ganterm.channel.layout import (
    GAN_GRAD,
    GAN_HEADLINE,
    GAN_LOSS,
    GAN_PROB,
    ChartGroup,
    Headline,
    Layout,
    SeriesSpec,
)
from ganterm.config import TrainConfig
from ganterm.models.heads import QHead, feature_dim, require_body

N_CAT, N_CONT = 10, 2  # the paper's MNIST codes: one 10-way categorical, two continuous in U(-1, 1)
LAMBDA_CAT, LAMBDA_CONT = 1.0, 0.1


def infogan_layout(n_cat: int) -> Layout:
    mi = ChartGroup(
        "mutual information",
        (SeriesSpec("mi_cat", "I(c;G) ≥", "green"), SeriesSpec("q_cont", "Q cont err", "yellow")),
        refs=((math.log(n_cat), "H(c)"),),
    )
    return Layout((GAN_LOSS, mi, GAN_PROB, GAN_GRAD), (*GAN_HEADLINE, Headline("mi_cat", "MI", ".3f")))


class InfoGAN(GAN):
    name: ClassVar[str] = "infogan"
    layout: ClassVar[Layout] = infogan_layout(N_CAT)
    views: ClassVar[tuple[str, ...]] = ("traversal", "class")

    def make_prior(self, cfg: TrainConfig, n_classes: int) -> LatentPrior:
        opts = cfg.extra.get("codes") or {}
        return LatentPrior(
            int(cfg.z_dim), n_cat=int(opts.get("cat", N_CAT)), n_cont=int(opts.get("cont", N_CONT))
        )

    def extra_metrics(self) -> tuple[str, ...]:
        return ("mi_cat", "q_cont")

    def build(self) -> dict[str, nn.Module]:
        G, D = self.build_pair(self.prior.input_dim)
        require_body(D, "infogan")
        return {"G": G, "D": D, "Q": QHead(feature_dim(D, self.shape), self.prior.n_cat, self.prior.n_cont)}

    def d_networks(self) -> tuple[str, ...]:
        return ("D", "Q")  # D's optimizer also trains Q (and, through L_I, the shared body)

    def optimizer_groups(self) -> dict[str, tuple[tuple[str, ...], float]]:
        return {"G": (("G",), float(self.cfg.lr_g)), "D": (("D", "Q"), float(self.cfg.lr_d))}

    def info_terms(self, q: tuple[torch.Tensor, torch.Tensor], latent: Latent) -> tuple[torch.Tensor, ...]:
        """(L_I, the MI lower bound, the continuous codes' squared error)."""
        cat_logits, cont_mean = q
        ce = F.cross_entropy(cat_logits, latent.cat) if self.prior.n_cat else cat_logits.new_zeros(())
        err = (
            0.5 * (cont_mean - latent.cont.float()).pow(2).sum(1).mean()
            if self.prior.n_cont and latent.cont is not None
            else cat_logits.new_zeros(())
        )
        loss = LAMBDA_CAT * ce + LAMBDA_CONT * err
        return loss, math.log(max(self.prior.n_cat, 1)) - ce, err

    def _fake_terms(
        self, state: Any, x: torch.Tensor, latent: Latent, for_g: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        D, Q = state["D"], state["Q"]
        f = D.features(x)
        loss, mi, err = self.info_terms(Q(f), latent)
        return D.head(f), loss, {"mi_cat": mi, "q_cont": err}
