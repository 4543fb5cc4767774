"""Networks built around a registered (G, D) pair: a class-conditional G and projection D (cGAN), and
InfoGAN's Q head on D's body (InfoGAN's D is the registered D itself).

Any D that exposes `features(x)` (its body) and `head(f)` (the logit layer) can be conditioned; the
built-in mlp and dcgan Ds do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganterm.errors import UsageError


def require_body(D: nn.Module, algo: str) -> None:
    if not (callable(getattr(D, "features", None)) and callable(getattr(D, "head", None))):
        raise UsageError(
            f"--algo {algo} needs a discriminator with features(x) and head(f) (the built-in mlp and dcgan "
            f"have them); {type(D).__name__} does not"
        )


def feature_dim(D: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of D's body output for one sample (a dry run in eval mode, so batch norm is untouched)."""
    was = D.training
    D.eval()
    try:
        with torch.no_grad():
            return tuple(D.features(torch.zeros(2, *shape)).shape[1:])
    finally:
        D.train(was)


class ConditionalGenerator(nn.Module):
    """G(z, y) = body([z, onehot(y)]): the label joins the noise at the input (Mirza & Osindero)."""

    def __init__(self, body: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.body, self.n_classes = body, n_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], 1))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = head(φ(x)) + <embed(y), pool(φ(x))> (Miyato & Koyama 2018).

    pool sums a conv body's output over space. The embedding starts at zero, so a fresh cGAN's D is the
    unconditional one and the label term grows only as far as it helps.
    """

    def __init__(self, base: nn.Module, n_classes: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        require_body(base, "cgan")
        self.base = base
        self.embed = nn.Embedding(n_classes, feature_dim(base, shape)[0])
        nn.init.zeros_(self.embed.weight)

    @staticmethod
    def _pool(f: torch.Tensor) -> torch.Tensor:
        return f.sum(dim=tuple(range(2, f.dim()))) if f.dim() > 2 else f

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f = self.base.features(x)
        return self.base.head(f) + (self.embed(y).to(f.dtype) * self._pool(f)).sum(1)


class QHead(nn.Module):
    """Q(c | x) on D's body: logits of the categorical code and the means of the continuous codes
    (a unit-variance Gaussian, so their log-likelihood is a squared error)."""

    def __init__(self, in_shape: tuple[int, ...], n_cat: int, n_cont: int, hidden: int = 128) -> None:
        super().__init__()
        self.n_cat, self.n_cont = n_cat, n_cont
        n_in = 1
        for s in in_shape:
            n_in *= s
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_cat + n_cont)
        )

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(f).float()
        return out[:, : self.n_cat], out[:, self.n_cat :]
