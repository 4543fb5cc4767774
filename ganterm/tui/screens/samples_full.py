"""`f`: the sample panel full screen, pushed over the monitor.

It holds no state of its own: the monitor keeps polling the Feed underneath and draws every frame into
this screen's panel as well as its own (`MonitorScreen.sample_panels`), so it follows new frames live and
shows the same frame, density and scrubbed step. Its keys hand back to the monitor's actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from ganterm.tui.widgets.samples import SamplePanel

if TYPE_CHECKING:
    from ganterm.tui.monitor import MonitorScreen


class SamplesFullScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f", "close", "close", key_display="f"),
        Binding("d", "monitor('density')", "density", tooltip="cycle: pooled / 1:1 / one sample"),
        Binding("left_square_bracket", "monitor('prev_frame')", "◂frame", key_display="["),
        Binding("right_square_bracket", "monitor('next_frame')", "frame▸", key_display="]"),
        Binding("left_curly_bracket", "monitor('back_10')", "◂10", key_display="{"),
        Binding("right_curly_bracket", "monitor('forward_10')", "10▸", key_display="}"),
        Binding("home", "monitor('first_frame')", "first", show=False),
        Binding("end", "monitor('live_frame')", "live", show=False),
    ]

    def __init__(self, monitor: MonitorScreen) -> None:
        super().__init__()
        self.monitor = monitor

    def compose(self) -> ComposeResult:
        yield SamplePanel(id="samples-full")
        yield Footer()

    def on_mount(self) -> None:
        self.monitor.show_samples()  # the monitor draws into our panel from now on

    def action_close(self) -> None:
        self.dismiss()

    def action_monitor(self, action: str) -> None:
        getattr(self.monitor, f"action_{action}")()
