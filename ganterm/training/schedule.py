"""Learning-rate decay over a run: a multiplier of the base rate as a pure function of the step.

On the 2-D toy sets most of the precision (samples within 3 std of a mode) arrives once the step
size shrinks at the end of the run, so the recipes hold the rate flat and then anneal it to zero.
"""

from __future__ import annotations

import math

from ganterm.config import LR_DECAYS
from ganterm.errors import UsageError, choices_message


def lr_factor(step: int, total: int, decay: str = "none", start: float = 0.5) -> float:
    """Multiplier for the rate of step `step` (0-based) of `total`: 1 until `start * total`, then to 0.

    `start` is the fraction of the run trained at the full rate. The factor is 1 at the decay's first
    step and reaches 0 only past the last step, so every step still learns something.
    """
    if decay not in LR_DECAYS:
        raise UsageError(choices_message("lr decay", decay, LR_DECAYS))
    if not 0.0 <= start < 1.0:
        raise UsageError(f"lr decay start must be a fraction in [0, 1), got {start}")
    first = start * total
    if decay == "none" or step < first:
        return 1.0
    t = min(1.0, (step - first) / max(1.0, total - first))
    return 1.0 - t if decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
