"""Small modal screens: the key help and the loss picker."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath, with what they do; the list scrolls (arrows, page keys, the
    wheel) when the terminal is shorter than it, so an 80x24 terminal reaches its last key."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: auto;
        max-width: 90%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        border-title-color: $accent;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    HelpScreen Static {
        width: auto;
        max-width: 100%;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark", "close", "close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.keys), default=0)
        text = Text(end="")
        for i, (key, what) in enumerate(self.keys):
            if i:
                text.append("\n")
            text.append(f"{key:>{width}}  ", "bold")
            text.append(what)
        box = VerticalScroll(Static(text), id="help-keys")
        box.border_title = "keys"
        box.border_subtitle = "↑↓ pgup pgdn scroll · esc closes"
        yield box

    def action_close(self) -> None:
        self.dismiss(None)


class LossPicker(ModalScreen[str | None]):
    """Pick the loss to swap to; the current one is highlighted. Dismisses with the name or None."""

    DEFAULT_CSS = """
    LossPicker {
        align: center middle;
    }
    LossPicker > OptionList {
        width: 30;
        height: auto;
        max-height: 90%;
        border: round $accent;
        border-title-color: $accent;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, names: tuple[str, ...], current: str) -> None:
        super().__init__()
        self.names = names
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(f"{n} (now)" if n == self.current else n, id=n) for n in self.names]
        picker = OptionList(*options)
        picker.border_title = "swap loss to"
        if self.current in self.names:
            picker.highlighted = self.names.index(self.current)
        yield picker

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
