"""System readings for the system pane, the headless line and RUN/system.jsonl: CPU, memory, GPUs.

A `SystemSampler` reads at most once a second on its own daemon thread, so neither the trainer nor the
UI thread ever waits for psutil or NVML; readers take the latest `SystemReading` (an immutable object,
swapped under a lock). GPUs come from NVML (`nvidia-ml-py`, imported lazily, optional): no library, no
driver, or an NVML error just means no GPU rows. No torch, no Textual here: the trainer never imports
this module, the CLI starts the sampler beside it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

from ganterm.channel.text import shown
from ganterm.rundir.untrusted import open_regular

SYSTEM_FILE = "system.jsonl"
SAMPLE_EVERY_S = 1.0  # the pane's rate; more would only cost GIL time
RECORD_EVERY_S = 10.0  # system.jsonl's rate: a day of training is ~9,000 short lines
TAIL_BYTES = 64 * 1024  # enough for the last line of any system.jsonl (a line per GPU is ~150 bytes)

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str
    util_pct: float
    mem_used: int
    mem_total: int
    temp_c: float | None = None  # some boards report neither temperature nor power
    power_w: float | None = None


@dataclass(frozen=True)
class SystemReading:
    time: float  # wall clock (time.time()), so recorded lines line up with metrics.jsonl
    cpu_proc: float  # this process, percent of one core (above 100 on several cores)
    cpu_machine: float  # all cores, 0-100
    rss_bytes: int
    mem_used: int  # total - available: what other programs can no longer get
    mem_total: int
    gpus: tuple[GpuReading, ...] = ()
    step: int | None = None  # the training step, on readings read back from system.jsonl

    def to_json(self, step: int | None = None) -> dict[str, Any]:
        """One line of system.jsonl."""
        return {
            "time": round(self.time, 3),
            "step": step if step is not None else self.step,
            "cpu_proc": round(self.cpu_proc, 1),
            "cpu_machine": round(self.cpu_machine, 1),
            "rss_bytes": self.rss_bytes,
            "mem_used": self.mem_used,
            "mem_total": self.mem_total,
            "gpus": [asdict(g) for g in self.gpus],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SystemReading:
        """A recorded line back; raises KeyError, TypeError or ValueError on a line that is not one."""
        gpus = tuple(
            GpuReading(
                index=int(g["index"]),
                name=shown(g.get("name", ""), 60),  # drawn in the system pane: text, not escapes
                util_pct=float(g["util_pct"]),
                mem_used=int(g["mem_used"]),
                mem_total=int(g["mem_total"]),
                temp_c=None if g.get("temp_c") is None else float(g["temp_c"]),
                power_w=None if g.get("power_w") is None else float(g["power_w"]),
            )
            for g in obj.get("gpus") or []
        )
        step = obj.get("step")
        return cls(
            time=float(obj["time"]),
            cpu_proc=float(obj["cpu_proc"]),
            cpu_machine=float(obj["cpu_machine"]),
            rss_bytes=int(obj["rss_bytes"]),
            mem_used=int(obj["mem_used"]),
            mem_total=int(obj["mem_total"]),
            gpus=gpus,
            step=None if step is None else int(step),
        )


class ReadingSource(Protocol):
    """What the pane and the headless line poll: a live sampler or a recorded run's tail."""

    def latest(self) -> SystemReading | None: ...


# -- formatting (shared by the pane and the headless line) ---------------------------------------
def format_gib(n: int) -> str:
    """1.2 GiB; under 1 GiB in MiB (a small process reads 840 MiB, not 0.8 GiB)."""
    if n < GIB:
        return f"{n / MIB:.0f} MiB"
    return f"{n / GIB:.1f} GiB"


def format_used_total(used: int, total: int) -> str:
    """10.1/24 GiB: the total needs no decimal once it has two digits."""
    t = total / GIB
    return f"{used / GIB:.1f}/{t:.0f} GiB" if t >= 10 else f"{used / GIB:.1f}/{t:.1f} GiB"


def short_gpu_name(name: str) -> str:
    for prefix in ("NVIDIA ", "Tesla "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def gpu_brief(reading: SystemReading | None) -> str:
    """`GPU 97% 40.1/139 GiB` for the headless line ('' without GPUs); several: `GPU0 … · GPU1 …`."""
    if reading is None or not reading.gpus:
        return ""
    one = len(reading.gpus) == 1
    return " · ".join(
        f"GPU{'' if one else g.index} {g.util_pct:.0f}% {format_used_total(g.mem_used, g.mem_total)}"
        for g in reading.gpus
    )


# -- NVML ----------------------------------------------------------------------------------------
def load_nvml() -> Any | None:
    """The `pynvml` module of nvidia-ml-py, or None when it is not installed."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except Exception:  # ImportError, or a broken install: either way no GPU rows
        return None
    return pynvml


def visible_indices(env: Mapping[str, str] | None = None) -> set[int] | None:
    """NVML indices CUDA_VISIBLE_DEVICES allows (None: all). UUIDs or MIG names: all, since mapping
    them would cost NVML calls per device and a wrong filter would hide the GPU that trains."""
    value = (env if env is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if value is None or not value.strip():
        return None
    try:
        return {int(p) for p in value.split(",") if p.strip()}
    except ValueError:
        return None


class NvmlGpus:
    """Per-GPU figures through NVML; `read()` returns () whenever NVML cannot answer."""

    def __init__(self, nvml: Any | None, only: set[int] | None = None) -> None:
        self.nvml = nvml
        self.handles: list[tuple[int, Any, str]] = []
        self.ok = False
        if nvml is None:
            return
        try:
            nvml.nvmlInit()
        except Exception:  # no driver, no GPU, library without libnvidia-ml.so
            self.nvml = None
            return
        self.ok = True
        try:
            for i in range(int(nvml.nvmlDeviceGetCount())):
                if only is not None and i not in only:
                    continue
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                name = nvml.nvmlDeviceGetName(handle)
                if isinstance(name, bytes):  # older bindings return bytes
                    name = name.decode(errors="replace")
                self.handles.append((i, handle, short_gpu_name(str(name))))
        except Exception:
            self.handles = []

    def read(self) -> tuple[GpuReading, ...]:
        nvml = self.nvml
        if nvml is None or not self.handles:
            return ()
        out = []
        temp_kind = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        try:
            for index, handle, name in self.handles:
                util = nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = nvml.nvmlDeviceGetMemoryInfo(handle)
                out.append(
                    GpuReading(
                        index=index,
                        name=name,
                        util_pct=float(util.gpu),
                        mem_used=int(mem.used),
                        mem_total=int(mem.total),
                        temp_c=_optional(lambda h=handle: float(nvml.nvmlDeviceGetTemperature(h, temp_kind))),
                        power_w=_optional(lambda h=handle: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
                    )
                )
        except Exception:  # a GPU fell off the bus, the driver reloaded: no GPU rows this time
            return ()
        return tuple(out)

    def close(self) -> None:
        if self.ok and self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()
        self.ok = False
        self.nvml = None


def _optional(read: Callable[[], float]) -> float | None:
    """Temperature and power are not supported on every board (NVMLError_NotSupported): leave them out."""
    try:
        return read()
    except Exception:
        return None


# -- recording -----------------------------------------------------------------------------------
class SystemRecorder:
    """Appends a reading to RUN/system.jsonl every `every` seconds, once the run directory exists.

    Called from the sampler's thread. The run directory is known only after the trainer's setup, so
    `run_dir()` is asked at each reading until it answers; a write that fails (disk full, directory
    removed) is skipped and tried again next time: training must not stop for it.
    """

    def __init__(
        self,
        run_dir: Callable[[], str | Path | None],
        step: Callable[[], int | None] = lambda: None,
        every: float = RECORD_EVERY_S,
    ) -> None:
        self.run_dir = run_dir
        self.step = step
        self.every = every
        self.path: Path | None = None
        self.lines = 0
        self._last = -float("inf")

    def __call__(self, reading: SystemReading) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        if self.path is None:
            where = self.run_dir()
            if not where:
                return  # still loading torch or the data: ask again at the next reading
            self.path = Path(where) / SYSTEM_FILE
        line = json.dumps(reading.to_json(self.step()), separators=(",", ":")) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)  # one write per line: a reader sees a whole line or a torn last one
        except OSError:
            return
        self._last = now
        self.lines += 1


# -- the sampler ---------------------------------------------------------------------------------
class SystemSampler:
    """Reads CPU, memory and GPUs every `interval` seconds on its own daemon thread."""

    def __init__(
        self,
        interval: float = SAMPLE_EVERY_S,
        *,
        nvml: Any | Callable[[], Any | None] | None = load_nvml,
        recorder: Callable[[SystemReading], None] | None = None,
        process: psutil.Process | None = None,
        gpu_filter: set[int] | None = None,
    ) -> None:
        """`nvml`: the pynvml module, None for no GPUs, or a loader called on the sampler's thread (the
        default imports nvidia-ml-py there, so the import costs the caller nothing)."""
        self.interval = max(interval, 0.0)
        self.recorder = recorder
        self._nvml = nvml
        self._gpu_filter = gpu_filter if gpu_filter is not None else visible_indices()
        self._process = process or psutil.Process()
        self._gpus: NvmlGpus | None = None
        self._lock = threading.Lock()
        self._latest: SystemReading | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ganterm-sysmon", daemon=True)
        self.samples = 0

    def latest(self) -> SystemReading | None:
        with self._lock:
            return self._latest

    def start(self) -> SystemSampler:
        self._thread.start()
        return self

    def record_run(self, feed: Any, every: float = RECORD_EVERY_S) -> SystemRecorder:
        """Record into the run directory a Feed names (`snapshot.run_dir`, set once the trainer has made
        it), with the feed's step. The trainer itself never sees this module."""
        self.recorder = recorder = SystemRecorder(
            lambda: feed.snapshot.run_dir or None, lambda: feed.snapshot.step, every
        )
        return recorder

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> SystemSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _open_gpus(self) -> NvmlGpus:
        nvml = self._nvml
        if callable(nvml) and not hasattr(nvml, "nvmlInit"):  # a loader, not the module itself
            try:
                nvml = nvml()
            except Exception:
                nvml = None
        return NvmlGpus(nvml, self._gpu_filter)

    def sample(self) -> SystemReading:
        """One reading now (the thread's work; tests call it directly)."""
        if self._gpus is None:
            self._gpus = self._open_gpus()
        proc = self._process
        with proc.oneshot():
            cpu_proc = proc.cpu_percent(None)  # since the previous call: the first is 0.0
            rss = proc.memory_info().rss
        vm = psutil.virtual_memory()
        return SystemReading(
            time=time.time(),
            cpu_proc=cpu_proc,
            cpu_machine=psutil.cpu_percent(None),
            rss_bytes=int(rss),
            mem_used=int(vm.total - vm.available),
            mem_total=int(vm.total),
            gpus=self._gpus.read(),
        )

    def _run(self) -> None:
        try:
            self.sample()  # primes cpu_percent, whose first answer is meaningless, and opens NVML
            while not self._stop.wait(self.interval):
                try:
                    reading = self.sample()
                except Exception:  # psutil can fail on odd systems; the pane just stops changing
                    continue
                with self._lock:
                    self._latest = reading
                self.samples += 1
                if self.recorder is not None:
                    with contextlib.suppress(Exception):  # a recorder bug must not stop the pane
                        self.recorder(reading)
        except Exception:
            pass  # never a traceback on the terminal for a monitor's monitor
        finally:
            if self._gpus is not None:
                self._gpus.close()


# -- reading a recorded run back ------------------------------------------------------------------
def read_last_reading(path: str | Path, tail_bytes: int = TAIL_BYTES) -> SystemReading | None:
    """The newest complete reading in a system.jsonl, or None; a torn, foreign or implausible line (a
    run directory may come from anyone) is skipped. Only a regular file is read (never a FIFO)."""
    try:
        with open_regular(path) as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - tail_bytes, 0))
            chunk = f.read(tail_bytes)
    except OSError:
        return None
    lines: Sequence[bytes] = chunk.split(b"\n")
    if size > tail_bytes:
        lines = lines[1:]  # the first line of the chunk may start mid-line
    for raw in reversed(lines):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            if isinstance(obj, dict):
                reading = SystemReading.from_json(obj)
                if _plausible(reading):
                    return reading
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            continue
    return None


def _plausible(r: SystemReading) -> bool:
    """Numbers the pane can draw: finite, not negative, a time strftime takes, a handful of GPUs."""
    numbers = [r.cpu_proc, r.cpu_machine, r.rss_bytes, r.mem_used, r.mem_total, r.step or 0]
    for g in r.gpus:
        numbers += [g.util_pct, g.mem_used, g.mem_total, g.temp_c or 0, g.power_w or 0, g.index]
    return (
        0 <= r.time < 1e11 and len(r.gpus) <= 64 and all(math.isfinite(v) and 0 <= v < 2**62 for v in numbers)
    )


class SystemLogTail:
    """A recorded run's newest reading, for `ganterm view RUN_DIR`; `poll()` runs in the follow thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stat: tuple[int, int] | None = None
        self._latest: SystemReading | None = None
        self._lock = threading.Lock()

    def latest(self) -> SystemReading | None:
        with self._lock:
            return self._latest

    def poll(self) -> SystemReading | None:
        try:
            st = self.path.stat()
        except OSError:
            return self.latest()
        key = (st.st_size, st.st_mtime_ns)
        if key != self._stat:  # an idle poll is one stat()
            self._stat = key
            reading = read_last_reading(self.path)
            if reading is not None:
                with self._lock:
                    self._latest = reading
        return self.latest()
