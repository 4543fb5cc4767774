"""The PacGAN / VEEGAN protocol for the 2-D ring and grid: modes captured, high-quality samples, reverse KL.

Pure numpy. For each generated sample take its nearest true mean (Euclidean):

- the sample is *high quality* (HQ) when that distance is at most `3 * std`;
- a mode is *captured* when at least one HQ sample has it as its nearest mean;
- `p` is the histogram of HQ samples over the K modes, normalised by the number of HQ samples, and
  the reverse KL is KL(p || uniform) = sum_k p_k log(p_k K), where empty bins contribute 0 (the limit of
  p log p as p -> 0). It is 0 when HQ samples spread evenly over all modes and log K when they all sit in
  one mode. With no HQ sample at all `p` is undefined, and the reverse KL is reported as NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# PacGAN evaluates 2,500 generated samples.
PACGAN_N = 2500


@dataclass(frozen=True)
class ToyScore:
    modes: int  # modes captured by at least one HQ sample
    modes_total: int  # K
    hq_pct: float  # percentage of samples within 3 std of their nearest mean
    reverse_kl: float  # KL(p_hq || uniform) in nats; NaN when there is no HQ sample

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def nearest_modes(samples: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest mean, and the distance to it."""
    x = np.asarray(samples, dtype=np.float64)
    m = np.asarray(modes, dtype=np.float64)
    if x.ndim != 2 or m.ndim != 2 or x.shape[1] != m.shape[1]:
        raise ValueError(f"samples {x.shape} and modes {m.shape} must both be (N, D) with the same D")
    d2 = ((x[:, None, :] - m[None, :, :]) ** 2).sum(-1)  # (N, K): 2500 x 25 is small
    idx = d2.argmin(1)
    return idx, np.sqrt(d2[np.arange(len(x)), idx])


def reverse_kl(counts: np.ndarray) -> float:
    """KL(p || uniform over len(counts) bins) for a histogram of counts; NaN for an empty histogram."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(max(0.0, (p * np.log(p * len(counts))).sum()))


def score_toy(samples: np.ndarray, modes: np.ndarray, std: float, threshold: float = 3.0) -> ToyScore:
    """Score generated 2-D samples against the true mixture (means `modes`, isotropic `std`)."""
    if len(samples) == 0:
        raise ValueError("no samples to score")
    x = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(x).all(1)  # a NaN sample is nowhere near a mode: it counts as low quality
    idx, dist = nearest_modes(np.where(finite[:, None], x, 0.0), modes)
    hq = finite & (dist <= threshold * std)
    counts = np.bincount(idx[hq], minlength=len(modes))
    return ToyScore(
        modes=int((counts > 0).sum()),
        modes_total=len(modes),
        hq_pct=100.0 * float(hq.mean()),
        reverse_kl=reverse_kl(counts),
    )
