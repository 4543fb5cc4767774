"""The system pane (`m`): CPU of this process and of the machine, memory, and a row per GPU.

The screen hands it the sampler's latest reading at each poll; the text is rebuilt only when the
reading object changes (the sampler makes at most one a second), and the Strips through the cached
Line API, so an unchanged pane costs one identity check.
"""

from __future__ import annotations

import time

from rich.text import Text

from ganterm.sysmon import SystemReading, format_gib, format_used_total
from ganterm.tui.widgets.cached_lines import CachedLinesWidget

NO_READINGS = "no system readings"
HOT_C = 85.0  # most datacentre GPUs start throttling around here


def system_text(reading: SystemReading | None, waiting: bool = False) -> Text:
    """The pane's rows; `waiting`: a source exists but has not answered yet."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if reading is None:
        text.append("system readings …" if waiting else NO_READINGS, "dim italic")
        return text
    text.append("CPU", "bold")
    text.append(f" proc {reading.cpu_proc:.0f}%")
    text.append(" · ", "dim")
    text.append(f"machine {reading.cpu_machine:.0f}%")
    text.append("  RSS", "bold")
    text.append(f" {format_gib(reading.rss_bytes)}")
    text.append("  mem", "bold")
    text.append(f" {format_used_total(reading.mem_used, reading.mem_total)}")
    if reading.step is not None:  # read back from system.jsonl: say when it was taken
        when = time.strftime("%H:%M:%S", time.localtime(reading.time))
        text.append(f"  recorded at step {reading.step:,}, {when}", "dim")
    for g in reading.gpus:
        text.append("\n")
        text.append(f"GPU{g.index}", "bold")
        if g.name:
            text.append(f" {g.name}")
        text.append(f" util {g.util_pct:.0f}% mem {format_used_total(g.mem_used, g.mem_total)}")
        if g.temp_c is not None:
            text.append(f" {g.temp_c:.0f}°C", "bold red" if g.temp_c >= HOT_C else "")
        if g.power_w is not None:
            text.append(f" {g.power_w:.0f} W")
    return text


class SystemPane(CachedLinesWidget):
    DEFAULT_CSS = """
    SystemPane {
        height: 1;
        background: $panel;
        display: none;
    }
    SystemPane.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.reading: SystemReading | None = None
        self._waiting = False
        self._text = system_text(None)
        self._rows = 1

    def show(self, reading: SystemReading | None, waiting: bool = False) -> None:
        if reading is self.reading and waiting == self._waiting:
            return
        self.reading, self._waiting = reading, waiting
        self._text = system_text(reading, waiting)
        rows = 1 + (len(reading.gpus) if reading else 0)
        if rows != self._rows:  # a layout pass only when a GPU row comes or goes
            self._rows = rows
            self.styles.height = rows
        self.refresh()

    def render(self) -> Text:
        return self._text  # the same object until the reading changes: the Strips stay cached
