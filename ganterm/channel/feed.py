"""The one-way channel from trainer to UI.

The trainer writes (a few times a second at most, never per step from a UI's point of view);
any number of readers poll `read(since=version)` on a timer. Everything is guarded by one lock and
every write bumps `version`, so a reader that sees an unchanged version does no work at all.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from ganterm.channel.history import MetricHistory, Series
from ganterm.channel.layout import GAN_LAYOUT, Layout

RunState = Literal["starting", "running", "paused", "finished", "stopped", "error"]

# Event kinds the trainer emits. Charts draw markers for MARKER_KINDS.
EVENT_KINDS = (
    "start",
    "checkpoint",
    "swap",
    "pause",
    "resume",
    "alert",
    "error",
    "end",
    "rollback",
    "resample",
    "quality",
    "milestone",
    "info",
    "warning",
)
MARKER_KINDS = ("swap", "checkpoint", "rollback")


@dataclass(frozen=True)
class Event:
    version: int
    step: int
    time: float
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    past: bool = False  # already in the run when the viewer opened it: logged and marked, never toasted


@dataclass(frozen=True)
class SampleFrame:
    """Generated samples at one step.

    kind "images": `data` is (N, H, W, C) uint8, C in {1, 3}.
    kind "points": `data` is (N, 2) float32 generated points; `real` holds real points to compare.
    `view` names what the frame shows: "samples" (the fixed grid, or new noise: see `note`), or an
    algorithm's extra view ("traversal", "class", "recon"). `cols`: the grid's width when its rows mean
    something (one row per class, a traversal's sweep); None lets the panel fit it.
    """

    step: int
    kind: Literal["images", "points"]
    data: np.ndarray
    real: np.ndarray | None = None
    view: str = "samples"
    note: str = ""
    cols: int | None = None


class FrameArchive(Protocol):
    """Older recorded frames kept outside the feed (a run directory's grids: rundir/grids.py), decoded
    only when shown: the scrubber reaches them before the feed's own bounded frames."""

    def steps_before(self, step: float) -> list[int]: ...

    def is_cached(self, step: int) -> bool: ...

    def load(self, step: int) -> SampleFrame | None: ...


@dataclass(frozen=True)
class Snapshot:
    """The latest state of a run: what a header line needs. Metrics by name (the algorithm's)."""

    state: RunState = "starting"
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    dataset: str = ""
    model: str = ""
    algo: str = ""
    loss: str = ""
    device: str = ""
    gpu_mem_bytes: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    layout: Layout = GAN_LAYOUT
    views: tuple[str, ...] = ()  # the extra sample views the run offers
    prior: Mapping[str, int] = field(default_factory=dict)  # z_dim, n_classes, n_cat, n_cont
    steps_per_s: float = 0.0
    images_per_s: float = 0.0
    eta_s: float | None = None
    run_dir: str = ""
    quality: dict[str, float] | None = None
    message: str = ""

    def metric(self, name: str) -> float:
        return float(self.metrics.get(name, float("nan")))


@dataclass(frozen=True)
class FeedUpdate:
    version: int
    snapshot: Snapshot
    events: list[Event]
    samples: SampleFrame | None  # the newest "samples" frame, only when newer than `since`
    history_changed: bool
    views: dict[str, SampleFrame] = field(default_factory=dict)  # newest frame per view, newer than `since`


class Feed:
    def __init__(self, history: MetricHistory | None = None, max_events: int = 500, max_frames: int = 64):
        self._lock = threading.Lock()
        self._version = 0
        self._snapshot = Snapshot()
        self._history = history if history is not None else MetricHistory()  # an empty one is falsy
        self._history_version = 0
        self._events: deque[Event] = deque(maxlen=max_events)
        # Extra views (traversal, reconstructions) interleave with the grid: room for both.
        self._frames: deque[tuple[int, SampleFrame]] = deque(maxlen=2 * max_frames)
        self.archive: FrameArchive | None = None  # the run's older frames on disk, when it has any

    # -- trainer side --------------------------------------------------------------------------
    def update(self, **fields: Any) -> None:
        """Replace snapshot fields (see `Snapshot`)."""
        with self._lock:
            self._snapshot = replace(self._snapshot, **fields)
            self._version += 1

    def publish(
        self,
        steps: np.ndarray,
        values: np.ndarray,
        columns: tuple[str, ...] | None = None,
        **fields: Any,
    ) -> None:
        """Append metric rows ((n, len(columns))) named by `columns` (default: the history's own) and
        update the snapshot at once; the last row becomes the snapshot's metrics."""
        with self._lock:
            cols = tuple(columns) if columns is not None else self._history.columns
            self._history.extend(steps, values, cols)
            if len(steps):
                last = np.asarray(values, np.float32).reshape(len(steps), len(cols))[-1]
                fields["metrics"] = {**self._snapshot.metrics, **dict(zip(cols, last.tolist(), strict=True))}
            if fields:
                self._snapshot = replace(self._snapshot, **fields)
            self._version += 1
            self._history_version = self._version

    def publish_samples(self, frame: SampleFrame) -> None:
        with self._lock:
            self._version += 1
            self._frames.append((self._version, frame))

    def event(self, kind: str, message: str, step: int | None = None, **data: Any) -> Event:
        return self.record_event(kind, message, step, data)

    def record_event(
        self, kind: str, message: str, step: int | None, data: dict[str, Any], *, past: bool = False
    ) -> Event:
        """`event` with its data as a dict (a run's own keys never meet our arguments); `past`: read
        from a record of what happened before the viewer opened (see `Event.past`)."""
        with self._lock:
            self._version += 1
            at = self._snapshot.step if step is None else step
            ev = Event(self._version, at, time.time(), kind, message, data, past)
            self._events.append(ev)
            return ev

    def replace_history(self, history: MetricHistory) -> None:
        """Swap the whole history (resume, rollback)."""
        with self._lock:
            self._history = history
            self._version += 1
            self._history_version = self._version

    # -- reader side ---------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def read(self, since: int = 0) -> FeedUpdate:
        with self._lock:
            events = [e for e in self._events if e.version > since]
            views: dict[str, SampleFrame] = {}
            for version, frame in reversed(self._frames):
                if version <= since:
                    break
                views.setdefault(frame.view, frame)
            return FeedUpdate(
                version=self._version,
                snapshot=self._snapshot,
                events=events,
                samples=views.get("samples"),
                history_changed=self._history_version > since,
                views=views,
            )

    @property
    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def series(self, column: str, last_steps: int | None = None) -> Series:
        """A copy of one metric column, safe to use outside the lock."""
        with self._lock:
            return self._history.series(column, last_steps)

    def frames(self, view: str | None = "samples") -> list[SampleFrame]:
        """The recorded frames of one view (None: all), oldest first (bounded)."""
        with self._lock:
            return [f for _, f in self._frames if view is None or f.view == view]

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def history_state(self) -> dict:
        with self._lock:
            return self._history.state_dict()
