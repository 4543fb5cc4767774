"""How long a run is, and the schedules that follow from it: --steps / --epochs / --time, the step total the
rate decay and instance noise read, and the progress bar's total."""

from __future__ import annotations

import math

from ganterm.config import TrainConfig
from ganterm.training.budget import TimeBudget
from ganterm.training.schedule import lr_factor

# The step total of a time-budgeted run before its speed is known: far enough that every schedule
# (rate decay, instance noise) is still at its start.
UNKNOWN_TOTAL = 2**31 - 1


class RunLength:
    """The cap (--steps, --epochs), the wall-clock budget (--time), and the total they give now."""

    def __init__(self, cfg: TrainConfig, data_size: int) -> None:
        self.cfg = cfg
        self.steps_per_epoch = max(1, data_size // int(cfg.batch_size))
        self.cap = self._cap(data_size)
        self.budget = TimeBudget(float(cfg.time_limit)) if cfg.time_limit else None
        self.total = self.estimate(0)

    def _cap(self, data_size: int) -> int | None:
        """The last step --steps or --epochs allow; None when only a time budget ends the run."""
        cfg = self.cfg
        if cfg.epochs is not None:
            return max(1, math.ceil(cfg.epochs * data_size / int(cfg.batch_size)))
        if cfg.steps is None and cfg.time_limit is not None:
            return None
        return int(cfg.steps or 1)

    def estimate(self, step: int) -> int:
        """The step total the schedules and the progress bar use: the cap, or the budget's estimate."""
        if self.budget is None:
            return int(self.cap or 1)
        estimate = self.budget.estimate_total(step)
        if estimate is None:  # no step timed yet: schedules stay at their start until one is
            return self.cap if self.cap is not None else UNKNOWN_TOTAL
        return min(self.cap, estimate) if self.cap is not None else estimate

    def capped(self, step: int) -> bool:
        return self.cap is not None and step >= self.cap

    def expired(self) -> bool:
        return self.budget is not None and self.budget.expired()

    def known_total(self) -> int:
        """The total to show (0: not known yet)."""
        return 0 if self.total == UNKNOWN_TOTAL else self.total

    def lr_factor(self, step: int) -> float:
        return lr_factor(
            step, self.total, str(self.cfg.lr_decay or "none"), float(self.cfg.lr_decay_start or 0.0)
        )

    def instance_noise_std(self, step: int) -> float:
        """Std of the noise on D's inputs at this step: linear from --instance-noise to 0 where the rate
        decay starts (half-way without one). Blurring both distributions early gives G a gradient
        towards modes it has not found yet; the sharp end of training then runs without it."""
        start = float(self.cfg.instance_noise or 0.0)
        if not start:
            return 0.0
        decay = str(self.cfg.lr_decay or "none")
        end = (float(self.cfg.lr_decay_start or 0.0) if decay != "none" else 0.5) * self.total
        return start * max(0.0, 1.0 - step / end) if end > 0 else 0.0
