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

from ganterm.gan.feed import Feed
from ganterm.gan.layout import ChartGroup, Layout
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
        self.border_title = f"{name} [dim]{self.options.describe()}[/]"

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

    def _cache_key(self) -> tuple:
        size = self.content_size
        return (
            size.width,
            size.height,
            self.data_version,
            self.options,
            self.markers,
            self.color_system,
            self.layout(),
        )

    def render(self) -> Text | AnsiLines:
        key = self._cache_key()
        if key != self._key:
            self._update_title()  # the layout may have arrived since (a run directory's config)
            self._text = self._draw(key[0], key[1])
            self._key = key
        return self._text

    def _draw(self, width: int, height: int) -> Text | AnsiLines:
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return Text("(enlarge)", "dim")
        window = self.options.window
        series = []
        for column, label, color in self.columns():
            s = self.feed.series(column, window)
            if not len(s):
                continue
            series.append(chart.ChartSeries.from_history(s, label, color))
        if not series:
            return Text("waiting for metrics…", "dim")
        group = self.group()
        lo_x = min(float(s.x[0]) for s in series)
        hi_x = max(float(s.x[-1]) for s in series)
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
        )
        return AnsiLines(ansi)
