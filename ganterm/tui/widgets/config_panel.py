"""The run's configuration as a side panel (view mode, toggled with `o`)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ganterm.channel.text import shown


def config_text(config: dict[str, Any]) -> Text:
    """`key  value` lines; unset (None) and empty fields are left out to keep it short."""
    if not config:
        return Text("no configuration found", "dim")
    # A config can come from anyone: keys and values are drawn as escaped, capped text, never markup.
    rows = {shown(k, 40): v for k, v in list(config.items())[:200] if v not in (None, {}, [], "")}
    width = max(len(k) for k in rows) if rows else 0
    text = Text(end="")
    for i, (key, value) in enumerate(rows.items()):
        if i:
            text.append("\n")
        text.append(f"{key:<{width}} ", "bold")
        text.append(shown(", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value, 400))
    return text


class ConfigPanel(VerticalScroll):
    DEFAULT_CSS = """
    ConfigPanel {
        dock: right;
        width: 38;
        max-width: 50%;
        border: round $accent;
        border-title-color: $accent;
        display: none;
    }
    ConfigPanel.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "config"
        self._config: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(config_text(self._config), id="config-body")

    def show(self, config: dict[str, Any]) -> None:
        self._config = dict(config)
        if self.is_mounted:
            self.query_one("#config-body", Static).update(config_text(self._config))
