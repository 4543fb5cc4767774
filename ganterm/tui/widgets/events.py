"""The event log: checkpoints with their paths, loss swaps, rollbacks, alerts; newest at the bottom."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widget import Widget

from ganterm.channel.feed import Event

KIND_TAGS = {
    "checkpoint": ("ckpt", "green"),
    "swap": ("swap", "cyan"),
    "rollback": ("rollbk", "magenta"),
    "alert": ("ALERT", "bold yellow"),
    "warning": ("warn", "yellow"),
    "error": ("ERROR", "bold red"),
    "quality": ("qual", "bold magenta"),
    "milestone": ("mile", "bold green"),
    "pause": ("pause", "yellow"),
    "resume": ("resume", "green"),
    "start": ("start", "blue"),
    "end": ("end", "blue"),
}


def event_line(ev: Event) -> Text:
    """`  1,200 ckpt   saved …/ckpt_0001200.pt`: the step, a coloured tag, the message (and the path)."""
    tag, style = KIND_TAGS.get(ev.kind, (ev.kind[:6], "dim"))
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    line.append(f"{ev.step:>7,} ", "dim")
    line.append(f"{tag:<6} ", style)
    message = ev.message
    path = ev.data.get("path")
    if path:
        # The log is narrow: keep the file's own name; the toast shows the full path.
        short = short_path(str(path))
        message = message.replace(str(path), short) if str(path) in message else f"{message} {short}".strip()
    line.append(message)
    return line


def short_path(path: str, parts: int = 1) -> str:
    """The last `parts` components: 'ckpt_0000500.pt' (the run directory is in the start event)."""
    pieces = path.replace("\\", "/").rstrip("/").split("/")
    return "/".join(pieces[-parts:])


class EventLog(Widget):
    """Keeps the last `max_lines` events and shows as many as fit."""

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        border-top: round $panel-lighten-2;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        border-title-color: $text-muted;
    }
    """

    def __init__(self, max_lines: int = 200, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: deque[Text] = deque(maxlen=max_lines)
        self.border_title = "events"

    def add(self, events: list[Event]) -> None:
        if not events:
            return
        self._lines.extend(event_line(ev) for ev in events)
        self.border_title = f"events ({len(self._lines)})"
        self.refresh()

    @property
    def lines(self) -> list[Text]:
        return list(self._lines)

    def render(self) -> Text:
        height = max(self.content_size.height, 1)
        shown = list(self._lines)[-height:]
        if not shown:
            return Text("no events yet", "dim")
        text = Text("\n", no_wrap=True, overflow="ellipsis", end="").join(shown)
        return text
