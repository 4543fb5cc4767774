"""Training health: watch published metrics and sample grids, raise an alert with a one-line hint.

"Sustained over the window" means the condition held at more than half of the observations in the last
`window` steps (and the monitor has watched for a whole window): a bad stretch is reported after about
half a window, whatever the publishing rate, and a single spike never is. Each alert fires once
when its condition starts and may fire again only after the condition has cleared: no alert storms.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Severity = Literal["warning", "error"]

HINTS = {
    "nonfinite": "lower the learning rate or roll back (key b / --on-nan rollback)",
    "d_wins": "lower --lr-d, raise --lr-g, or swap to a loss with healthier gradients (ns, wgan-gp)",
    "vanishing_g": "swap to a loss with healthier gradients (ns, wgan-gp), or lower --lr-d",
    "mode_collapse": "roll back (key b), then try wgan-gp or a lower --lr-g",
    "divergence": "lower both learning rates, or roll back (key b)",
}
# Losses whose G gradient does not vanish when D wins, in the order a hint suggests them.
_HEALTHY_LOSSES = ("ns", "wgan-gp", "hinge")


def hint_for(kind: str, loss: str | None = None) -> str:
    """The hint of an alert, fitted to the run: never "swap to ns" to a run that is already on ns."""
    if kind not in ("d_wins", "vanishing_g") or loss is None:
        return HINTS[kind]
    others = [name for name in _HEALTHY_LOSSES if name != loss]
    swap = f"swap the loss to {' or '.join(others[:2])} (key l)"
    if kind == "vanishing_g":
        if loss in _HEALTHY_LOSSES:
            return f"lower --lr-d, add --r1 10 or --augment, or {swap}"
        return f"{swap}: {loss} gives G almost no gradient when D wins; or lower --lr-d"
    if loss in _HEALTHY_LOSSES:
        return f"D is too strong for G: lower --lr-d or raise --lr-g, add --r1 10 or --augment; or {swap}"
    return f"lower --lr-d, raise --lr-g, or {swap}"


@dataclass(frozen=True)
class Alert:
    step: int
    kind: str
    severity: Severity
    message: str
    hint: str


def mean_pairwise_distance(samples: np.ndarray, max_samples: int = 256) -> float:
    """Mean Euclidean distance over all pairs of samples (flattened): the diversity figure."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)[:max_samples]
    x = x - x.mean(0)  # centring keeps the Gram-matrix distances below free of cancellation error
    n = len(x)
    if n < 2:
        return 0.0
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    upper = np.triu_indices(n, k=1)
    return float(np.sqrt(d2[upper]).mean())


class _Window:
    """(step, value) pairs from the last `span` steps; `covered` once observed for a whole span."""

    def __init__(self, span: int) -> None:
        self.span = span
        self.items: deque[tuple[int, float]] = deque()
        self.first_step: int | None = None

    def add(self, step: int, value: float) -> None:
        if self.first_step is None:
            self.first_step = step
        self.items.append((step, value))
        while self.items[0][0] <= step - self.span:
            self.items.popleft()

    def covered(self, step: int) -> bool:
        return self.first_step is not None and self.first_step <= step - self.span + 1

    def values(self) -> list[float]:
        return [v for _, v in self.items]

    def median(self) -> float:
        return float(np.median(self.values()))

    def clear(self) -> None:
        self.items.clear()
        self.first_step = None


class HealthMonitor:
    """Feed it with `observe` at every publish and `observe_samples` at every sample grid."""

    def __init__(
        self,
        window: int = 200,
        *,
        d_real_high: float = 0.95,
        d_fake_low: float = 0.05,
        min_grad_g: float = 1e-4,
        collapse_ratio: float = 0.25,
        reference_samples: int = 3,
        loss_bound: float = 1e4,
        loss_growth: float = 1e3,
    ) -> None:
        self.window = window
        self.d_real_high, self.d_fake_low = d_real_high, d_fake_low
        self.min_grad_g = min_grad_g
        self.collapse_ratio, self.reference_samples = collapse_ratio, reference_samples
        self.loss_bound, self.loss_growth = loss_bound, loss_growth
        self.reset()

    def reset(self) -> None:
        """Forget everything (after a rollback the old windows describe a run that no longer exists)."""
        self._d_real = _Window(self.window)
        self._d_fake = _Window(self.window)
        self._grad_g = _Window(self.window)
        self._loss = _Window(self.window)
        self._loss_reference: float | None = None
        self._diversity_seen: list[float] = []
        self.last_diversity: float | None = None
        self._active: set[str] = set()
        self._probabilistic: bool | None = None
        self._loss_name: str | None = None  # the run's loss, when the trainer says it (fits the hints)
        self._last_step: dict[str, int] = {}

    # ------------------------------------------------------------------------------------- metrics
    def observe(self, step: int, metrics: dict[str, Any]) -> list[Alert]:
        """Check one published set of metrics; keys missing from `metrics` skip their checks."""
        self._check_order("metrics", step)
        alerts: list[Alert] = []
        # Every numeric metric, whatever the algorithm calls it (a VAE's ELBO as much as D's loss).
        bad = {
            k: v
            for k, v in metrics.items()
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not _finite(v)
        }
        if bad:
            names = ", ".join(f"{k}={v}" for k, v in bad.items())
            self._set(alerts, step, "nonfinite", True, "error", f"non-finite values at step {step}: {names}")
        else:
            self._set(alerts, step, "nonfinite", False)
        if isinstance(metrics.get("loss"), str):
            self._loss_name = metrics["loss"]
        finite = {
            k: float(v) for k, v in metrics.items() if k not in ("probabilistic", "loss") and _finite(v)
        }

        probabilistic = bool(metrics.get("probabilistic", False))
        if probabilistic != self._probabilistic:  # a loss swap changes what d_real / d_fake mean
            self._d_real.clear()
            self._d_fake.clear()
            self._probabilistic = probabilistic
        if probabilistic and "d_real" in finite and "d_fake" in finite:
            self._d_real.add(step, finite["d_real"])
            self._d_fake.add(step, finite["d_fake"])
        self._check_d_wins(alerts, step)

        if "grad_g" in finite:
            self._grad_g.add(step, finite["grad_g"])
        self._check_vanishing(alerts, step)

        losses = [abs(finite[k]) for k in ("d_loss", "g_loss") if k in finite]
        if losses:
            self._loss.add(step, max(losses))
        self._check_divergence(alerts, step)
        return alerts

    def _check_d_wins(self, alerts: list[Alert], step: int) -> None:
        on, msg = False, ""
        if self._d_real.covered(step) and self._d_fake.covered(step):
            pairs = zip(self._d_real.values(), self._d_fake.values(), strict=True)
            on = _most([r > self.d_real_high and f < self.d_fake_low for r, f in pairs])
            real, fake = self._d_real.median(), self._d_fake.median()
            msg = f"D wins: median D(x) {real:.3f}, D(G(z)) {fake:.3f} over the last {self.window} steps"
        self._set(alerts, step, "d_wins", on, "warning", msg)

    def _check_vanishing(self, alerts: list[Alert], step: int) -> None:
        on, msg = False, ""
        if self._grad_g.covered(step):
            on = _most([v < self.min_grad_g for v in self._grad_g.values()])
            level = self._grad_g.median()
            msg = f"G's gradients vanish: median norm {level:.1e} over the last {self.window} steps"
        self._set(alerts, step, "vanishing_g", on, "warning", msg)

    def _check_divergence(self, alerts: list[Alert], step: int) -> None:
        if not self._loss.covered(step):
            return
        level = self._loss.median()
        if self._loss_reference is None:
            # The first full window is the reference; a floor of 1 keeps losses that start near 0
            # (wgan critics) from counting ordinary growth as orders of magnitude.
            self._loss_reference = max(level, 1.0)
        limit = min(self.loss_bound, self.loss_growth * self._loss_reference)
        msg = (
            f"losses diverge: median |loss| {level:.3g} over the last {self.window} steps "
            f"(it started near {self._loss_reference:.3g})"
        )
        on = _most([v > limit for v in self._loss.values()])
        self._set(alerts, step, "divergence", on, "warning", msg)

    # ------------------------------------------------------------------------------------- samples
    def observe_samples(self, step: int, samples: np.ndarray) -> list[Alert]:
        """Check the diversity of the samples drawn from the fixed noise."""
        self._check_order("samples", step)
        alerts: list[Alert] = []
        diversity = mean_pairwise_distance(samples)
        self.last_diversity = diversity
        if len(self._diversity_seen) < self.reference_samples:
            self._diversity_seen.append(diversity)
            return alerts
        reference = max(self._diversity_seen)
        # An untrained G can emit near-identical samples; with no diverse reference there is nothing to lose.
        on = reference > 0 and diversity < self.collapse_ratio * reference
        msg = (
            f"possible mode collapse: sample diversity {diversity:.3g} is "
            f"{100 * diversity / reference if reference else 0:.0f}% of its early {reference:.3g}"
        )
        self._set(alerts, step, "mode_collapse", on, "warning", msg)
        return alerts

    # ------------------------------------------------------------------------------------- helpers
    def _check_order(self, stream: str, step: int) -> None:
        # A step that goes backwards means the run was rolled back without reset(): start over.
        # Each stream keeps its own order, since samples may be checked for a step already published.
        last = self._last_step.get(stream)
        if last is not None and step < last:
            self.reset()
        self._last_step[stream] = step

    def _set(
        self,
        alerts: list[Alert],
        step: int,
        kind: str,
        on: bool,
        severity: Severity = "warning",
        message: str = "",
    ) -> None:
        """Fire `kind` when it turns on; forget it when it turns off so it can fire again."""
        if not on:
            self._active.discard(kind)
        elif kind not in self._active:
            self._active.add(kind)
            alerts.append(Alert(step, kind, severity, message, hint_for(kind, self._loss_name)))

    @property
    def active(self) -> frozenset[str]:
        """Alert kinds whose condition holds now."""
        return frozenset(self._active)

    # -------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        windows = {"d_real": self._d_real, "d_fake": self._d_fake, "grad_g": self._grad_g, "loss": self._loss}
        return {
            "windows": {
                k: {"first_step": w.first_step, "items": [[s, v] for s, v in w.items]}
                for k, w in windows.items()
            },
            "loss_reference": self._loss_reference,
            "diversity_seen": list(self._diversity_seen),
            "last_diversity": self.last_diversity,
            "active": sorted(self._active),
            "probabilistic": self._probabilistic,
            "last_step": dict(self._last_step),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reset()
        windows = {"d_real": self._d_real, "d_fake": self._d_fake, "grad_g": self._grad_g, "loss": self._loss}
        for k, w in windows.items():
            saved = state["windows"][k]
            w.first_step = saved["first_step"]
            w.items.extend((int(s), float(v)) for s, v in saved["items"])
        self._loss_reference = state["loss_reference"]
        self._diversity_seen = [float(v) for v in state["diversity_seen"]]
        self.last_diversity = state["last_diversity"]
        self._active = set(state["active"])
        self._probabilistic = state["probabilistic"]
        self._last_step = {k: int(v) for k, v in state["last_step"].items()}


def _most(flags: list[bool]) -> bool:
    return 2 * sum(flags) > len(flags)


def _finite(value: Any) -> bool:
    # numbers.Real also covers numpy scalars (np.float32 is no subclass of float).
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
