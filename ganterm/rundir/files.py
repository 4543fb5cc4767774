"""The run directory: config.json, metrics.jsonl, events.jsonl, samples/, checkpoints/.

The writer is the trainer's; the reader lets `ganterm view RUN_DIR` follow a run another process writes.
Everything appended is line-oriented JSON so a reader can tail it while it grows.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ganterm.channel.feed import Event, Feed, SampleFrame
from ganterm.channel.history import METRIC_COLUMNS, MetricHistory
from ganterm.channel.layout import layout_of
from ganterm.rundir.commands import _pid_alive


def default_run_dir(dataset: str, model: str, root: str | Path = "runs") -> Path:
    name = dataset.split(":")[0] if ":" in dataset or os.sep in dataset else dataset
    return Path(root) / f"{name}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def _json_float(v: float) -> float | None:
    return v if math.isfinite(v) else None  # JSON has no NaN; null reads back as NaN


def tile_images(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 -> one mosaic for the PNG files (the TUI has its own fitted tiling)."""
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        out[y : y + h, x : x + w] = images[i]
    return out


def _open_for_append(path: Path):
    """Append mode, after ending a line torn by a killed writer so the next record starts clean."""
    with open(path, "ab+") as raw:
        if raw.tell() > 0:
            raw.seek(-1, os.SEEK_END)
            if raw.read(1) != b"\n":
                raw.write(b"\n")
    return open(path, "a", encoding="utf-8")


def _remove_stale_temps(directory: Path) -> None:
    """Delete `.NAME.PID.tmp` files left by a checkpoint write that was killed (its process is gone)."""
    for tmp in directory.glob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


class RunDirWriter:
    def __init__(self, path: str | Path, config: dict[str, Any], *, resume: bool = False) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.samples = self.path / "samples"
        for d in (self.path, self.checkpoints, self.samples):
            d.mkdir(parents=True, exist_ok=True)
        self._config = config
        if not (resume and (self.path / "config.json").exists()):
            self._write_config()
        _remove_stale_temps(self.checkpoints)
        self._open_logs()

    def _write_config(self) -> None:
        cfg_file = self.path / "config.json"
        tmp = cfg_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._config, indent=2, default=str) + "\n")
        os.replace(tmp, cfg_file)

    def _open_logs(self) -> None:
        self._metrics = _open_for_append(self.path / "metrics.jsonl")
        self._events = _open_for_append(self.path / "events.jsonl")

    def ensure_exists(self) -> bool:
        """True if the run directory is still there; else recreate it (config, logs) and return False.

        Someone deleted it mid-run: the open logs now write to unlinked files, so start new ones.
        """
        if (self.path / "config.json").exists():
            return True
        for d in (self.path, self.checkpoints, self.samples):
            d.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.close()  # only once the new directory is there: an OSError above leaves the old logs usable
        self._open_logs()
        return False

    def write_metrics(
        self, steps: np.ndarray, values: np.ndarray, wall: float, names: tuple[str, ...] = METRIC_COLUMNS
    ) -> None:
        lines = []
        for s, row in zip(steps.tolist(), values.tolist(), strict=True):
            rec = {"step": s, "time": round(wall, 3)}
            rec.update({c: _json_float(v) for c, v in zip(names, row, strict=True)})
            lines.append(json.dumps(rec))
        self._metrics.write("\n".join(lines) + "\n")
        self._metrics.flush()

    def write_event(self, ev: Event) -> None:
        rec = {"step": ev.step, "time": round(ev.time, 3), "kind": ev.kind, "message": ev.message}
        rec.update({k: v for k, v in ev.data.items() if isinstance(v, (str, int, float, bool, type(None)))})
        self._events.write(json.dumps(rec) + "\n")
        self._events.flush()

    def write_samples(self, frame: SampleFrame) -> Path:
        if frame.kind == "points":
            out = self.samples / f"step_{frame.step:07d}.npy"
            np.save(out, frame.data)
            return out
        from PIL import Image  # only when images are written

        cols = frame.cols or max(1, math.isqrt(len(frame.data)))
        mosaic = tile_images(frame.data, cols)
        out = self.samples / f"step_{frame.step:07d}.png"
        img = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
        img.save(out)
        return out

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"ckpt_{step:07d}.pt"

    def close(self) -> None:
        for f in (self._metrics, self._events):
            with contextlib.suppress(OSError):
                f.close()


class RunDirReader:
    """Follows a run directory into a Feed: new metric and event lines, and the newest checkpoint."""

    def __init__(self, path: str | Path, feed: Feed | None = None) -> None:
        self.path = Path(path)
        if not (self.path / "config.json").exists() and not (self.path / "metrics.jsonl").exists():
            from ganterm.errors import GantermError

            raise GantermError(
                f"{self.path} is not a ganterm run directory (no config.json or metrics.jsonl)"
            )
        # An empty history: the run's own metric names arrive with its rows.
        self.feed = feed or Feed(MetricHistory(()))
        self._layout_set = False
        self._png_seen = ""
        self._frame_step = -1  # the step of the newest frame published
        self._offsets = {"metrics.jsonl": 0, "events.jsonl": 0}
        self._partial = {"metrics.jsonl": "", "events.jsonl": ""}
        self._ckpt_seen: tuple[str, float] | None = None
        self._last_step = -1
        self.config: dict[str, Any] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.checkpoint_path: Path | None = None

    def _new_lines(self, name: str) -> list[dict]:
        f = self.path / name
        try:
            size = f.stat().st_size
        except OSError:
            return []
        if size < self._offsets[name]:  # file replaced: start over
            self._offsets[name], self._partial[name] = 0, ""
        if size == self._offsets[name]:
            return []
        with open(f, encoding="utf-8", errors="replace") as fh:
            fh.seek(self._offsets[name])
            chunk = fh.read()
            self._offsets[name] = fh.tell()
        text = self._partial[name] + chunk
        lines = text.split("\n")
        self._partial[name] = lines.pop()  # an incomplete last line waits for the next poll
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def poll(self) -> bool:
        """Read whatever is new; True when the feed changed."""
        changed = False
        if not self.config and (self.path / "config.json").exists():
            try:
                self.config = json.loads((self.path / "config.json").read_text())
                self.feed.update(
                    dataset=str(self.config.get("dataset", "")),
                    model=str(self.config.get("model", "")),
                    algo=str(self.config.get("algo") or ""),
                    views=tuple(self.config.get("views") or ()),
                    prior=dict(self.config.get("prior") or {}),
                    loss="" if self.config.get("algo") == "vae" else str(self.config.get("loss", "")),
                    total_steps=int(self.config.get("steps") or 0),
                    run_dir=str(self.path),
                    state="running",
                )
                changed = True
            except (OSError, json.JSONDecodeError, ValueError):
                pass
        # After a kill and a resume from an older checkpoint, steps repeat: keep the chart monotonic.
        rows = [r for r in self._new_lines("metrics.jsonl") if int(r.get("step", 0)) > self._last_step]
        if rows:
            self._last_step = int(rows[-1].get("step", 0))
            steps = np.array([r.get("step", 0) for r in rows], np.int64)
            # Metrics by name: whatever the rows hold (an algorithm's, or a script's through ganterm.Run).
            names: dict[str, None] = {}
            for r in rows:
                names.update((k, None) for k in r if k not in ("step", "time"))
            columns = tuple(names)
            values = np.array(
                [[np.nan if r.get(c) is None else float(r[c]) for c in columns] for r in rows], np.float32
            )
            self.feed.publish(steps, values, columns, step=int(steps[-1]))
            if not self._layout_set:
                self.feed.update(layout=layout_of(self.config, self.feed_columns()))
                self._layout_set = bool(self.config)
            self._last_time = rows[-1].get("time")
            changed = True
        for ev in self._new_lines("events.jsonl"):
            data = {k: v for k, v in ev.items() if k not in ("step", "time", "kind", "message")}
            self.feed.event(
                str(ev.get("kind", "info")), str(ev.get("message", "")), int(ev.get("step", 0)), **data
            )
            if ev.get("kind") == "swap" and "to" in ev:
                self.feed.update(loss=str(ev["to"]))
            if ev.get("kind") == "end":
                self.feed.update(state="finished")
            changed = True
        changed |= self._poll_checkpoint()
        changed |= self._poll_sample_png()
        return changed

    def _poll_sample_png(self) -> bool:
        """The newest recorded grid (samples/step_*.png) as one frame: a script logging through
        ganterm.Run has no checkpoint to sample from, and a ganterm run records grids more often than
        it checkpoints."""
        try:
            newest = max(self.path.glob("samples/step_*.png"), default=None)
        except OSError:
            return False
        if newest is None or newest.name == self._png_seen:
            return False
        try:
            step = int(newest.stem.split("_")[1])
        except (IndexError, ValueError):
            return False
        if step <= self._frame_step:
            self._png_seen = newest.name
            return False
        try:
            from PIL import Image

            with Image.open(newest) as im:
                im.load()
                arr = np.asarray(im.convert("L" if im.mode in ("L", "1", "I", "P") else "RGB"))
        except (OSError, ValueError):
            return False  # being written: the next poll reads it
        self._png_seen = newest.name
        self._frame_step = step
        data = arr[None, :, :, None] if arr.ndim == 2 else arr[None]
        self.feed.publish_samples(SampleFrame(step, "images", data, note="recorded grid"))
        return True

    def feed_columns(self) -> tuple[str, ...]:
        return tuple(self.feed.snapshot.metrics)

    def _poll_checkpoint(self) -> bool:
        from ganterm.errors import CheckpointError
        from ganterm.training.checkpoint import checkpoint_files, load_checkpoint

        for p in reversed(checkpoint_files(self.path)):
            try:
                key = (str(p), p.stat().st_mtime)
            except OSError:
                continue
            if key == self._ckpt_seen:
                return False
            try:
                ckpt = load_checkpoint(p)
            except CheckpointError:
                continue  # a file mid-rename or damaged: try the previous one
            self._ckpt_seen = key
            self.checkpoint, self.checkpoint_path = ckpt, p
            from ganterm.errors import GantermError
            from ganterm.training.sampling import Sampler

            try:
                frame = Sampler.from_checkpoint(ckpt).fixed()
            except GantermError:  # networks ganterm cannot rebuild (ganterm.fit): samples/*.png still show
                return True
            if frame.step >= self._frame_step:
                self._frame_step = frame.step
                self.feed.publish_samples(frame)
            return True
        return False
