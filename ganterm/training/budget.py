"""A wall-clock training budget (`--time 5m`) and the step total it allows at the measured speed.

Schedules that depend on the run's length (rate decay, instance noise) need a step total; under a time
budget it is re-estimated at every publish as `step + speed * time left`, with the speed averaged since
the end of a short warm-up (the first steps pay for allocation and kernel selection). Pauses are not
training time: the clock stops while the run is paused.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# The warm-up: 5 % of the budget, at least 1 s and at most 20 s.
WARMUP_FRACTION = 0.05
WARMUP_MIN_S = 1.0
WARMUP_MAX_S = 20.0


class TimeBudget:
    def __init__(self, seconds: float, clock: Callable[[], float] | None = None) -> None:
        self.seconds = float(seconds)
        self.clock = clock or (lambda: time.perf_counter())  # looked up per call: tests may fake it
        self.warmup_s = min(WARMUP_MAX_S, max(WARMUP_MIN_S, WARMUP_FRACTION * self.seconds))
        self._started: float | None = None
        self._paused_at: float | None = None
        self._paused_s = 0.0
        self._mark: tuple[float, int] | None = None  # (elapsed, step) where the warm-up ended

    def start(self, step: int) -> None:
        self._started = self.clock()
        self._start_step = step

    def elapsed(self) -> float:
        """Training seconds spent so far (pauses excluded)."""
        if self._started is None:
            return 0.0
        now = self._paused_at if self._paused_at is not None else self.clock()
        return now - self._started - self._paused_s

    def left(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        return self._started is not None and self.elapsed() >= self.seconds

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_s += self.clock() - self._paused_at
            self._paused_at = None

    def estimate_total(self, step: int) -> int | None:
        """The step the run will reach when the budget is spent, at the speed measured so far (None
        before any step was timed)."""
        elapsed = self.elapsed()
        if elapsed >= self.seconds:
            return step
        if self._mark is None and elapsed >= self.warmup_s and step > self._start_step:
            self._mark = (elapsed, step)
        if self._mark is not None and elapsed > self._mark[0] and step > self._mark[1]:
            rate = (step - self._mark[1]) / (elapsed - self._mark[0])
        elif elapsed > 0 and step > self._start_step:
            rate = (step - self._start_step) / elapsed  # warm-up: a first, low guess
        else:
            return None
        return max(step + 1, step + round(rate * self.left()))
