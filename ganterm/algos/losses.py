"""GAN losses as small stateless objects on raw logits, so a live run can swap them between steps.

Every objective is written with softplus / relu on logits rather than log(sigmoid(...)), so logits of
±100 give finite losses and gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganterm.errors import UsageError, choices_message

DLoss = Callable[[Tensor, Tensor], Tensor]
GLoss = Callable[[Tensor], Tensor]


@dataclass
class GANLoss:
    """One objective pair plus what the trainer needs to run it.

    n_critic: recommended D steps per G step. clip: the trainer clamps D's parameters to ±clip after
    each D step (WGAN). gp_weight: weight of `gradient_penalty` in D's loss (WGAN-GP). probabilistic:
    sigmoid(logit) is D's probability that the input is real.
    """

    name: str
    d_fn: DLoss = field(repr=False)
    g_fn: GLoss = field(repr=False)
    n_critic: int = 1
    clip: float | None = None
    gp_weight: float = 0.0
    probabilistic: bool = False

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """D's (or the critic's) scalar loss, to minimise."""
        return self.d_fn(real_logits, fake_logits)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        """G's scalar loss, to minimise."""
        return self.g_fn(fake_logits)

    def score(self, logits: Tensor) -> Tensor:
        """What to show as D(x) / D(G(z)): a mean probability, or the mean raw critic value."""
        return torch.sigmoid(logits).mean() if self.probabilistic else logits.mean()


# Binary cross-entropy on logits: -log sigmoid(x) = softplus(-x), -log(1 - sigmoid(x)) = softplus(x).
def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _minimax_g(fake: Tensor) -> Tensor:
    # G minimises log(1 - D(G(z))) = -softplus(fake): saturates (tiny gradient) when D rejects fakes.
    return -F.softplus(fake).mean()


def _ns_g(fake: Tensor) -> Tensor:
    # G minimises -log D(G(z)): strong gradient exactly when D rejects fakes.
    return F.softplus(-fake).mean()


def _lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def _lsgan_g(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


def _wasserstein_d(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _wasserstein_g(fake: Tensor) -> Tensor:
    return -fake.mean()


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", _bce_d, _minimax_g, probabilistic=True),
    "ns": GANLoss("ns", _bce_d, _ns_g, probabilistic=True),
    # LSGAN regresses the raw output onto 1/0: it reads like a probability but sigmoid of it is not one.
    "lsgan": GANLoss("lsgan", _lsgan_d, _lsgan_g),
    "wgan": GANLoss("wgan", _wasserstein_d, _wasserstein_g, n_critic=5, clip=0.01),
    "wgan-gp": GANLoss("wgan-gp", _wasserstein_d, _wasserstein_g, n_critic=5, gp_weight=10.0),
    "hinge": GANLoss("hinge", _hinge_d, _wasserstein_g),
}


def get_loss(name: str) -> GANLoss:
    """A fresh copy of a registered loss (callers may tweak its fields without touching the registry)."""
    if name not in LOSSES:
        raise UsageError(choices_message("loss", name, tuple(LOSSES)))
    return dataclasses.replace(LOSSES[name])


def gradient_penalty(
    D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP: mean((||∇D(x̂)|| - 1)²) at random points x̂ between real and fake samples.

    Not weighted: the trainer multiplies by `GANLoss.gp_weight`. The norm is sqrt(sum g² + 1e-12): a
    bare sqrt has an infinite slope at 0 and turns an exactly-zero gradient (a constant or dead-ReLU
    critic) into NaN grads, and torch.norm has not guarded that point in every release.
    """
    n = real.shape[0]
    eps_device = generator.device if generator is not None else real.device
    eps = torch.rand(n, generator=generator, device=eps_device, dtype=real.dtype).to(real.device)
    eps = eps.view(n, *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = D(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
    return ((norm - 1) ** 2).mean()


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): mean ||∇D(x)||² on real data, unweighted (the trainer applies γ/2).

    It pushes D to be flat on the data, which removes the rotation around the equilibrium that keeps a
    plain GAN from settling; samples then sharpen onto the modes instead of orbiting them.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
