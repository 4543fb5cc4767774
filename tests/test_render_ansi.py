"""The ANSI -> Segment fast path must show exactly what Rich's own decoder shows."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ganterm.render.ansi import AnsiLines, ansi_lines
from ganterm.render.chart import ChartSeries, render_line_chart


def cells(lines: list[list[Segment]]) -> list[list[tuple[str, Style]]]:
    """(character, style) per cell; no style and the null style are the same thing on screen."""
    return [[(ch, seg.style or Style()) for seg in line for ch in seg.text] for line in lines]


def rich_cells(ansi: str, width: int, height: int) -> list[list[tuple[str, Style]]]:
    console = Console(width=width, color_system="256", force_terminal=True)
    options = console.options.update(width=width, height=height, no_wrap=True)
    text = Text.from_ansi(ansi, no_wrap=True, end="")
    lines = console.render_lines(text, options, pad=False, new_lines=False)
    return cells(lines)


def test_a_real_chart_decodes_like_rich():
    x = np.arange(5000.0)
    y = np.sin(x / 300) + 0.1 * np.cos(x / 7)
    series = [
        ChartSeries("D", x, y, "red", y - 0.2, y + 0.2),
        ChartSeries("G", x, -y, "cyan", -y - 0.3, -y + 0.3),
    ]
    ansi = render_line_chart(series, 90, 20, markers=[(1200.0, "ckpt")], smoothing=0.6)
    assert "\x1b[" in ansi  # the test means nothing on a colourless chart
    assert cells(ansi_lines(ansi)) == rich_cells(ansi, 90, 20)


def test_codes_accumulate_until_reset_and_carry_over_lines():
    ansi = "a\x1b[1mb\x1b[38;5;9mc\nd\x1b[0me\x1b[38;2;1;2;3;48;5;4mf"
    got = cells(ansi_lines(ansi))
    assert got == rich_cells(ansi, 10, 2)
    assert got[0][2][1].bold and got[0][2][1].color.number == 9
    assert got[1][0][1].bold  # "d": the style crosses the line break, as in a terminal
    assert got[1][1][1] == Style()  # after the reset


def test_ansi_lines_renderable_measures_and_renders():
    lines = AnsiLines("\x1b[31mab\x1b[0m\ncde")
    assert lines.width == 3 and lines.plain == "ab\ncde"
    console = Console(width=10, color_system="256", force_terminal=True)
    out = console.render_lines(lines, console.options, pad=False, new_lines=False)
    assert ["".join(s.text for s in line) for line in out] == ["ab", "cde"]
