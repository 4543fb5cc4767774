"""The two charts: the run's first chart group (D and G losses for a GAN, reconstruction and KL for a
VAE) and a second that cycles through the rest of its layout (D(x) vs D(G(z)), gradient norms, InfoGAN's
mutual information against H(c), ...). Metrics are read by name from the feed's history.

Rendering a chart through plotext costs milliseconds of the GIL the trainer thread also needs, so the
rendered Text is cached per (size, history version, options, markers) and rebuilt only when one changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from rich.text import Text

from ganterm.channel.feed import Feed
from ganterm.channel.layout import ChartGroup, Layout
from ganterm.render import chart
from ganterm.render.ansi import AnsiLines
from ganterm.render.terminal import ascii_only
from ganterm.tui.widgets.cached_lines import CachedLinesWidget

SMOOTHING_STEPS = (0.0, 0.6, 0.9, 0.99)  # 0.6 is TensorBoard's default
WINDOW_STEPS: tuple[int | None, ...] = (None, 1000, 200)  # full history, then the last N steps
MIN_WIDTH, MIN_HEIGHT = 16, 4


@dataclass(frozen=True)
class ChartOptions:
    smoothing: float = 0.6
    log: bool = False
    window: int | None = None
    aux: int = 1  # which layout group the second chart shows (key g cycles them)
    raw: bool = False  # the raw points behind the EMA line, as faint dots (key x)

    def next_smoothing(self) -> ChartOptions:
        i = SMOOTHING_STEPS.index(self.smoothing) if self.smoothing in SMOOTHING_STEPS else 0
        return replace(self, smoothing=SMOOTHING_STEPS[(i + 1) % len(SMOOTHING_STEPS)])

    def next_aux(self, n_groups: int) -> ChartOptions:
        return replace(self, aux=1 + self.aux % max(1, n_groups - 1) if n_groups > 1 else 1)

    def next_window(self) -> ChartOptions:
        i = WINDOW_STEPS.index(self.window) if self.window in WINDOW_STEPS else 0
        return replace(self, window=WINDOW_STEPS[(i + 1) % len(WINDOW_STEPS)])

    def describe(self) -> str:
        parts = [f"EMA {self.smoothing:g}" if self.smoothing else "raw"]
        if self.smoothing and self.raw:
            parts[0] += " + raw"
        if self.log:
            parts.append("symlog")
        parts.append(f"last {self.window:,}" if self.window else "all")
        return " · ".join(parts)


Marker = tuple[float, str]


class ChartView(CachedLinesWidget):
    """One chart over feed history columns; `role` is "loss" or "aux"."""

    DEFAULT_CSS = """
    ChartView {
        height: 1fr;
        border-top: round $panel-lighten-2;
        border-title-color: $text-muted;
    }
    """

    def __init__(self, feed: Feed, role: Literal["loss", "aux"], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.feed = feed
        self.role = role
        self.options = ChartOptions()
        self.data_version = 0
        self.markers: tuple[Marker, ...] = ()
        self.color_system: str | None = "truecolor"
        self.cursor: int | None = None  # the step scrubber's step, drawn as a vertical line
        self.raster_lines = False  # plotext draws the lines (the compare charts draw their own)
        self.renders = 0  # how many times plotext ran: the cache is tested through it
        self._key: tuple | None = None
        self._text: Text | AnsiLines = Text("")
        self._update_title()

    def layout(self) -> Layout:
        return self.feed.snapshot.layout

    def group(self) -> ChartGroup | None:
        groups = self.layout().groups
        if self.role == "loss":
            return groups[0] if groups else None
        return groups[self.options.aux] if 0 < self.options.aux < len(groups) else None

    def columns(self) -> tuple[tuple[str, str, str], ...]:
        """(metric name, legend label, colour) of what this chart draws."""
        group = self.group()
        return tuple((s.name, s.label, s.color) for s in group.series) if group else ()

    def _update_title(self) -> None:
        group = self.group()
        name = group.title if group else ""
        # Text, not markup: a run's own chart title (config.json) shows as written, never interpreted.
        self.border_title = Text.assemble(name, " ", (self.options.describe(), "dim"))

    def show(
        self,
        *,
        data_version: int | None = None,
        options: ChartOptions | None = None,
        markers: tuple[Marker, ...] | None = None,
        color_system: str | None = None,
    ) -> None:
        """Change what the chart draws; it redraws on the next frame only if something changed."""
        if data_version is not None:
            self.data_version = data_version
        if options is not None and options != self.options:
            self.options = options
            self._update_title()
        if markers is not None:
            self.markers = markers
        if color_system is not None:
            self.color_system = color_system
        if self._cache_key() != self._key:
            self.refresh()

    def set_cursor(self, step: int | None) -> None:
        """A vertical line at `step` (None: none). Unchanged, it costs a comparison and draws nothing."""
        if step == self.cursor:
            return
        self.cursor = step
        self.refresh()

    def _cache_key(self) -> tuple:
        size = self.content_size
        return (
            size.width,
            size.height,
            self.data_version,
            self.options,
            self.markers,
            self.color_system,
            self.cursor,
            self.layout(),
        )

    def render(self) -> Text | AnsiLines:
        key = self._cache_key()
        if key != self._key:
            self._update_title()  # the layout may have arrived since (a run directory's config)
            self._text = self._draw(key[0], key[1])
            self._key = key
        return self._text

    def chart_series(self) -> list[chart.ChartSeries]:
        """The lines this chart draws, one per metric of its group that the history holds."""
        series = []
        for column, label, color in self.columns():
            s = self.feed.series(column, self.options.window)
            if len(s):
                series.append(chart.ChartSeries.from_buckets(s, label, color))
        return series

    def _draw(self, width: int, height: int) -> Text | AnsiLines:
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return Text("(enlarge)", "dim")
        series = self.chart_series()
        if not series:
            return Text("waiting for metrics…", "dim")
        group = self.group()
        lo_x = min(float(s.x[0]) for s in series if len(s.x))
        hi_x = max(float(s.x[-1]) for s in series if len(s.x))
        window = self.options.window
        # The window ends at the newest step any line has; y limits then come from inside it alone.
        x_window = (hi_x - window, hi_x) if window else None
        if x_window:
            lo_x = max(lo_x, x_window[0])
        for value, label in group.refs if group else ():
            # A reference line (InfoGAN's H(c)): two points span the visible steps.
            x = np.array([lo_x, max(hi_x, lo_x + 1)])
            series.append(chart.ChartSeries(label, x, np.full(2, value), "white"))
        markers = [(x, label) for x, label in self.markers if x >= lo_x]
        log = self.options.log and (group is None or group.log_ok)
        self.renders += 1
        ansi = chart.render_line_chart(
            series,
            width,
            height,
            x_label="",  # the axis is always steps; the row is worth more to the plot
            log=log,
            markers=markers,
            colors=self.color_system != "none",
            smoothing=self.options.smoothing,
            ascii_only=ascii_only(self.app.console),
            raw=self.options.raw,
            x_window=x_window,
            cursor=None if self.cursor is None else float(self.cursor),
            raster_lines=self.raster_lines,
        )
        return AnsiLines(ansi)


@dataclass(frozen=True)
class RunLine:
    """One run in a compare chart: its feed, its (shortened) name in the legend, its colour."""

    feed: Feed
    name: str
    color: str


class CompareChart(ChartView):
    """One metric across several runs, a line per run in the run's colour (`ganterm view A B ...`).

    The first chart shows the first metric of the runs' layouts, the second cycles (key g) through all
    the others; a metric a run does not log is simply absent for it. Hidden runs are left out; the
    pinned run is drawn last, on top of the others.
    """

    def __init__(self, runs: tuple[RunLine, ...], role: Literal["loss", "aux"], *, id: str | None = None):
        self.runs = runs
        self.hidden: frozenset[str] = frozenset()
        self.pinned: str | None = None
        super().__init__(runs[0].feed, role, id=id)
        # Lines drawn by numpy into plotext's frame: plotext spends ~50 us of Python per point, so four
        # runs cost it ~35 ms a chart (benchmarks/ui.py), against ~11 ms this way.
        self.raster_lines = True

    def metrics(self) -> tuple[tuple[str, str], ...]:
        """(metric name, label) of every run's layout, in first-seen order."""
        seen: dict[str, str] = {}
        for run in self.runs:
            layout = run.feed.snapshot.layout
            for group in layout.groups:
                for s in group.series:
                    seen.setdefault(s.name, f"{group.title} · {s.label}")
        return tuple(seen.items())

    def metric(self) -> tuple[str, str] | None:
        metrics = self.metrics()
        index = 0 if self.role == "loss" else self.options.aux
        return metrics[index] if 0 <= index < len(metrics) and (index or self.role == "loss") else None

    def group(self) -> ChartGroup | None:
        return None  # no per-run reference lines; symlog is always allowed

    def _update_title(self) -> None:
        metric = self.metric()
        self.border_title = Text.assemble(metric[1] if metric else "", " ", (self.options.describe(), "dim"))

    def show(self, *, data_version: int | None = None, **changes) -> None:
        # The screen's data version is the selected run's; the chart draws them all, so any run's new
        # rows must change the cache key (read here, when the screen flushes, not at every refresh).
        if data_version is not None:
            data_version = sum(run.feed.version for run in self.runs)
        super().show(data_version=data_version, **changes)

    def set_runs(self, hidden: frozenset[str], pinned: str | None) -> None:
        if (hidden, pinned) != (self.hidden, self.pinned):
            self.hidden, self.pinned = hidden, pinned
            self.refresh()

    def _cache_key(self) -> tuple:
        layouts = tuple(run.feed.snapshot.layout for run in self.runs)
        return (*super()._cache_key(), self.hidden, self.pinned, layouts)

    def chart_series(self) -> list[chart.ChartSeries]:
        metric = self.metric()
        if metric is None:
            return []
        shown = [r for r in self.runs if r.name not in self.hidden]
        shown.sort(key=lambda r: r.name == self.pinned)  # stable: the pinned run last, drawn on top
        series = []
        for run in shown:
            s = run.feed.series(metric[0])
            # All NaN: a column the run's history holds but never logged (absent for it, like a missing one).
            if len(s) and np.isfinite(s.mean).any():  # no band: four runs' min/max dots would bury the lines
                series.append(chart.ChartSeries.from_buckets(s, run.name, run.color, band=False))
        return series
