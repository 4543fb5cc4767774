"""Loss charts as ANSI text, drawn by plotext 6 (its public `plotext.figure` API), plus the numpy around it.

plotext's cost grows with the points it is given, so every series is first cut down to a couple of points per
terminal column (`downsample_mean`, `downsample_minmax`): a redraw then costs the same for 1e3 or 1e7 steps.
plotext 6's C kernel aborts the whole process on NaN coordinates, so only finite points ever reach it.
plotext draws on one module-global figure: a lock makes concurrent renders take turns.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import plotext as plt

from ganterm.render.scales import (
    downsample_mean,
    downsample_minmax,
    ema,
    format_number,
    nice_ticks,
    symlog,
    symlog_inverse,
    symlog_ticks,
    to_ascii,
)

__all__ = [
    "ChartSeries",
    "downsample_mean",
    "downsample_minmax",
    "ema",
    "format_number",
    "nice_ticks",
    "placeholder",
    "render_line_chart",
    "render_scatter",
    "symlog",
    "symlog_inverse",
    "symlog_ticks",
    "to_ascii",
]


class Buckets(Protocol):
    """What a chart reads off a bucketed metric column: bucket centres and each bucket's min, mean, max."""

    x: np.ndarray
    lo: np.ndarray
    mean: np.ndarray
    hi: np.ndarray


WAITING = "waiting for data"
_LOCK = threading.Lock()
# Points per terminal column. Braille draws 2 across a cell; plotext spends ~10 us per point in Python, so
# the dotted min/max band gets one point per 2 columns to keep a 120x30 redraw near 10 ms.
_LINE_POINTS_PER_COLUMN = 2
_BAND_COLUMNS_PER_POINT = 2
_BAND_STYLE = "dim"
_CURSOR_COLOR = "yellow"  # the step scrubber's line; markers are grey
_BACKGROUND = re.compile(r"\x1b\[48;(?:5;\d+|2;\d+;\d+;\d+)m")  # a cell background, as plotext writes one


@dataclass
class ChartSeries:
    """One line: `y` over `x`, and optionally a min/max band `lo`..`hi` around it.

    `color` is a plotext colour: a name ("red", "blue+", "orange", ...), "0".."255", or "#rrggbb".
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    color: str
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None

    @classmethod
    def from_buckets(cls, series: Buckets, name: str, color: str, band: bool = True) -> ChartSeries:
        """A bucketed column (a metric history's `series(column)`): its mean as the line, min/max as the
        band."""
        return cls(
            name, series.x, series.mean, color, series.lo if band else None, series.hi if band else None
        )


def _plotext_color(color: str) -> str | int | tuple[int, int, int]:
    if color.startswith("#") and len(color) == 7:
        return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    return int(color) if color.isdigit() else color


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep].tolist(), y[keep].tolist()


def placeholder(width: int, height: int, message: str = WAITING, title: str = "") -> str:
    """A width x height block of plain text with `message` in the middle (and `title` on the first line)."""
    if width <= 0 or height <= 0:
        return ""
    lines = [" " * width] * height
    lines[height // 2] = message[:width].center(width)
    if title and height > 1:
        lines[0] = title[:width].center(width)
    return "\n".join(lines)


def _draw_signal(
    fig, x: list[float], y: list[float], color, style: str | None = None, lines: bool = True
) -> None:
    if x:
        fig.draw(fig.signal(x, y, marker=plt.marker("braille", plt.pixel(color, None, style))).lines(lines))


def _header(title: str, entries: Sequence[tuple[str, str]], width: int, colors: bool) -> str:
    """One line of `width` cells: the title, then "━ name" in each series' colour, as many as fit, centred."""
    plain = [title[:width]] if title else []
    shown = []
    for name, color in entries:
        entry = f"━ {name}"
        if len("  ".join([*plain, entry])) > width:
            break
        plain.append(entry)
        shown.append(plt.colorize(entry, plt.pixel(_plotext_color(color))).string(colorless=not colors))
    used = len("  ".join(plain))
    left = (width - used) // 2
    text = "  ".join(([title[:width]] if title else []) + shown)
    return " " * left + text + " " * (width - left - used)


def _plot(
    fig,
    width: int,
    height: int,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_label: str,
    y_ticks: tuple[np.ndarray, list[str]] | None = None,
) -> tuple[float, float, float, float]:
    """Size, limits and ticks of the current figure; returns the limits actually used (x0, x1, y0, y1)."""
    (x0, x1), (y0, y1) = x_range, y_range
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        pad = max(abs(y0) * 0.1, 0.5)
        y0, y1 = y0 - pad, y1 + pad
    plt.terminal.limit(False, False)  # the widget, not the terminal plotext sees, decides the size
    fig.theme("simple")  # no background colours: the widget's own background shows through
    fig.plot_size(width, height)
    if x_label:
        fig.label(x_label, axis="x")
    fig.ruler(axis="x").lim(x0, x1)
    fig.ruler(axis="y").lim(y0, y1)
    x_ticks = nice_ticks(x0, x1, max(2, width // 14))
    fig.ruler(axis="x").ticks(x_ticks.tolist(), [format_number(v) for v in x_ticks])
    if y_ticks is None:
        positions = _y_positions(y0, y1, height)
        y_ticks = positions, [format_number(v) for v in positions]
    # plotext wants plain floats: numpy scalars lose their labels
    fig.ruler(axis="y").ticks(np.asarray(y_ticks[0], np.float64).tolist(), list(y_ticks[1]))
    return x0, x1, y0, y1


def _y_positions(y0: float, y1: float, rows: int) -> np.ndarray:
    """Round y values for a plot `rows` tall: one every 3-4 rows, and at least two where the rows allow
    (asked for two, `nice_ticks` may step over the whole range and give one: a short chart had no scale)."""
    want = max(2, rows // 4)
    positions = nice_ticks(y0, y1, want)
    for n in range(want + 1, max(rows, want) + 1):
        if positions.size >= 2:
            break
        positions = nice_ticks(y0, y1, n)
    return positions


@dataclass
class _Prepared:
    """A series ready for plotext: its line, the raw points behind a smoothed line, its band edges."""

    line: tuple[list[float], list[float]]
    raw: tuple[list[float], list[float]] | None
    band: list[tuple[list[float], list[float]]]

    def drawn(self) -> list[tuple[list[float], list[float]]]:
        parts = [self.line, *self.band, *([self.raw] if self.raw else [])]
        return [(x, y) for x, y in parts if x]


def _in_window(s: ChartSeries, x_window: tuple[float, float] | None) -> ChartSeries:
    """The series cut to x_window, so y limits come from the data inside it, not the whole run."""
    if x_window is None:
        return s
    keep = (s.x >= x_window[0]) & (s.x <= x_window[1])
    if keep.all():
        return s
    lo = s.lo[keep] if s.lo is not None else None
    hi = s.hi[keep] if s.hi is not None else None
    return ChartSeries(s.name, s.x[keep], s.y[keep], s.color, lo, hi)


def _prepare(s: ChartSeries, columns: int, log: bool, smoothing: float, raw: bool) -> _Prepared:
    """The series' line (and raw points, band edges when asked for): finite, cut, smoothed, transformed."""

    def out(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
        return _finite(x, symlog(y) if log else y)

    x, y = downsample_mean(s.x, s.y, columns * _LINE_POINTS_PER_COLUMN)
    # The EMA runs over the cut-down points (as TensorBoard smooths its sampled ones); the raw points
    # are those same points unsmoothed, so both cost the same whatever the run's length.
    raw_part = out(x, y) if raw and smoothing else None
    line = out(x, ema(y, smoothing) if smoothing else y)
    band = []
    if s.lo is not None and s.hi is not None:
        bx, lo, hi = downsample_minmax(s.x, s.lo, s.hi, max(1, columns // _BAND_COLUMNS_PER_POINT))
        band = [out(bx, lo), out(bx, hi)]
    return _Prepared(line, raw_part, band)


def render_line_chart(
    series: Sequence[ChartSeries],
    width: int,
    height: int,
    *,
    title: str = "",
    log: bool = False,
    markers: Sequence[tuple[float, str]] = (),
    x_label: str = "step",
    colors: bool = True,
    smoothing: float = 0.0,
    ascii_only: bool = False,
    raw: bool = False,
    x_window: tuple[float, float] | None = None,
    cursor: float | None = None,
    raster_lines: bool = False,
) -> str:
    """The chart as `height` lines of `width` cells (ANSI colours unless colors=False), no trailing newline.

    The first line holds the title and a legend of the series names in their colours. Each series is cut to
    2 points per column before plotting, its band (lo/hi, dim dots) to one per 2 columns; `smoothing` is an
    `ema` weight applied to the cut-down line, as TensorBoard smooths its sampled points. `log` draws y on a
    symlog scale (negative values allowed). `markers` are (x, label) vertical lines, e.g. a loss swap; those
    outside the data's x range are left out. With no finite point at all the result is `placeholder(...)`.
    `ascii_only` maps braille and box glyphs to ASCII (`to_ascii`) for terminals without UTF-8.
    `raw` also draws, as faint dots, the unsmoothed points behind a smoothed line. `x_window` (lo, hi)
    keeps only the points inside it, so the y limits follow the visible window. `cursor` draws a vertical
    line at that x (the step scrubber's), when it falls inside the data. `raster_lines` draws the lines
    and dots with numpy (`_overlay_lines`) into the frame plotext draws, instead of plotext's per-point
    Python: what several overlaid runs need to redraw in time.
    """
    if width <= 0 or height <= 0:
        return ""
    columns = max(1, width - 8)  # roughly the canvas, without the y tick labels and frame
    prepared = [(s, _prepare(_in_window(s, x_window), columns, log, smoothing, raw)) for s in series]
    drawn = [part for _, p in prepared for part in p.drawn()]
    if not drawn:
        return placeholder(width, height, title=title)
    header = _header(title, [(s.name, s.color) for s, p in prepared if p.line[0]], width, colors)
    if height < 3:  # no room for a plot: the legend alone
        legend = "\n".join([header] + [" " * width] * (height - 1))
        return to_ascii(legend) if ascii_only else legend
    x_range = (min(x[0] for x, _ in drawn), max(x[-1] for x, _ in drawn))
    y_range = (min(min(y) for _, y in drawn), max(max(y) for _, y in drawn))

    y_ticks = None
    if log:
        lo, hi = (float(v) for v in symlog_inverse(np.array(y_range)))
        y_ticks = symlog_ticks(lo, hi, 1.0, max(2, height // 4))
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plotext warns on tiny sizes; the result is still usable
        body = None
        for own_lines in (True, False) if raster_lines else (False,):
            fig = plt.figure
            fig.clear()
            if not own_lines:
                for s, p in prepared:
                    color = _plotext_color(s.color)
                    for x, y in [*p.band, *([p.raw] if p.raw else [])]:
                        _draw_signal(fig, x, y, color, _BAND_STYLE, lines=False)
                    _draw_signal(fig, *p.line, color)
            limits = _plot(fig, width, height - 1, x_range, y_range, x_label, y_ticks)
            x0, x1, _, y1 = limits
            _draw_markers(fig, markers, x0, x1, y1, columns)
            if cursor is not None and x0 <= cursor <= x1:
                fig.line(float(cursor), orientation=1, pixel=plt.pixel(_CURSOR_COLOR))
            # plotext paints its vertical lines (markers, the cursor) on a white cell background: a bar
            # through the chart for each, and bands on light themes. The lines keep only their colour.
            body = _BACKGROUND.sub("", fig.build().string(colorless=not colors))
            if own_lines:
                body = _overlay_lines(body, prepared, limits, colors)
            if body is not None:
                break  # else plotext's frame was not found (a tiny chart): let plotext draw the lines
    assert body is not None
    chart = header + "\n" + body.rstrip("\n")
    return to_ascii(chart) if ascii_only else chart


# -- lines drawn by numpy into plotext's frame ------------------------------------------------------
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_SGR_SPLIT = re.compile(r"(\x1b\[[0-9;]*m)")  # text, code, text, code, ...
_RESET = "\x1b[0m"
# braille dot bits by (row in the cell 0-3, column 0-1)
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.uint8)


@functools.lru_cache(maxsize=256)
def _sgr_of(color: str, style: str | None) -> str:
    """The escape codes plotext gives a character of this colour and style."""
    text = plt.colorize("x", plt.pixel(_plotext_color(color), None, style)).string(colorless=False)
    return text[: text.index("x")]


def _dots(
    x: list[float],
    y: list[float],
    limits: tuple[float, float, float, float],
    size: tuple[int, int],
    lines: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The braille dots (column, row; row 0 at the top) of points, joined by straight lines if asked."""
    x0, x1, y0, y1 = limits
    width, height = size
    px = (np.asarray(x) - x0) / (x1 - x0) * (2 * width - 1)
    py = (y1 - np.asarray(y)) / (y1 - y0) * (4 * height - 1)
    if lines and px.size > 1:
        dx, dy = np.diff(px), np.diff(py)
        n = np.ceil(np.maximum(np.abs(dx), np.abs(dy))).astype(np.int64) + 1  # a dot per step, ends included
        seg = np.repeat(np.arange(n.size), n)
        t = (np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)) / np.maximum(n - 1, 1)[seg]
        px, py = px[seg] + t * dx[seg], py[seg] + t * dy[seg]
    cols = np.clip(np.rint(px).astype(np.int64), 0, 2 * width - 1)
    rows = np.clip(np.rint(py).astype(np.int64), 0, 4 * height - 1)
    return cols, rows


def _overlay_lines(
    body: str, prepared: list, limits: tuple[float, float, float, float], colors: bool
) -> str | None:
    """`body` (plotext's frame, ticks and markers) with every series' band and raw dots, then its line,
    drawn into the canvas inside the frame; a cell takes the colour of the last series that lights it.
    None when the frame is not found."""
    lines = body.split("\n")
    plain = [_SGR.sub("", line) for line in lines]
    top = next((i for i, line in enumerate(plain) if "┌" in line), None)
    bottom = next((i for i, line in enumerate(plain) if "└" in line), None)
    if top is None or bottom is None or bottom - top < 2:
        return None
    left, right = plain[top].index("┌") + 1, plain[top].rindex("┐") if "┐" in plain[top] else -1
    width, height = right - left, bottom - top - 1
    if width < 1:
        return None
    bits = np.zeros((height, width), np.uint8)
    owner = np.full((height, width), -1, np.int64)
    styles: list[str] = []
    for s, p in prepared:
        for (x, y), style, joined in [
            *((part, _BAND_STYLE, False) for part in [*p.band, *([p.raw] if p.raw else [])]),
            (p.line, None, True),
        ]:
            if not x:
                continue
            cols, rows = _dots(x, y, limits, (width, height), joined)
            lit = np.zeros((4 * height, 2 * width), np.uint8)
            lit[rows, cols] = 1
            # each cell's 4x2 dots folded into its braille bits
            mine = (lit.reshape(height, 4, width, 2) * _DOT_BITS[None, :, None, :]).sum(
                axis=(1, 3), dtype=np.uint8
            )
            bits |= mine
            owner[mine != 0] = len(styles)
            styles.append(_sgr_of(s.color, style) if colors else "")
    for r in np.flatnonzero((bits != 0).any(axis=1)):
        lines[top + 1 + r] = _splice(lines[top + 1 + r], left, bits[r], owner[r], styles, colors)
    return "\n".join(lines)


def _splice(
    line: str, left: int, bits: np.ndarray, owner: np.ndarray, styles: list[str], colors: bool
) -> str:
    """One canvas row with its lit cells replaced by braille in their series' style."""
    chars: list[str] = []
    codes: list[str] = []  # the escape codes in force at each character
    active = ""
    for i, part in enumerate(_SGR_SPLIT.split(line)):
        if i % 2:
            active = "" if part == _RESET else active + part
        elif part:
            chars.extend(part)
            codes.extend([active] * len(part))
    for c in np.flatnonzero(bits).tolist():
        i = left + c
        if i < len(chars) and not chars[i].isalnum():  # a marker's label stays legible
            chars[i], codes[i] = chr(0x2800 + int(bits[c])), styles[owner[c]]
    if not colors:
        return "".join(chars)
    out, start = [], 0
    for i in range(1, len(chars) + 1):
        if i == len(chars) or codes[i] != codes[start]:
            out.append(_RESET + codes[start] + "".join(chars[start:i]))
            start = i
    out.append(_RESET)
    return "".join(out)


def _draw_markers(
    fig, markers: Sequence[tuple[float, str]], x0: float, x1: float, top: float, columns: int
) -> None:
    """Grey vertical lines, each labelled at the top where the label does not run into the previous one."""
    free_from = -1.0  # first canvas column not yet covered by a label
    for position, label in sorted(markers):
        if not x0 <= position <= x1:
            continue
        fig.line(position, orientation=1, pixel=plt.pixel("gray"))
        col = (position - x0) / (x1 - x0) * columns
        if not label:
            continue
        right = col + len(label) + 1 <= columns
        start = col if right else col - len(label)
        if start >= free_from:
            fig.draw(fig.text(position, top, label, alignment="left" if right else "right"))
            free_from = start + len(label) + 1


def _one_per_dot(points: np.ndarray, low: np.ndarray, high: np.ndarray, dots: tuple[int, int]) -> np.ndarray:
    """The points, keeping only the first that lands on each braille dot: what is drawn does not change."""
    span = np.where(high > low, high - low, 1.0)
    cell = np.minimum(((points - low) / span * dots).astype(np.int64), np.array(dots) - 1)
    _, first = np.unique(cell[:, 0] * dots[1] + cell[:, 1], return_index=True)
    return points[np.sort(first)]


def render_scatter(
    real: np.ndarray | None,
    fake: np.ndarray | None,
    width: int,
    height: int,
    *,
    colors: bool = True,
    max_points: int = 800,
    ascii_only: bool = False,
) -> str:
    """Real (grey) against generated (orange) (N, 2) points, as `height` lines of `width` cells.

    The first line is a legend. Points that would light the same braille dot are drawn once, and each cloud
    is then cut to `max_points` by an even stride (not a random draw, so frames do not flicker).
    No point at all gives `placeholder(...)`.
    """
    if width <= 0 or height <= 0:
        return ""
    clouds = []
    for name, points, color in (("real", real, "gray"), ("fake", fake, "orange")):
        points = np.zeros((0, 2)) if points is None else np.asarray(points, np.float64).reshape(-1, 2)
        clouds.append((name, points[np.isfinite(points).all(axis=1)], color))
    every = np.concatenate([p for _, p, _ in clouds])
    if every.size == 0:
        return placeholder(width, height)
    header = _header("", [(name, color) for name, p, color in clouds if len(p)], width, colors)
    if height < 3:  # no room for a plot: the legend alone
        legend = "\n".join([header] + [" " * width] * (height - 1))
        return to_ascii(legend) if ascii_only else legend
    low, high = every.min(axis=0), every.max(axis=0)
    dots = (max(1, width - 8) * 2, max(1, height - 4) * 4)  # braille: 2 x 4 dots a cell
    for i, (name, points, color) in enumerate(clouds):
        if len(points):
            points = _one_per_dot(points, low, high, dots)
            clouds[i] = (name, points[:: math.ceil(len(points) / max_points)], color)

    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = plt.figure
        fig.clear()
        for _, points, color in clouds:
            if len(points):
                marker = plt.marker("braille", plt.pixel(color))
                fig.draw(fig.signal(points[:, 0].tolist(), points[:, 1].tolist(), marker=marker))
        _plot(fig, width, height - 1, (low[0], high[0]), (low[1], high[1]), "")
        body = fig.build().string(colorless=not colors)
    chart = header + "\n" + body.rstrip("\n")
    return to_ascii(chart) if ascii_only else chart
