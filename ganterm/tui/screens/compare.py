"""`ganterm view RUN_A RUN_B ...`: several runs overlaid on the same charts, one colour per run.

Each run has its own Feed: a run directory's filled (and followed while it trains) by its own
RunDirReader, a checkpoint's filled once from the file. One thread worker polls them all, off the UI
thread, as the single-run view does. The charts draw every shown run; the header, samples and events
are those of the selected run (key v cycles, 1-9 pick one). A hidden run (h) leaves the charts; the
pinned run (u) is drawn on top of the others.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from ganterm.channel.feed import Event, Feed
from ganterm.channel.history import MetricHistory
from ganterm.channel.text import MESSAGE_LIMIT, shown
from ganterm.rundir.reader import RunDirReader, newest_grid
from ganterm.rundir.runs import is_run_dir, open_reader, run_color, short_names
from ganterm.rundir.tensorboard import TensorBoardReader
from ganterm.tui.adapters import RUNDIR_POLL_S, fill_feed_from_checkpoint
from ganterm.tui.monitor import CHART_BINDINGS, HELP_BINDING, MonitorScreen
from ganterm.tui.widgets.charts import ChartView, CompareChart, RunLine
from ganterm.tui.widgets.events import EventLog
from ganterm.tui.widgets.samples import SamplePanel

MAX_NUMBER_KEYS = 9
MIN_PANEL = (24, 8)  # cells a run's samples need side by side (a 28x28 grid of a few images)


@dataclass
class CompareRun:
    """One run of the comparison: where it is, its feed, and (a run directory) the reader that fills it."""

    path: Path
    line: RunLine
    reader: RunDirReader | TensorBoardReader | None

    @property
    def feed(self) -> Feed:
        return self.line.feed

    @property
    def name(self) -> str:
        return self.line.name


class RunLegend(Widget):
    """One line naming every run in its colour: ▸ the selected run, ★ the pinned one, dimmed when hidden."""

    DEFAULT_CSS = """
    RunLegend {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, runs: list[CompareRun], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs = runs
        self.selected = 0
        self.hidden: frozenset[str] = frozenset()
        self.pinned: str | None = None

    def show(self, selected: int, hidden: frozenset[str], pinned: str | None) -> None:
        self.selected, self.hidden, self.pinned = selected, hidden, pinned
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, run in enumerate(self.runs):
            mark = "▸" if i == self.selected else " "
            pin = "★" if run.name == self.pinned else ""
            style = f"dim strike {run.line.color}" if run.name in self.hidden else f"bold {run.line.color}"
            text.append(f"{mark}{i + 1} ", "bold" if i == self.selected else "dim")
            text.append(f"━ {run.name}{pin}", style)
            text.append("  ")
        return text


def _number_bindings(n: int) -> list[BindingType]:
    return [
        Binding(str(i + 1), f"select_run({i})", f"run {i + 1}", show=False, tooltip=f"select run {i + 1}")
        for i in range(min(n, MAX_NUMBER_KEYS))
    ]


class CompareScreen(MonitorScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        HELP_BINDING,
        Binding("v", "next_run", "run▸", tooltip="select the next run: its samples, header and events"),
        Binding("h", "hide_run", "hide", tooltip="hide / show the selected run in the charts"),
        Binding("u", "pin_run", "pin", tooltip="pin the selected run: drawn on top of the others"),
        Binding(
            "a",
            "all_samples",
            "all",
            tooltip="every run's newest samples side by side, or the selected run's",
        ),
        *_number_bindings(MAX_NUMBER_KEYS),
        *CHART_BINDINGS,
    ]

    def __init__(
        self, paths: list[Path], *, feeds: list[Feed] | None = None, trusted: object = None, **kwargs
    ) -> None:
        """`paths` as `find_runs` lists them; `feeds` (benchmarks): the runs' data, already there, with
        `paths` only naming them; `trusted` the model file `--model` named (rebuilds the runs that
        record it)."""
        self.trusted = trusted
        names = [shown(n) for n in short_names(paths)]  # a folder's name is drawn as text too
        self.runs: list[CompareRun] = []
        for i, (path, name) in enumerate(zip(paths, names, strict=True)):
            reader, feed = None, feeds[i] if feeds else None
            if feed is None:
                # A run directory is checked now (cheap, no torch): a bad path fails before the screen is up.
                reader = open_reader(path) if path.is_dir() or is_run_dir(path) else None
                feed = reader.feed if reader else Feed(MetricHistory(()))
            self.runs.append(CompareRun(path, RunLine(feed, name, run_color(i)), reader))
        self.run_lines = tuple(run.line for run in self.runs)
        self.selected = 0
        self.hidden: frozenset[str] = frozenset()
        self.pinned: str | None = None
        self._versions: tuple[int, ...] = ()
        self._swapping_log = False
        self._stop = threading.Event()
        self.loader: Worker[None] | None = None
        self.error: BaseException | None = None
        super().__init__(self.runs[0].feed, **kwargs)

    def make_chart(self, role: Literal["loss", "aux"], id: str) -> ChartView:
        return CompareChart(self.run_lines, role, id=id)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield RunLegend(self.runs, id="legend")

    def on_mount(self) -> None:
        super().on_mount()
        # Every run's newest samples, side by side (key a): hidden until asked for.
        n = len(self.runs)
        board = Grid(*(SamplePanel(id=f"run-samples-{i}") for i in range(n)), id="all-samples")
        board.styles.grid_size_columns = min(n, 2)
        board.styles.grid_size_rows = math.ceil(n / 2)
        board.styles.height = "1fr"
        board.display = False
        self.query_one("#side").mount(board, before=self.query_one("#samples"))
        self._show_runs()
        self.loader = self.run_worker(self._follow, name="loader", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    # -- thread work -----------------------------------------------------------------------------
    def _follow(self) -> None:
        """Checkpoints once (torch loads here, not on the UI thread), then every run directory's new rows."""
        for run in self.runs:
            if run.reader is not None:
                run.reader.poll()  # every run's curves before torch loads (~1 s)
        from ganterm.training.checkpoint_frames import CheckpointFrames

        for run in self.runs:
            if run.reader is None and run.path.is_file() and not self._stop.is_set():
                self._load_checkpoint(run)
            elif isinstance(run.reader, RunDirReader):  # a TensorBoard run has no checkpoints of ours
                run.reader.checkpoints = CheckpointFrames(self.trusted, f"ganterm view {run.path}")
        while not self._stop.is_set():
            for run in self.runs:
                if run.reader is not None:
                    run.reader.poll()
            self._stop.wait(RUNDIR_POLL_S)

    def _load_checkpoint(self, run: CompareRun) -> None:
        from ganterm.training.checkpoint import load_checkpoint
        from ganterm.training.checkpoint_frames import sampler_for

        ckpt = load_checkpoint(run.path)
        fill_feed_from_checkpoint(run.feed, ckpt, run.path)
        sampler, why = sampler_for(ckpt, self.trusted, str(run.path), f"ganterm view {run.path}")
        if sampler is not None:
            run.feed.publish_samples(sampler.fixed())
            return
        # An untrusted model file or ganterm.fit's networks: the curves, and the grids the run recorded.
        run.feed.update(message=shown(why, MESSAGE_LIMIT))
        run.feed.event("warning", shown(why, MESSAGE_LIMIT), int(ckpt.get("step", 0)))
        if run.path.parent.name == "checkpoints":
            frame = newest_grid(run.path.parent.parent, int(ckpt.get("step", 0)))
            if frame is not None:
                run.feed.publish_samples(frame)

    # -- polling: charts redraw when any run moved; the rest follows the selected run --------------
    def poll_feed(self) -> None:
        if self._swapping_log:
            return
        versions = tuple(run.feed.version for run in self.runs)
        if versions != self._versions:
            self._versions = versions
            self._charts_pending = True
            self._show_all_samples()
        super().poll_feed()

    def _show_all_samples(self) -> None:
        """Each run's newest grid in its own panel, while they are side by side."""
        boards = self.query("#all-samples")
        if not boards or not boards.first().display:
            return
        for i, run in enumerate(self.runs):
            frames = run.feed.frames("samples")
            panel = self.query_one(f"#run-samples-{i}", SamplePanel)
            frame = frames[-1] if frames else None
            if frame is not panel.frame or panel.frame is None:
                caption = f"{i + 1} {run.name}" + (
                    f" · step {frame.step:,}" if frame else " · no samples yet"
                )
                panel.show(frame, caption, color_system=self.color_system, density=self.density)

    def announce(self, events: list[Event]) -> None:
        """Alerts only: the runs' checkpoints were saved by other processes, often long ago."""
        super().announce([ev for ev in events if ev.kind in ("alert", "error")])

    # -- keys ------------------------------------------------------------------------------------
    def _show_runs(self) -> None:
        for chart in self.query(CompareChart):
            chart.set_runs(self.hidden, self.pinned)
        self.query_one(RunLegend).show(self.selected, self.hidden, self.pinned)
        self.refresh_status()

    async def action_select_run(self, index: int) -> None:
        if not 0 <= index < len(self.runs) or index == self.selected:
            return
        self.selected = index
        # The header, samples and events now read the selected run's feed, from its beginning.
        self.feed = self.runs[index].feed
        self.seen_version = -1
        self._markers = []
        self._live = self._browsing = self._browse_at = None
        self._view_frames = {}
        self.sample_view = None
        # A fresh event log for the run's own events; no poll may look for it while it is swapped.
        self._swapping_log = True
        try:
            log = self.query_one(EventLog)
            side = log.parent
            await log.remove()
            if side is not None:
                await side.mount(EventLog(id="events"))
        finally:
            self._swapping_log = False
        self._show_runs()
        self.poll_feed()
        self.show_samples()
        self._flush_charts(force=True)

    async def action_next_run(self) -> None:
        await self.action_select_run((self.selected + 1) % len(self.runs))

    def action_all_samples(self) -> None:
        board = self.query_one("#all-samples")
        side = self.query_one("#side").size
        columns, rows = min(len(self.runs), 2), math.ceil(len(self.runs) / 2)
        if not board.display and (side.width < columns * MIN_PANEL[0] or side.height < rows * MIN_PANEL[1]):
            self.notify(
                f"no room for {len(self.runs)} runs' samples side by side: enlarge the terminal", timeout=4
            )
            return
        board.display = not board.display
        self.query_one("#samples").display = not board.display
        self._show_all_samples()

    def action_hide_run(self) -> None:
        name = self.runs[self.selected].name
        self.hidden = self.hidden - {name} if name in self.hidden else self.hidden | {name}
        self._show_runs()

    def action_pin_run(self) -> None:
        name = self.runs[self.selected].name
        self.pinned = None if self.pinned == name else name
        self._show_runs()

    def action_aux_chart(self) -> None:
        # The second chart cycles through every metric any run logs (the first chart keeps metric 1).
        charts = list(self.query(CompareChart))
        n_metrics = len(charts[0].metrics()) if charts else 0
        self._set_options(self.options.next_aux(n_metrics))

    def request_quit(self) -> None:
        self._stop.set()
        self.app.exit(return_code=1 if self.error else 0)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker is self.loader:
            self.error = event.worker.error
            self.app.exit(return_code=1)
