"""What every training algorithm gives the loop: its networks, its step, its metric names and layout,
its sample views. The loop (commands, cadence, publishing, checkpoints) knows no algorithm."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ganterm.algos.prior import Latent, LatentPrior
from ganterm.channel.layout import Layout
from ganterm.errors import UsageError

Batch = tuple[torch.Tensor, "torch.Tensor | None"]


def grad_norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Total L2 norm of the gradients, as a tensor (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@contextmanager
def frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """Parameters that need no gradient inside the block (autograd then skips their weight gradients)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@dataclass(frozen=True)
class StepContext:
    """What the loop hands one step: how to draw a batch, where to compute, and the step's schedules."""

    batch: Callable[[int], Batch]  # (x, y) on the device; y is None for unlabelled data
    batch_size: int
    device: torch.device
    autocast: torch.dtype | None
    step: int
    instance_noise: float = 0.0
    inject_nan: bool = False

    def autocast_ctx(self) -> Any:
        ac = self.autocast
        return torch.autocast(self.device.type, dtype=ac or torch.bfloat16, enabled=ac is not None)


class Algorithm:
    """A family of models trained one way. Subclasses set the class attributes and the methods."""

    name: ClassVar[str]
    layout: ClassVar[Layout]
    metrics: tuple[str, ...]  # the names of the step's metric row, in order
    views: ClassVar[tuple[str, ...]] = ()  # extra sample views: "traversal", "class", "recon"
    needs_labels: ClassVar[bool] = False
    sampler_net: ClassVar[str] = "G"  # the network that generates
    prior: LatentPrior
    # Prebuilt (G, D) that build() uses instead of the registry (`ganterm.fit`: the user's own modules).
    networks: tuple[nn.Module, nn.Module] | None = None

    # -- the networks ----------------------------------------------------------------------------
    def build(self) -> dict[str, nn.Module]:
        """Fresh networks from the model registry; pure (sampling rebuilds them from a checkpoint)."""
        raise NotImplementedError

    def optimizer_groups(self) -> dict[str, tuple[tuple[str, ...], float]]:
        """optimizer name -> (the networks it updates, its learning rate)."""
        raise NotImplementedError

    def ema_networks(self) -> tuple[str, ...]:
        """Networks that keep a weight average for sampling (when the run asks for one)."""
        return (self.sampler_net,)

    def setup(self, state: Any) -> None:
        """Called once the state holds the networks and optimizers (cache parameter lists here)."""

    # -- training --------------------------------------------------------------------------------
    def step(self, state: Any, ctx: StepContext) -> torch.Tensor:
        """One training step; returns the metric row (len(self.metrics),) as a tensor (no host sync)."""
        raise NotImplementedError

    # The adversarial loss, where the algorithm has one (None: a VAE; the loss key says so).
    loss: Any = None
    n_critic: int = 1

    @property
    def loss_name(self) -> str:
        return self.loss.name if self.loss is not None else ""

    def swap_loss(self, name: str, keep_n_critic: bool) -> str:
        """Swap to loss `name` between two steps; returns the old name. UsageError when it cannot."""
        raise UsageError(f"--algo {self.name} has no GAN loss to swap")

    def restore_extra(self, ckpt: dict[str, Any], loss_given: bool) -> None:
        """Take back what `state_extra` saved (a resumed run goes on with the loss it had swapped to)."""

    def control_state(self) -> dict[str, Any]:
        """What every DDP rank must agree on between steps, for the pre-checkpoint check."""
        return {"loss": self.loss_name, "n_critic": self.n_critic}

    def probabilistic(self) -> bool:
        return bool(self.loss is not None and self.loss.probabilistic)

    def state_extra(self) -> dict[str, Any]:
        """Plain values the checkpoint keeps for this algorithm (the current loss, ...)."""
        return {}

    # -- sampling --------------------------------------------------------------------------------
    def generate(self, nets: dict[str, nn.Module], latent: Latent) -> torch.Tensor:
        return nets[self.sampler_net](self.prior.g_input(latent))

    def reconstruct(self, nets: dict[str, nn.Module], x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} does not reconstruct")
