"""The numbers behind a chart, numpy only: downsampling to a few points per column, the debiased EMA,
symlog scaling and its ticks, number formatting, and an ASCII fallback for box-drawing text."""

from __future__ import annotations

import math

import numpy as np


def _buckets(x: np.ndarray, n_buckets: int) -> np.ndarray:
    """Start index of each non-empty bucket when sorted x is cut into n_buckets equal x ranges."""
    span = x[-1] - x[0]
    if span <= 0:
        return np.zeros(1, np.int64)
    index = np.minimum(((x - x[0]) * (n_buckets / span)).astype(np.int64), n_buckets - 1)
    return np.flatnonzero(np.r_[True, index[1:] != index[:-1]])


def _sorted_finite_x(x: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    x = np.asarray(x, np.float64)
    ys = tuple(np.asarray(y, np.float64) for y in ys)
    keep = np.isfinite(x)
    if not keep.all():
        x, ys = x[keep], tuple(y[keep] for y in ys)
    if x.size > 1 and np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, ys = x[order], tuple(y[order] for y in ys)
    return (x, *ys)


def downsample_minmax(
    x: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray, n_buckets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the x range into n_buckets equal parts: mean x, min of y_lo and max of y_hi per non-empty part.

    NaNs are ignored (a part with only NaNs gives NaN); the global min and max therefore survive. Points
    with a non-finite x are dropped; unsorted x is sorted first. Inputs no longer than n_buckets come back
    as they are.
    """
    x, y_lo, y_hi = _sorted_finite_x(x, y_lo, y_hi)
    if x.size <= n_buckets or x.size == 0:
        return x, y_lo, y_hi
    starts = _buckets(x, max(1, n_buckets))
    counts = np.diff(starts, append=x.size)
    return (
        np.add.reduceat(x, starts) / counts,
        np.fmin.reduceat(y_lo, starts),  # fmin/fmax skip NaN where plain min/max would spread it
        np.fmax.reduceat(y_hi, starts),
    )


def downsample_mean(x: np.ndarray, y: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Like `downsample_minmax`, but one value per part: the mean of its finite y (NaN when there is none)."""
    x, y = _sorted_finite_x(x, y)
    if x.size <= n_buckets or x.size == 0:
        return x, y
    starts = _buckets(x, max(1, n_buckets))
    counts = np.diff(starts, append=x.size)
    finite = np.isfinite(y)
    sums = np.add.reduceat(np.where(finite, y, 0.0), starts)
    n_finite = np.add.reduceat(finite.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_finite > 0, sums / n_finite, np.nan)
    return np.add.reduceat(x, starts) / counts, mean


def ema(values: np.ndarray, weight: float = 0.6) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with bias correction (weight 0 = none).

    Non-finite values are passed through and skipped, as TensorBoard does. Vectorised in blocks short enough
    that weight ** -block stays far from overflow.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"ema weight must be in [0, 1), got {weight}")
    values = np.asarray(values, np.float64)
    out = values.copy()
    finite = np.isfinite(values)
    v = values[finite]
    if weight == 0.0 or v.size == 0:
        return out
    block = max(1, int(100 / -math.log10(weight)))
    smoothed = np.empty_like(v)
    carry = 0.0  # the running (biased) average at the end of the previous block
    for start in range(0, v.size, block):
        chunk = v[start : start + block]
        power = weight ** np.arange(chunk.size)
        # avg_j = w^(j+1) * carry + (1 - w) * sum_{i<=j} w^(j-i) * v_i
        run = weight * power * carry + (1.0 - weight) * power * np.cumsum(chunk / power)
        smoothed[start : start + chunk.size] = run
        carry = run[-1]
    smoothed /= 1.0 - weight ** np.arange(1, v.size + 1)
    out[finite] = smoothed
    return out


def symlog(y: np.ndarray | float, linthresh: float = 1.0) -> np.ndarray:
    """sign(y) * log10(1 + |y| / linthresh): a log-like scale that keeps 0 and negatives (WGAN critics)."""
    y = np.asarray(y, np.float64)
    return np.sign(y) * np.log10(1.0 + np.abs(y) / linthresh)


def symlog_inverse(s: np.ndarray | float, linthresh: float = 1.0) -> np.ndarray:
    """The y whose symlog is s."""
    s = np.asarray(s, np.float64)
    return np.sign(s) * linthresh * (10.0 ** np.abs(s) - 1.0)


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About n round values (steps of 1, 2, 2.5 or 5 x 10^k) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or n < 1:
        return np.zeros(0)
    if hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / max(n - 1, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.where(np.abs(ticks) < step * 1e-9, 0.0, ticks)  # -0.0 and 1e-17 read as 0


def symlog_ticks(
    lo: float, hi: float, linthresh: float = 1.0, max_ticks: int = 6
) -> tuple[np.ndarray, list[str]]:
    """Tick positions (in symlog space) and labels (in data space) for data between lo and hi.

    Ticks sit at 0 and at powers of ten of either sign; a range too narrow to hold two of them gets
    linear round values instead.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0), []
    big = max(abs(lo), abs(hi), linthresh)
    # below linthresh the scale is nearly linear: decades start at linthresh's own
    decades = 10.0 ** np.arange(math.floor(math.log10(linthresh)), math.ceil(math.log10(big)) + 1)
    values = np.concatenate([-decades[::-1], [0.0], decades])
    values = values[(values >= lo) & (values <= hi)]
    if values.size > max_ticks:
        # thin the decades evenly, always keeping the outermost ones
        keep = np.unique(np.rint(np.linspace(0, values.size - 1, max_ticks)).astype(int))
        values = values[keep]
    if values.size < 2:
        values = nice_ticks(lo, hi, max(2, max_ticks - 1))
    return symlog(values, linthresh), [format_number(v) for v in values]


def format_number(value: float) -> str:
    """A short label: 0, 0.25, 12.5, 3k, 1.2M, 1e-04."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    if magnitude < 1e-2:
        return f"{value:.0e}"
    return f"{value:.3g}"


# -- ASCII fallback -----------------------------------------------------------------------------
def _ascii_table() -> dict[int, str]:
    table = {ord(c): "-" for c in "─━╌┄"}
    table.update({ord(c): "|" for c in "│┃╎┆"})
    table.update({ord(c): "+" for c in "┌┐└┘├┤┬┴┼╭╮╰╯"})
    table.update({ord("→"): ">", ord("·"): ".", ord("•"): "o", ord("…"): "~"})
    for code in range(0x2800, 0x2900):  # braille: a cell's dots become one mark, light or heavy
        dots = bin(code - 0x2800).count("1")
        table[code] = " " if dots == 0 else "." if dots <= 2 else "*"
    return table


_ASCII = _ascii_table()


def to_ascii(text: str) -> str:
    """`text` with braille, box-drawing and the few other glyphs charts use replaced by ASCII (ANSI
    colour codes are ASCII already and pass through); anything else non-ASCII becomes "?"."""
    out = text.translate(_ASCII)
    return out if out.isascii() else "".join(c if c.isascii() else "?" for c in out)


# -- plotext ------------------------------------------------------------------------------------
