"""Plotext's ANSI output as Rich Segments, without building a `Text`.

`Text.from_ansi` keeps one span per colour run and resolves them again on every render; for a chart
that is thousands of spans and most of a chart's cost on the UI thread. Plotext only emits SGR codes
(colour, dim, bold, reset), so a regex split and a cached code -> Style table turn a chart into
Segments in one pass. Any code we do not know is handed to Rich's own decoder once and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_RESET = ("", "0")
_NULL = Style()
_NEWLINE = Segment.line()


@functools.lru_cache(maxsize=512)
def _code_style(params: str) -> Style:
    """The Style one SGR code adds (Rich's decoder does the decoding, once per distinct code)."""
    text = Text.from_ansi(f"\x1b[{params}mx")
    return text.spans[0].style if text.spans else _NULL  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _after(current: Style, params: str) -> Style:
    """The active style after applying code `params` to `current` (codes accumulate until a reset)."""
    if params in _RESET:
        return _NULL
    return current + _code_style(params)


def ansi_lines(ansi: str) -> list[list[Segment]]:
    """One list of Segments per line of `ansi`; styles carry over line breaks as in a terminal."""
    lines: list[list[Segment]] = []
    style = _NULL
    for raw in ansi.split("\n"):
        line: list[Segment] = []
        pieces = _SGR.split(raw)  # text, code, text, code, ..., text
        for i, piece in enumerate(pieces):
            if i % 2:
                style = _after(style, piece)
            elif piece:
                line.append(Segment(piece, style or None))
        lines.append(line)
    return lines


class AnsiLines:
    """A Rich renderable of pre-split ANSI lines (no wrapping: a line wider than the space is cropped)."""

    def __init__(self, ansi: str) -> None:
        self.lines = ansi_lines(ansi)
        self.width = max((Segment.get_line_length(line) for line in self.lines), default=0)

    @property
    def plain(self) -> str:
        return "\n".join("".join(s.text for s in line) for line in self.lines)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from _join_lines(self.lines)


def _join_lines(lines: list[list[Segment]]) -> Iterable[Segment]:
    for i, line in enumerate(lines):
        if i:
            yield _NEWLINE
        yield from line
