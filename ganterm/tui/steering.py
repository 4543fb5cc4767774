"""Steering another process's run from `ganterm view RUN_DIR`: keys that write to the command channel.

The training process (a script using `ganterm.Run`, or a headless `ganterm train`) takes the commands from
RUN/commands/ and says what it did in events.jsonl, which the view already follows: a key shows "sent
pause" at once, and the script's own event ("paused at step 1,200") confirms it. Nothing here waits on the
other process, so a run whose script is not running simply keeps the command for its next start.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ganterm.channel.feed import Event
from ganterm.rundir.commands import (
    BUILTIN_COMMANDS,
    STATUS_FILE,
    parse_command_line,
    read_status,
    registered_commands,
    send_command,
    status_is_live,
)

STEER_ACTIONS = ("steer_pause", "steer_checkpoint", "steer_stop", "steer_command")
# The training side's events that answer a command (the trainer says "end" when it stops).
ACK_KINDS = ("pause", "resume", "stop", "command", "checkpoint", "end")

STEER_BINDINGS: list[BindingType] = [
    Binding("p", "steer_pause", "pause", tooltip="pause / resume the training process"),
    Binding("c", "steer_checkpoint", "ckpt", tooltip="ask the training process for a checkpoint now"),
    Binding("z", "steer_stop", "stop", show=False, tooltip="stop the training process (asks first)"),
    Binding(
        "colon",
        "steer_command",
        "cmd",
        show=False,
        key_display=":",
        tooltip="send a command the script registered",
    ),
]


class ConfirmScreen(ModalScreen[bool]):
    """A yes / no question; dismisses with True only for `y`."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Static {
        width: auto;
        max-width: 80%;
        height: auto;
        border: round $warning;
        padding: 0 1;
        background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        box = Static(Text.assemble(self.question, "  ", ("y", "bold"), " / ", ("n", "bold")))
        box.border_title = "confirm"
        yield box

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class CommandPrompt(ModalScreen[tuple[str, dict[str, Any]] | None]):
    """`name [value]` for a command the script registered; the list comes from its status.json."""

    DEFAULT_CSS = """
    CommandPrompt {
        align: center middle;
    }
    CommandPrompt > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    CommandPrompt #prompt-error {
        color: $error;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, status: dict[str, Any] | None) -> None:
        super().__init__()
        self.status = status

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "send a command"
            box.border_subtitle = "enter sends · esc cancels"
            yield Static(self._listing(), id="prompt-list")
            yield Input(placeholder=self._example(), id="prompt-input")
            yield Static("", id="prompt-error")

    def _listing(self) -> Text:
        text = Text(end="")
        if self.status is None:
            return text.append("no status.json yet: the script's commands are unknown", "italic")
        for i, c in enumerate([*registered_commands(self.status), *BUILTIN_COMMANDS]):
            if i:
                text.append("\n")
            arg = f" <{c['arg']}>" if c.get("arg") else ""
            text.append(f"{c['name']}{arg}", "bold")
            if c.get("help"):
                text.append(f"  {c['help']}", "dim")
        return text

    def _example(self) -> str:
        named = registered_commands(self.status)
        if named:
            c = named[0]
            if not c.get("arg"):
                return str(c["name"])
            return f"{c['name']} {'0.001' if c.get('arg') == 'float' else 'VALUE'}"
        return "name [value]"

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_command_line(event.value, self.status))
        except ValueError as e:
            self.query_one("#prompt-error", Static).update(str(e))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SteerMixin:
    """Mixed into a monitor screen (before MonitorScreen) that may follow a run directory.

    The screen sets `steer_dir` (None: a checkpoint, nothing to steer, the keys are hidden) and calls
    `poll_steer_status()` from its reader thread.
    """

    steer_dir: Path | None = None
    steer_status: dict[str, Any] | None = None
    _status_mtime: float = -1.0
    _awaiting: str | None = None  # the last command sent, until the script answers
    _pause_sent: tuple[float, bool] | None = None  # (when, paused?) of the last pause / resume sent

    # -- status, from the reader thread ----------------------------------------------------------
    def poll_steer_status(self) -> None:
        if self.steer_dir is None:
            return
        try:
            mtime = os.stat(self.steer_dir / STATUS_FILE).st_mtime
        except OSError:
            return
        if mtime == self._status_mtime:
            return
        self._status_mtime = mtime
        status = read_status(self.steer_dir)
        if status is None:
            return
        self.steer_status = status
        # The reader knows "running" and "finished"; only the status knows "paused".
        feed = self.feed  # type: ignore[attr-defined]
        state = status.get("state")
        now = feed.snapshot.state
        if state in ("running", "paused") and now in ("starting", "running", "paused") and now != state:
            feed.update(state=state)

    # -- keys --------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in STEER_ACTIONS and self.steer_dir is None:
            return False
        return super().check_action(action, parameters)  # type: ignore[misc]

    def send_steer(self, name: str, args: dict[str, Any] | None = None) -> bool:
        assert self.steer_dir is not None
        notify = self.notify  # type: ignore[attr-defined]
        try:
            send_command(self.steer_dir, name, args)
        except OSError as e:
            notify(f"could not send {name}: {e.strerror or e}", severity="error")
            return False
        shown = f"{name} {args['value']}" if args and "value" in args else name
        self._awaiting = shown
        self.feed.update(message=f"sent {shown}")  # type: ignore[attr-defined]
        status = read_status(self.steer_dir)
        if status_is_live(status):
            notify(f"sent {shown}", timeout=3)
        else:
            notify(
                f"sent {shown}; no training process serves this run now: it waits for the next start",
                severity="warning",
                timeout=6,
            )
        return True

    def _paused_now(self) -> bool:
        status = read_status(self.steer_dir) if self.steer_dir else None
        if self._pause_sent is not None:
            sent_at, paused = self._pause_sent
            beat = float((status or {}).get("heartbeat") or 0)
            if beat < sent_at:  # the script has not written a status since: trust what we sent
                return paused
        return bool(status and status.get("state") == "paused")

    def action_steer_pause(self) -> None:
        name = "resume" if self._paused_now() else "pause"
        if self.send_steer(name):
            self._pause_sent = (time.time(), name == "pause")

    def action_steer_checkpoint(self) -> None:
        self.send_steer("checkpoint")

    def action_steer_stop(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.send_steer("stop", {"reason": "viewer"})

        self.app.push_screen(ConfirmScreen("Stop the training process?"), answered)  # type: ignore[attr-defined]

    def action_steer_command(self) -> None:
        def chosen(result: tuple[str, dict[str, Any]] | None) -> None:
            if result is not None:
                self.send_steer(*result)

        status = read_status(self.steer_dir) if self.steer_dir else None
        self.app.push_screen(CommandPrompt(status), chosen)  # type: ignore[attr-defined]

    # -- the script's answers ----------------------------------------------------------------------
    def announce(self, events: list[Event]) -> None:
        super().announce(events)  # type: ignore[misc]
        if self._awaiting is None:
            return
        for ev in events:
            if ev.kind in ACK_KINDS:
                self._awaiting = None
                self.feed.update(message="")  # type: ignore[attr-defined]
                if ev.kind != "checkpoint":  # the monitor already shows "checkpoint saved: PATH"
                    self.notify(f"script: {ev.message}", timeout=4, markup=False)  # type: ignore[attr-defined]
                return
