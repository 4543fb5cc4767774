"""Following a run directory into a Feed: `ganterm view RUN_DIR`, and each run of `ganterm view A B`.

A run directory can come from anyone, so nothing read from it is trusted: files are opened through
rundir/untrusted.py (regular files only, bounded lines, Pillow's limits), records that are not what the
writer writes are skipped, every string bound for the screen goes through `channel.text.shown`, and
each kind of damage is said once, as a warning event, instead of stopping the view. Checkpoints are read
by a `CheckpointSource` the caller hands in (the torch side), so this module stays torch-free.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ganterm.channel.feed import Feed, SampleFrame
from ganterm.channel.history import MetricHistory
from ganterm.channel.layout import layout_of
from ganterm.channel.text import MESSAGE_LIMIT, is_clean_name, shown
from ganterm.errors import GantermError
from ganterm.rundir.grids import FRAME_NAME, RecordedGrids
from ganterm.rundir.untrusted import (
    CHUNK,
    LineSplitter,
    grid_array,
    open_regular,
    parse_record,
    read_json_object,
)

MAX_COLUMNS = 64  # metric names followed; a run logging more is not one ganterm can chart
MAX_STEP = 2**62  # steps beyond this are no step count (and would overflow int64 arithmetic)
READ_PER_POLL = 64 << 20  # bytes of one log read per poll; a bigger backlog is read over several
MAX_SAMPLE_TRIES = 32  # recorded grids tried per poll, newest first, before giving up until the next
MAX_WARNINGS = 40  # warning events one reader emits; then one saying that further ones are dropped
EVENT_KEYS = ("step", "time", "kind", "message")


@dataclass(frozen=True)
class CheckpointRead:
    """What a CheckpointSource found: the newest loadable checkpoint (`data`), its fixed grid when its
    networks could be rebuilt, else `note`, one line saying why not."""

    path: Path
    data: dict[str, Any]
    frame: SampleFrame | None = None
    note: str = ""


class CheckpointSource(Protocol):
    def newest(self, run_dir: Path) -> CheckpointRead | None:
        """A checkpoint newer than the last one returned, or None."""
        ...


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """RUN/config.json as a dict; {} when it is missing or is not a JSON object."""
    try:
        return read_json_object(Path(run_dir) / "config.json")
    except (OSError, ValueError):
        return {}


def as_step(value: object) -> int | None:
    """A step count from a record: a non-negative int (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STEP:
        return None
    return value


def as_value(value: object) -> float:
    """A metric value from a record: a finite number, else NaN (a gap in the chart)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        v = float(value)
    except OverflowError:  # an int with hundreds of digits
        return math.nan
    return v if math.isfinite(v) and abs(v) < 3e38 else math.nan  # float32 holds the history


class _Log:
    """A JSON-lines file followed from an offset: new records (dicts), torn and foreign lines dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.split = LineSplitter()
        self.unreadable = 0  # lines that were not JSON objects
        self.refused = ""  # why the file cannot be read (a FIFO, a link), once it exists

    def read(self) -> list[dict[str, Any]]:
        try:
            fh = open_regular(self.path)
        except FileNotFoundError:
            return []
        except OSError as e:
            self.refused = e.strerror or "not a regular file"
            return []
        out: list[dict[str, Any]] = []
        with fh:
            size = os.fstat(fh.fileno()).st_size
            if size < self.offset:  # replaced or truncated: start over
                self.offset, self.split = 0, LineSplitter()
            fh.seek(self.offset)
            budget = READ_PER_POLL
            while budget > 0 and (chunk := fh.read(min(CHUNK, budget))):
                self.offset += len(chunk)
                budget -= len(chunk)
                for line in self.split.feed(chunk):
                    rec = parse_record(line)
                    if rec is not None:
                        out.append(rec)
                    elif line.strip():
                        self.unreadable += 1
        return out


class RunDirReader:
    """Follows a run directory into a Feed: new metric and event lines, the newest recorded grid, and
    (with a `checkpoints` source) the newest checkpoint."""

    def __init__(
        self, path: str | Path, feed: Feed | None = None, checkpoints: CheckpointSource | None = None
    ) -> None:
        self.path = Path(path)
        if not (self.path / "config.json").exists() and not (self.path / "metrics.jsonl").exists():
            raise GantermError(
                f"{shown(self.path, 300)} is not a ganterm run directory (no config.json or metrics.jsonl)"
            )
        # An empty history: the run's own metric names arrive with its rows.
        self.feed = feed or Feed(MetricHistory(()))
        self.checkpoints = checkpoints
        # Every recorded grid, listed by name and decoded only when the scrubber shows it.
        self.grids = RecordedGrids(self.path)
        self.feed.archive = self.grids
        self._layout_set = False
        self._frame_step = -1  # the step of the newest frame published
        self._logs = {name: _Log(self.path / name) for name in ("metrics.jsonl", "events.jsonl")}
        # Events up to here were in the run when it was opened: marked past (logged, never toasted).
        try:
            self._events_at_open = os.stat(self.path / "events.jsonl").st_size
        except OSError:
            self._events_at_open = 0
        self._last_step = -1
        self._columns: dict[str, None] = {}  # the metric names followed, first seen first
        self._config_tried: tuple[int, int] | None = None
        self._samples_key: int | None = None
        self._bad_grids: set[tuple[str, int, int]] = set()
        self._warned: set[str] = set()
        self._warnings = 0
        self.config: dict[str, Any] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.checkpoint_path: Path | None = None

    def warn(self, key: str, message: str) -> None:
        """One warning event per `key`, and at most MAX_WARNINGS in all."""
        if key in self._warned or self._warnings > MAX_WARNINGS:
            return
        self._warned.add(key)
        self._warnings += 1
        if self._warnings > MAX_WARNINGS:
            message = "more problems in this run directory; further ones are not shown"
        self.feed.event("warning", shown(message, MESSAGE_LIMIT), max(self._last_step, 0))

    def poll(self) -> bool:
        """Read whatever is new; True when the feed changed."""
        changed = self._poll_config()
        changed |= self._poll_metrics()
        changed |= self._poll_events()
        if self.checkpoints is not None:
            changed |= self._poll_checkpoint(self.checkpoints)
        self.grids.refresh()
        changed |= self._poll_sample_png()
        for name, log in self._logs.items():
            if log.refused:
                self.warn(f"{name}:refused", f"{name} not read: {log.refused}")
            if log.unreadable:
                self.warn(f"{name}:unreadable", f"{name}: skipped lines that are not JSON records")
            if log.split.too_long:
                self.warn(f"{name}:long", f"{name}: skipped lines over {log.split.limit >> 20} MB")
        return changed

    # -- config.json -------------------------------------------------------------------------------
    def _poll_config(self) -> bool:
        if self.config:
            return False
        try:
            st = os.stat(self.path / "config.json")
        except OSError:
            return False
        key = (st.st_size, st.st_mtime_ns)
        if key == self._config_tried:
            return False
        self._config_tried = key
        try:
            config = read_json_object(self.path / "config.json")
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self.warn("config", f"config.json ignored: {why}")
            return False
        self.config = config
        steps = as_step(config.get("steps"))
        algo = shown(config.get("algo") or "", 40)
        views = config.get("views")
        prior = config.get("prior")
        self.feed.update(
            dataset=shown(config.get("dataset", "")),
            model=shown(config.get("model", "")),
            algo=algo,
            views=tuple(shown(v, 40) for v in views[:16] if isinstance(v, str))
            if isinstance(views, list)
            else (),
            prior=_prior(prior),
            loss="" if algo == "vae" else shown(config.get("loss", ""), 40),
            total_steps=steps or 0,
            run_dir=str(self.path),
            state="running",
        )
        return True

    # -- metrics.jsonl -----------------------------------------------------------------------------
    def _poll_metrics(self) -> bool:
        rows: list[tuple[int, dict[str, Any]]] = []
        for rec in self._logs["metrics.jsonl"].read():
            step = as_step(rec.get("step"))
            if step is None:
                self.warn("metrics:step", "metrics.jsonl: skipped records without a whole-number step")
                continue
            # After a kill and a resume from an older checkpoint, steps repeat: keep the chart monotonic.
            if step <= self._last_step:
                continue
            self._last_step = step
            rows.append((step, rec))
            for k in rec:
                if k in ("step", "time") or k in self._columns:
                    continue
                if not is_clean_name(k):
                    self.warn("metrics:name", "metrics.jsonl: ignored metric names that are not plain text")
                elif len(self._columns) >= MAX_COLUMNS:
                    self.warn(
                        "metrics:many", f"metrics.jsonl: only the first {MAX_COLUMNS} metric names are shown"
                    )
                else:
                    self._columns[k] = None
        if not rows:
            return False
        columns = tuple(self._columns)
        steps = np.array([s for s, _ in rows], np.int64)
        values = np.array([[as_value(r.get(c)) for c in columns] for _, r in rows], np.float32)
        self.feed.publish(steps, values.reshape(len(rows), len(columns)), columns, step=int(steps[-1]))
        if not self._layout_set:
            self.feed.update(layout=layout_of(self.config, columns))
            self._layout_set = bool(self.config)
        return True

    def feed_columns(self) -> tuple[str, ...]:
        return tuple(self.feed.snapshot.metrics)

    # -- events.jsonl ------------------------------------------------------------------------------
    def _poll_events(self) -> bool:
        changed = False
        log = self._logs["events.jsonl"]
        past = log.offset < self._events_at_open  # this read starts inside what was there at open
        for ev in log.read():
            kind = ev.get("kind", "info")
            kind = shown(kind, 20) if isinstance(kind, str) and kind else "info"
            step = as_step(ev.get("step"))
            if step is None:
                self.warn("events:step", "events.jsonl: records without a whole-number step shown at step 0")
            data = {
                shown(k, 40): shown(v, MESSAGE_LIMIT) if isinstance(v, str) else v
                for k, v in list(ev.items())[:32]
                if k not in EVENT_KEYS and isinstance(v, (str, int, float, bool, type(None)))
            }
            self.feed.record_event(
                kind, shown(ev.get("message", ""), MESSAGE_LIMIT), step or 0, data, past=past
            )
            if kind == "swap" and isinstance(data.get("to"), str):
                self.feed.update(loss=data["to"])
            if kind == "end":
                self.feed.update(state="finished")
            changed = True
        return changed

    # -- checkpoints/ and samples/ -----------------------------------------------------------------
    def _poll_checkpoint(self, source: CheckpointSource) -> bool:
        found = source.newest(self.path)
        if found is None:
            return False
        self.checkpoint, self.checkpoint_path = found.data, found.path
        if found.note:
            self.feed.update(message=shown(found.note, MESSAGE_LIMIT))
            self.warn(f"checkpoint:{found.note}", found.note)
        if found.frame is not None and found.frame.step >= self._frame_step:
            self._frame_step = found.frame.step
            self.feed.publish_samples(found.frame)
        return True

    def _poll_sample_png(self) -> bool:
        """The newest recorded grid (samples/step_*.png) as one frame: a script logging through
        ganterm.Run has no checkpoint to sample from, and a ganterm run records grids more often than
        it checkpoints. Links, non-files and files that do not decode are skipped with a warning."""
        samples = self.path / "samples"
        try:
            st = os.stat(samples, follow_symlinks=False)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            self.warn("samples:link", "samples/ is a symbolic link; not followed")
            return False
        if not stat.S_ISDIR(st.st_mode) or st.st_mtime_ns == self._samples_key:
            return False  # an idle poll is one stat(): nothing was added or renamed
        self._samples_key = st.st_mtime_ns
        try:
            with os.scandir(samples) as it:
                found = [(int(m[1]), e) for e in it if (m := FRAME_NAME.match(e.name))]
        except OSError:
            return False
        found.sort(key=lambda t: t[0], reverse=True)
        for step, entry in found[:MAX_SAMPLE_TRIES]:
            if step <= self._frame_step:
                return False
            frame = self._read_grid(step, entry)
            if frame is not None:
                self._frame_step = step
                self.feed.publish_samples(frame)
                return True
        return False

    def _read_grid(self, step: int, entry: os.DirEntry[str]) -> SampleFrame | None:
        name = f"samples/{shown(entry.name, 60)}"
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            what = "a symbolic link; not followed" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            self.warn(f"grid:{entry.name}", f"{name} is {what}")
            return None
        key = (entry.name, st.st_size, st.st_mtime_ns)
        if key in self._bad_grids:
            return None
        try:
            data = grid_array(entry.path)
        # Pillow can raise nearly anything on a crafted file (SyntaxError, struct.error, EOFError...).
        except Exception as e:
            self._bad_grids.add(key)
            why = "empty file" if stat.S_ISREG(st.st_mode) and st.st_size == 0 else str(e) or type(e).__name__
            self.warn(f"grid:{entry.name}", f"{name} skipped: {why}")
            return None
        return SampleFrame(step, "images", data, note="recorded grid")


def newest_grid(run_dir: str | Path, max_step: int | None = None) -> SampleFrame | None:
    """The newest recorded grid of a run (at or before `max_step`) that reads safely, or None: what
    `view CKPT` shows when it may not rebuild G."""
    try:
        with os.scandir(Path(run_dir) / "samples") as it:
            found = [(int(m[1]), e) for e in it if (m := FRAME_NAME.match(e.name))]
    except OSError:
        return None
    found = sorted((t for t in found if max_step is None or t[0] <= max_step), key=lambda t: -t[0])
    for step, entry in found[:MAX_SAMPLE_TRIES]:
        try:
            if entry.is_file(follow_symlinks=False):
                return SampleFrame(step, "images", grid_array(entry.path), note="recorded grid")
        except Exception:  # Pillow on a crafted file: see RunDirReader._read_grid
            continue
    return None


def _prior(prior: object) -> dict[str, int]:
    """The latent layout keys the screen cycles through (classes, codes), as small ints."""
    if not isinstance(prior, dict):
        return {}
    out = {}
    for key in ("z_dim", "n_classes", "n_cat", "n_cont"):
        v = prior.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10_000:
            out[key] = v
    return out
