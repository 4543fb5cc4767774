"""An exponential moving average of the generator's weights (G-EMA).

The averaged G is what samples, evaluation and `ganterm sample` use: it smooths out the last steps'
jitter, which on the 2-D toy sets is most of what puts samples off their mode.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_beta(beta: float, step: int) -> float:
    """The decay used at update number `step` (1-based): ramps up to `beta` so early weights fade fast.

    Without the ramp the average starts at the initial weights and a short run (or the first
    thousands of steps of a long one) would show mostly noise from initialisation.
    """
    return min(beta, (1.0 + step) / (10.0 + step))


class EMA:
    """`shadow <- b * shadow + (1 - b) * live` after each G step, b = `ema_beta(beta, step)`.

    A function of the step, not of a private counter, so a resumed run averages exactly as an
    unbroken one. Buffers (batch-norm statistics) are copied as they are.
    """

    def __init__(self, model: nn.Module, beta: float) -> None:
        if not 0.0 < beta < 1.0:
            raise ValueError(f"EMA beta must be in (0, 1), got {beta}")
        self.beta = beta
        self.model = copy.deepcopy(model).requires_grad_(False).eval()
        self._live = list(model.parameters())
        self._shadow = list(self.model.parameters())
        self._live_buffers = list(model.buffers())
        self._shadow_buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, step: int) -> None:
        torch._foreach_lerp_(self._shadow, self._live, 1.0 - ema_beta(self.beta, step))
        for s, b in zip(self._shadow_buffers, self._live_buffers, strict=True):
            s.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
