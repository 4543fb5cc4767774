"""The run directory's writer: config.json, metrics.jsonl, events.jsonl, samples/, checkpoints/.

The trainer writes through it; `ganterm view RUN_DIR` follows what it writes (rundir/reader.py).
Everything appended is line-oriented JSON so a reader can tail it while it grows.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

from ganterm.channel.feed import Event, SampleFrame
from ganterm.channel.history import METRIC_COLUMNS
from ganterm.rundir.commands import pid_alive


def default_run_dir(dataset: str, model: str, root: str | Path = "runs") -> Path:
    """root/NAME-MODEL-TIME; a folder's NAME is its last part, so an absolute path never puts the run
    beside the data (a tree that may be shared or read-only)."""
    name = dataset.split(":")[0] if ":" in dataset else dataset
    if os.sep in name or name in (".", ".."):
        name = Path(os.path.abspath(name)).name or "folder"
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


def open_for_append(path: Path) -> IO[str]:
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
        if pid.isdigit() and not pid_alive(int(pid)):
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
        _remove_stale_temps(self.samples)
        self._open_logs()

    def _write_config(self) -> None:
        cfg_file = self.path / "config.json"
        tmp = cfg_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._config, indent=2, default=str) + "\n")
        os.replace(tmp, cfg_file)

    def _open_logs(self) -> None:
        self._metrics = open_for_append(self.path / "metrics.jsonl")
        self._events = open_for_append(self.path / "events.jsonl")

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
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # a follower never sees half a PNG
        try:
            img.save(tmp, format="PNG")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"ckpt_{step:07d}.pt"

    def close(self) -> None:
        for f in (self._metrics, self._events):
            with contextlib.suppress(OSError):
                f.close()
