"""Headless progress: a compact rich line on a terminal, plain periodic lines in a log file.

It only reads the Feed (a few times a second) so the trainer never waits for it. A run that fails is
said once, by the CLI on stderr: the reporter prints no "error" event and no progress line for a run
that never took a step.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from ganterm.channel.feed import Feed, Snapshot

if TYPE_CHECKING:  # psutil is imported only where a sampler runs
    from ganterm.sysmon import ReadingSource, SystemReading

_SHOW_EVENTS = (
    "start",
    "checkpoint",
    "swap",
    "alert",
    "warning",
    "rollback",
    "pause",
    "resume",
    "end",
    "quality",
    "milestone",
)


def format_duration(seconds: float | None) -> str:
    """12 -> '0:12', 3725 -> '1:02:05'; unknown -> '--' (shared by the headless line and the TUI header)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def headline_text(snap: Snapshot) -> str:
    """The run's headline metrics by its layout: "D 0.6931  G 0.6931  D(x) 0.500  D(G(z)) 0.500" for a
    GAN, "ELBO -98.12  recon 90.01  KL 8.11" for a VAE."""
    return "  ".join(
        f"{h.label} {format(snap.metric(h.name), h.fmt)}"
        for h in snap.layout.headline
        if h.name in snap.metrics
    )


def status_line(snap: Snapshot, system: SystemReading | None = None) -> str:
    """The progress line; with a system reading that has GPUs, `GPU 97% 40.1/139 GiB` at its end."""
    pct = 100.0 * snap.step / snap.total_steps if snap.total_steps else 0.0
    line = (
        f"step {snap.step}/{snap.total_steps} ({pct:.0f}%)  {headline_text(snap)}  "
        f"{snap.steps_per_s:.1f} steps/s  ETA {format_duration(snap.eta_s)}"
    )
    if system is not None and system.gpus:
        from ganterm.sysmon import gpu_brief

        line += f"  {gpu_brief(system)}"
    return line


def _trained(snap: Snapshot) -> bool:
    """Whether the final progress line says anything: not for a run that failed before its first step."""
    return bool(snap.step) or snap.state in ("finished", "stopped")


def _silence(stream: TextIO) -> None:
    """Point a dead stream's descriptor at /dev/null, so no later write or exit-time flush fails."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class HeadlessReporter:
    def __init__(
        self,
        feed: Feed,
        stream: TextIO | None = None,
        interval: float = 0.25,
        plain_every: float = 10.0,
        system: ReadingSource | None = None,
    ) -> None:
        self.feed = feed
        self.system = system  # a SystemSampler: GPU figures on the line when there are GPUs
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.interval = interval
        self.plain_every = plain_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ganterm-report", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            if self.tty:
                self._run_rich()
            else:
                self._run_plain()
        except OSError:
            # The terminal or pipe is gone (SSH dropped, `| head` quit): training goes on, unreported.
            _silence(self.stream)

    def _reading(self) -> SystemReading | None:
        return self.system.latest() if self.system is not None else None

    def _print_events(self, since: int, printer) -> int:
        update = self.feed.read(since)
        for ev in update.events:
            if ev.kind in _SHOW_EVENTS:
                printer(f"[{ev.kind}] step {ev.step}: {ev.message}")
        return update.version

    def _run_plain(self) -> None:
        version, last_line = 0, 0.0

        def out(line: str) -> None:
            self.stream.write(line + "\n")
            self.stream.flush()

        while True:
            stopping = self._stop.wait(self.interval)
            version = self._print_events(version, out)
            snap = self.feed.snapshot
            now = time.monotonic()
            if snap.step and snap.state in ("running", "paused") and now - last_line >= self.plain_every:
                out(status_line(snap, self._reading()))
                last_line = now
            if stopping:
                if _trained(self.feed.snapshot):
                    out(status_line(self.feed.snapshot, self._reading()))
                return

    def _run_rich(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        console = Console(file=self.stream)
        columns = (
            TextColumn("[bold]{task.fields[state]}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[line]}"),
        )
        version = 0
        with Progress(*columns, console=console, transient=False, refresh_per_second=4) as progress:
            task = progress.add_task("train", total=None, state="starting", line="")
            while True:
                stopping = self._stop.wait(self.interval)
                version = self._print_events(version, progress.console.print)
                snap = self.feed.snapshot
                progress.update(
                    task,
                    total=snap.total_steps or None,
                    completed=snap.step,
                    state=snap.state.upper(),
                    line=status_line(snap, self._reading()) if snap.step else snap.message,
                )
                if stopping:
                    if not _trained(snap):
                        progress.live.transient = True  # the CLI's one error line replaces the bar
                    return
