"""`ganterm.Run`: log any training loop into a run directory that `ganterm view RUN_DIR` follows and steers.

    run = ganterm.Run("runs/my-gan", config={"lr": 2e-4})
    for step in range(steps):
        ...
        run.log(step, d_loss=d_loss, g_loss=g_loss)      # floats, numpy scalars or 0-d tensors
        if step % 500 == 0:
            run.images(step, fake)                       # N x C x H x W or N x H x W x C
        if run.should_stop():                            # `z` in the viewer
            break
        run.wait_while_paused()                          # `p` in the viewer
    run.close()

The directory is the one ganterm's own trainer writes (config.json, metrics.jsonl, events.jsonl, samples/),
plus the steering channel of `ganterm.rundir.commands` (commands/, status.json).

Logging is budgeted at under 1 % of a millisecond step. Metric rows wait in memory and are written
together at most every `flush_interval` seconds (or `flush_rows` rows), on close and at interpreter exit;
nothing is fsynced. A CPU tensor becomes a float at once (cheaper than holding it); a GPU tensor is only
detached, and all of them are copied to the host in one transfer per flush, so logging never adds a
device sync per step. Values are read at flush time for those: do not log a GPU tensor you later modify
in place. torch is never imported here; tensors are recognised by their methods.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ganterm.rundir.commands import (
    BUILTIN_COMMANDS,
    BUILTIN_NAMES,
    ChannelCommand,
    CommandReceiver,
    convert_arg,
    exposure_warnings,
    write_status,
)
from ganterm.rundir.writer import open_for_append  # one torn-line rule for every writer

FLUSH_INTERVAL_S = 1.0
FLUSH_ROWS = 5000
COMMAND_POLL_S = 0.2  # how often should_stop() / commands() look at commands/ (a directory listing)
HEARTBEAT_S = 2.0  # status.json is rewritten at least this often while the script calls into Run
MAX_IMAGES = 64
RESERVED = ("step", "time")  # a row's own fields
_TENSOR_TYPES: set[type] = set()  # torch.Tensor and subclasses seen so far

_ARG_TYPES: dict[Any, str] = {float: "float", int: "int", bool: "bool", str: "str", None: None}


def _to_bool(value: Any) -> bool:
    return bool(convert_arg("bool", value))  # bool("false") would be True


class Run:
    """One training run's logger and steering endpoint. Use from one thread (the training loop's)."""

    def __init__(
        self,
        out_dir: str | Path,
        config: dict[str, Any] | None = None,
        *,
        flush_interval: float = FLUSH_INTERVAL_S,
        flush_rows: int = FLUSH_ROWS,
        poll_interval: float = COMMAND_POLL_S,
    ) -> None:
        """`config` goes to config.json; its "dataset", "model", "loss", "steps" fill the viewer's header."""
        self.path = Path(out_dir)
        self.samples = self.path / "samples"
        self.checkpoints = self.path / "checkpoints"
        for d in (self.path, self.samples, self.checkpoints):
            d.mkdir(parents=True, exist_ok=True)
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.poll_interval = poll_interval
        self.step = 0
        self.paused = False
        self.stopped = False  # a "stop" command was received
        self.closed = False
        self._rows: list[tuple[int, float, dict[str, Any]]] = []
        self._has_deferred = False  # some buffered value is a (GPU) tensor still to be copied
        self._templates: dict[tuple[str, ...], str] = {}
        self._flushed_at = time.time()
        self._polled_at = -math.inf
        self._beat_at = -math.inf
        self._lock = threading.Lock()  # close() at exit may race a flush from another thread
        self._registered: dict[str, dict[str, Any]] = {}
        self._pending: list[ChannelCommand] = []
        self.started = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        record = dict(config or {})
        record.setdefault("source", "ganterm.Run")
        record.setdefault("started", self.started)
        record.setdefault("argv", " ".join(sys.argv))
        self._write_json(self.path / "config.json", record)
        self._metrics = open_for_append(self.path / "metrics.jsonl")
        self._events = open_for_append(self.path / "events.jsonl")
        self._receiver = CommandReceiver(self.path)
        atexit.register(self.close)
        self.event("start", f"started ({record['source']}, pid {os.getpid()})", pid=os.getpid())
        for line in exposure_warnings(self.path):
            self.event("warning", line)
        self._write_status()

    # -- logging -------------------------------------------------------------------------------------
    def log(self, step: int, /, **metrics: Any) -> None:
        """One row of metrics at `step`: any names; floats, ints, numpy scalars or one-element tensors."""
        now = time.time()
        if type(step) is not int:
            step = int(step)  # a numpy integer or a 0-d tensor
        if "time" in metrics or "step" in metrics:
            raise ValueError("run.log: 'step' and 'time' are the row's own fields; name the metric otherwise")
        for key, value in metrics.items():
            kind = type(value)
            if kind is not float and kind is not int:
                metrics[key] = self._scalar(key, value)
        self._rows.append((step, now, metrics))
        self.step = step
        if len(self._rows) >= self.flush_rows or now - self._flushed_at >= self.flush_interval:
            self.flush()

    def _scalar(self, key: str, value: Any) -> Any:
        kind = type(value)
        if kind in _TENSOR_TYPES or (hasattr(value, "detach") and hasattr(value, "is_cpu")):
            _TENSOR_TYPES.add(kind)  # a torch tensor, recognised without importing torch
            if value.is_cpu:
                try:  # .item() of a tensor that needs grad warns; detaching first is what it asks
                    return (value.detach() if value.requires_grad else value).item()
                except RuntimeError:
                    raise ValueError(f"run.log: {key} has shape {tuple(value.shape)}; log a scalar") from None
            if value.numel() != 1:
                raise ValueError(f"run.log: {key} has shape {tuple(value.shape)}; log a scalar")
            self._has_deferred = True
            return value.detach()  # copied with the rest of its flush: no device sync per step
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"run.log: {key}={value!r} is not a number") from None

    def flush(self) -> None:
        """Write the buffered metric rows now (also done on close, at exit and every flush_interval)."""
        with self._lock:
            rows, self._rows = self._rows, []
            self._flushed_at = time.time()
            if not rows or self.closed:
                return
            if self._has_deferred:
                self._has_deferred = False
                _copy_tensors_to_host(rows)
            lines = [self._line(step, t, m) for step, t, m in rows]
            try:
                self._metrics.write("\n".join(lines) + "\n")
                self._metrics.flush()
            except OSError as e:  # disk full, directory gone: the script goes on, the viewer is told
                self._warn_io("metrics", e)
        if time.monotonic() - self._beat_at >= HEARTBEAT_S:
            self._write_status()  # the heartbeat of a script that logs but never polls commands

    def _line(self, step: int, t: float, metrics: dict[str, Any]) -> str:
        keys = tuple(metrics)
        values = tuple(metrics.values())
        template = self._templates.get(keys)
        if template is None:
            template = self._templates[keys] = _template(keys)
        try:
            if math.isfinite(sum(values)):  # NaN or inf anywhere makes the sum so (a None raises)
                return template % (step, t, *values)
        except TypeError:
            pass
        rec: dict[str, Any] = {"step": int(step), "time": round(t, 3)}
        rec.update({k: _json_value(v) for k, v in metrics.items() if k not in RESERVED})
        return json.dumps(rec)

    def images(self, step: int, batch: Any, *, max_images: int = MAX_IMAGES) -> Path | None:
        """A batch of images as samples/step_XXXXXXX.png, tiled as ganterm's trainer tiles its samples.

        `batch`: a tensor or array, N x C x H x W or N x H x W x C (C 1 or 3), or N x H x W; uint8, or
        floats in [0, 1] or [-1, 1] (the range is read off the values: anything below 0 means [-1, 1]).
        """
        from PIL import Image

        from ganterm.rundir.writer import tile_images

        imgs = to_uint8_nhwc(batch, max_images)
        mosaic = tile_images(imgs, max(1, math.isqrt(len(imgs))))
        out = self.samples / f"step_{int(step):07d}.png"
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            # Level 1: a grid of noisy samples compresses barely better at 6, which takes far longer.
            img = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
            img.save(tmp, format="PNG", compress_level=1)
            os.replace(tmp, out)  # a viewer never opens half a PNG
        except OSError as e:
            self._warn_io("samples", e)
            return None
        return out

    def event(self, kind: str, message: str, /, **data: Any) -> None:
        """A line in the viewer's event log, written at once (events are rare; the viewer waits on them)."""
        rec: dict[str, Any] = {"step": int(self.step), "time": round(time.time(), 3), "kind": kind}
        rec["message"] = message
        rec.update({k: _json_value(v) for k, v in data.items() if k not in ("step", "time", "kind")})
        try:
            self._events.write(json.dumps(rec, default=str) + "\n")
            self._events.flush()
        except (OSError, ValueError):  # ValueError: the file was closed
            pass

    def _warn_io(self, what: str, e: OSError) -> None:
        self.event("warning", f"could not write {what}: {e.strerror or e}")

    # -- steering ------------------------------------------------------------------------------------
    def command(
        self,
        name: str,
        help: str = "",
        arg: type | Callable[[Any], Any] | None = None,
        on: Callable[..., Any] | None = None,
    ) -> None:
        """Accept `name` from the viewer (`:` then `name value`); `arg` converts its value (float, int, ...).

        With `on`, the callback is called with the converted value (no argument when `arg` is None) as
        soon as the command arrives; it is returned by commands() either way.
        """
        if name in BUILTIN_NAMES or not name or " " in name:
            raise ValueError(f"cannot register {name!r}: built-in or not a single word")
        convert = _to_bool if arg is bool else arg
        label = _ARG_TYPES.get(arg, getattr(arg, "__name__", "value"))
        self._registered[name] = {"help": help, "arg": label, "convert": convert, "on": on}
        self._write_status()

    def commands(self) -> list[ChannelCommand]:
        """Commands received since the last call, oldest first (built-ins too, already applied)."""
        self._poll(force=True)
        out, self._pending = self._pending, []
        return out

    def should_stop(self) -> bool:
        """True once "stop" was received (looks for new commands at most every poll_interval)."""
        self._poll()
        return self.stopped

    def wait_while_paused(self, poll: float = 0.2) -> None:
        """Block while paused; returns on "resume" or "stop" (check should_stop() after)."""
        self._poll()
        while self.paused and not self.stopped and not self.closed:
            time.sleep(poll)
            self._poll(force=True)

    def _poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._polled_at < self.poll_interval:
            return
        self._polled_at = now
        for cmd in self._receiver.poll():
            self._apply(cmd)
        for line in self._receiver.take_warnings():  # another user's command file, a link: ignored
            self.event("warning", line)
        if now - self._beat_at >= HEARTBEAT_S:
            self._write_status()

    def _apply(self, cmd: ChannelCommand) -> None:
        name = cmd.name
        if name in ("pause", "resume", "toggle_pause"):
            want = {"pause": True, "resume": False}.get(name, not self.paused)
            if want != self.paused:
                self.paused = want
                word = "paused" if want else "resumed"
                self.event("pause" if want else "resume", f"{word} at step {self.step}")
                self._write_status()
        elif name == "stop":
            if not self.stopped:
                self.stopped = True
                self.event("stop", f"stop requested at step {self.step}")
                self._write_status()
        elif name == "checkpoint":
            self.event("command", "checkpoint requested", name=name)
        elif name in self._registered:
            spec = self._registered[name]
            try:
                value = cmd.arg if spec["convert"] is None else spec["convert"](cmd.arg)
            except (TypeError, ValueError) as e:
                self.event("warning", f"command {name}: bad argument {cmd.arg!r} ({e})", name=name)
                return
            cmd = ChannelCommand(name, {**cmd.args, "value": value}, cmd.time, cmd.id)
            shown = f" {value}" if spec["convert"] is not None else ""
            self.event("command", f"{name}{shown}", name=name, value=value)
            if spec["on"] is not None:
                if spec["convert"] is None:
                    spec["on"]()
                else:
                    spec["on"](value)
        else:
            self.event("warning", f"unknown command {name!r} ignored", name=name)
            return
        self._pending.append(cmd)

    def _write_status(self, state: str | None = None) -> None:
        self._beat_at = time.monotonic()
        if state is None:
            state = "stopping" if self.stopped else "paused" if self.paused else "running"
        registered = [{"name": n, "help": s["help"], "arg": s["arg"]} for n, s in self._registered.items()]
        status = {
            "source": "ganterm.Run",
            "state": state,
            "step": int(self.step),
            "started": self.started,
            "commands": [*BUILTIN_COMMANDS, *registered],
        }
        with contextlib.suppress(OSError):
            write_status(self.path, status)

    # -- lifetime ------------------------------------------------------------------------------------
    def close(self, state: str | None = None) -> None:
        """Flush, write the end event and the last status. Safe to call twice (atexit calls it too)."""
        if self.closed:
            return
        self.flush()
        state = state or ("stopped" if self.stopped else "finished")
        self.event("end", f"{state} at step {self.step}", reason=state)
        self._write_status(state)
        self.closed = True
        for f in (self._metrics, self._events):
            with contextlib.suppress(OSError):
                f.close()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            self.event("error", f"{exc_type.__name__}: {exc}")
            self.close("error")
        else:
            self.close("stopped" if exc_type is not None or self.stopped else None)

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, step={self.step}, host={socket.gethostname()!r})"


# -- helpers -----------------------------------------------------------------------------------------
def _template(keys: tuple[str, ...]) -> str:
    """'{"step": %d, "time": %.3f, "d_loss": %.9g, ...}': one % per row instead of json.dumps (3x faster).

    %.9g round-trips a float32 exactly and is valid JSON for every finite number.
    """
    parts = ['{"step": %d, "time": %.3f']
    for k in keys:
        parts.append(", " + json.dumps(k).replace("%", "%%") + ": %.9g")
    return "".join(parts) + "}"


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; null reads back as NaN
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    if isinstance(v, np.generic):
        return _json_value(v.item())
    return str(v)


def _copy_tensors_to_host(rows: list[tuple[int, float, dict[str, Any]]]) -> None:
    """Replace the (GPU) tensors of `rows` by floats: one stacked copy per device and dtype."""
    import torch  # the caller logged tensors, so torch is already imported

    groups: dict[tuple[Any, Any], list[tuple[dict[str, Any], str]]] = {}
    for _, _, metrics in rows:
        for key, value in metrics.items():
            if isinstance(value, torch.Tensor):
                groups.setdefault((value.device, value.dtype), []).append((metrics, key))
    for places in groups.values():
        stacked = torch.stack([m[k].reshape(()) for m, k in places]).float().cpu().tolist()
        for (m, k), v in zip(places, stacked, strict=True):
            m[k] = v


def to_uint8_nhwc(batch: Any, limit: int | None = None) -> np.ndarray:
    """Images in any common layout and range -> (N, H, W, C) uint8 with C in {1, 3}; the first `limit`."""
    if limit is not None and len(getattr(batch, "shape", ())) >= 3:
        batch = batch[:limit]  # before the copy to the host: a batch of 4096 would be copied for nothing
    if hasattr(batch, "detach") and hasattr(batch, "cpu"):  # torch, without importing it
        t = batch.detach().cpu()
        arr = (t.float() if t.is_floating_point() else t).numpy()
    else:
        arr = np.asarray(batch)
    if arr.ndim == 2:
        arr = arr[None, :, :, None]  # one grey image
    elif arr.ndim == 3:
        arr = arr[..., None]  # N x H x W grey
    elif arr.ndim != 4:
        raise ValueError(f"images: expected N x C x H x W or N x H x W x C, got shape {arr.shape}")
    if arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)  # NCHW, PyTorch's layout
    elif arr.shape[-1] not in (1, 3):
        raise ValueError(f"images: no channel axis of 1 or 3 in shape {arr.shape} (NCHW or NHWC)")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.floating):
        x = np.nan_to_num(arr.astype(np.float32), nan=0.0)
        if x.size and float(x.min()) < 0:
            x = (x + 1) / 2  # [-1, 1], a tanh generator's range
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)  # other integers: already 0-255
