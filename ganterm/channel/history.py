"""A bounded, multi-resolution metric history.

Level 0 keeps every step (the full-resolution tail). When a level fills, its oldest half is folded
into buckets `factor` times coarser (min / mean / max kept) one level up. Memory is therefore
O(levels x capacity) whatever the run length: 1e7 steps fit in a few MB.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

METRIC_COLUMNS: tuple[str, ...] = ("d_loss", "g_loss", "d_real", "d_fake", "grad_g", "grad_d")


@dataclass
class Series:
    """One column over the whole run, oldest first: x is the bucket's centre step."""

    x: np.ndarray
    lo: np.ndarray
    mean: np.ndarray
    hi: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


class _Level:
    """Buckets of one resolution, stored column-major in preallocated arrays."""

    def __init__(self, capacity: int, ncols: int) -> None:
        self.n = 0
        self.step_lo = np.zeros(capacity, np.int64)
        self.step_hi = np.zeros(capacity, np.int64)
        self.count = np.zeros(capacity, np.int64)
        self.lo = np.zeros((capacity, ncols), np.float32)
        self.mean = np.zeros((capacity, ncols), np.float32)
        self.hi = np.zeros((capacity, ncols), np.float32)

    ARRAYS = ("step_lo", "step_hi", "count", "lo", "mean", "hi")

    def extend(self, step_lo, step_hi, count, lo, mean, hi) -> None:
        k = len(step_lo)
        s = slice(self.n, self.n + k)
        self.step_lo[s], self.step_hi[s], self.count[s] = step_lo, step_hi, count
        self.lo[s], self.mean[s], self.hi[s] = lo, mean, hi
        self.n += k

    def pop_front(self, k: int) -> dict[str, np.ndarray]:
        out = {name: getattr(self, name)[:k].copy() for name in self.ARRAYS}
        for name in self.ARRAYS:
            arr = getattr(self, name)
            arr[: self.n - k] = arr[k : self.n]
        self.n -= k
        return out


class MetricHistory:
    """Append per-step metric rows; read any column back at the best resolution still held."""

    def __init__(
        self, columns: tuple[str, ...] = METRIC_COLUMNS, capacity: int = 8192, factor: int = 8
    ) -> None:
        if capacity % (2 * factor):
            raise ValueError("capacity must be a multiple of 2*factor")
        self.columns = tuple(columns)
        self.capacity = capacity
        self.factor = factor
        self._levels: list[_Level] = [_Level(capacity, len(columns))]
        self.last_step = -1
        self.total_rows = 0

    # -- writing -------------------------------------------------------------------------------
    def append(self, step: int, values: dict[str, float] | np.ndarray) -> None:
        self.extend(np.array([step]), self._row(values)[None, :])

    def extend(self, steps: np.ndarray, values: np.ndarray, columns: tuple[str, ...] | None = None) -> None:
        """Add rows; `values` is (n, len(columns)), named by `columns` (default: the history's own, in
        order). Names not seen before become new columns, empty (NaN) for the steps before."""
        steps = np.asarray(steps, np.int64)
        if columns is not None and tuple(columns) != self.columns:
            values = self._reorder(np.asarray(values, np.float32).reshape(len(steps), len(columns)), columns)
        values = np.asarray(values, np.float32).reshape(len(steps), len(self.columns))
        start = 0
        while start < len(steps):
            lvl = self._levels[0]
            room = self.capacity - lvl.n
            if room == 0:
                self._fold(0)
                continue
            end = min(len(steps), start + room)
            s, v = steps[start:end], values[start:end]
            lvl.extend(s, s, np.ones(len(s), np.int64), v, v, v)
            start = end
        if len(steps):
            self.last_step = int(steps[-1])
            self.total_rows += len(steps)

    def _reorder(self, values: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
        new = [c for c in columns if c not in self.columns]
        if new:
            self.add_columns(tuple(new))
        out = np.full((len(values), len(self.columns)), np.nan, np.float32)
        index = {c: j for j, c in enumerate(self.columns)}
        out[:, [index[c] for c in columns]] = values
        return out

    def add_columns(self, names: tuple[str, ...]) -> None:
        """New metrics mid-run (a script that logs one more): NaN for everything recorded before."""
        names = tuple(n for n in names if n not in self.columns)
        if not names:
            return
        self.columns = self.columns + names
        for lv in self._levels:
            for a in ("lo", "mean", "hi"):
                old = getattr(lv, a)
                grown = np.full((old.shape[0], len(self.columns)), np.nan, np.float32)
                grown[:, : old.shape[1]] = old
                setattr(lv, a, grown)

    def _row(self, values: dict[str, float] | np.ndarray) -> np.ndarray:
        if isinstance(values, dict):
            return np.array([values.get(c, np.nan) for c in self.columns], np.float32)
        return np.asarray(values, np.float32)

    def _fold(self, i: int) -> None:
        """Fold the oldest half of level i into level i+1."""
        if i + 1 == len(self._levels):
            self._levels.append(_Level(self.capacity, len(self.columns)))
        up = self._levels[i + 1]
        if up.n + self.capacity // 2 // self.factor > self.capacity:
            self._fold(i + 1)
        old = self._levels[i].pop_front(self.capacity // 2)
        f = self.factor
        nb = len(old["count"]) // f

        def grouped(a: np.ndarray) -> np.ndarray:
            return a.reshape(nb, f, *a.shape[1:])

        count = grouped(old["count"])
        weights = count[..., None].astype(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN buckets stay NaN
            mean = np.nansum(grouped(old["mean"]) * weights, axis=1) / weights.sum(axis=1)
            up.extend(
                grouped(old["step_lo"])[:, 0],
                grouped(old["step_hi"])[:, -1],
                count.sum(axis=1),
                np.nanmin(grouped(old["lo"]), axis=1),
                mean.astype(np.float32),
                np.nanmax(grouped(old["hi"]), axis=1),
            )

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(level.n for level in self._levels)

    def series(self, column: str, last_steps: int | None = None) -> Series:
        """The whole run (or its last `last_steps` steps), oldest first; empty for a metric not logged."""
        if column not in self.columns:
            return Series(*(np.zeros(0) for _ in range(4)))
        j = self.columns.index(column)
        xs, los, means, his = [], [], [], []
        for level in reversed(self._levels):
            n = level.n
            xs.append((level.step_lo[:n] + level.step_hi[:n]) / 2.0)
            los.append(level.lo[:n, j])
            means.append(level.mean[:n, j])
            his.append(level.hi[:n, j])
        s = Series(*(np.concatenate(a) if a else np.zeros(0) for a in (xs, los, means, his)))
        if last_steps is not None and len(s):
            keep = s.x >= self.last_step - last_steps
            s = Series(s.x[keep], s.lo[keep], s.mean[keep], s.hi[keep])
        return s

    def latest(self) -> dict[str, float]:
        lvl = self._levels[0]
        if lvl.n == 0:
            return {}
        return {c: float(lvl.mean[lvl.n - 1, j]) for j, c in enumerate(self.columns)}

    def nbytes(self) -> int:
        return sum(getattr(lv, a).nbytes for lv in self._levels for a in _Level.ARRAYS)

    # -- persistence (plain types and numpy arrays; the checkpoint turns arrays into tensors) ---
    def state_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "capacity": self.capacity,
            "factor": self.factor,
            "last_step": self.last_step,
            "total_rows": self.total_rows,
            "levels": [{a: getattr(lv, a)[: lv.n].copy() for a in _Level.ARRAYS} for lv in self._levels],
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> MetricHistory:
        h = cls(tuple(state["columns"]), int(state["capacity"]), int(state["factor"]))
        h._levels = []
        for saved in state["levels"]:
            lv = _Level(h.capacity, len(h.columns))
            lv.extend(*(np.asarray(saved[a]) for a in _Level.ARRAYS))
            h._levels.append(lv)
        if not h._levels:
            h._levels.append(_Level(h.capacity, len(h.columns)))
        h.last_step = int(state["last_step"])
        h.total_rows = int(state["total_rows"])
        return h
