"""The Textual app: thin. It owns one monitor screen and routes quitting through it.

A `Session` calls `run_train_app`, the CLI `run_view_app`; torch is imported only inside the workers they
start,
so the screen is up (and says it is loading) before torch has finished importing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import textual.constants
from textual.app import App
from textual.binding import Binding, BindingType

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.errors import CheckpointError
from ganterm.render.terminal import detect_color_system
from ganterm.signals import handling_signals
from ganterm.sysmon import ReadingSource
from ganterm.tui.monitor import MonitorScreen
from ganterm.tui.screens.compare import CompareScreen
from ganterm.tui.screens.train import TrainScreen
from ganterm.tui.screens.view import ViewScreen

# Our names -> Rich's colour systems (None: no colour at all).
RICH_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard", "none": None}


@contextmanager
def _console_color_system(color_system: str):
    """Textual reads its console's colour system from a module constant when the App is built."""
    saved = textual.constants.COLOR_SYSTEM
    textual.constants.COLOR_SYSTEM = RICH_COLOR_SYSTEMS.get(color_system, "auto")  # type: ignore[misc]
    try:
        yield
    finally:
        textual.constants.COLOR_SYSTEM = saved  # type: ignore[misc]


class GantermApp(App[None]):
    CSS_PATH = "ganterm.tcss"
    TITLE = "ganterm"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit", tooltip="quit (training stops after a final checkpoint)"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    def __init__(self, monitor: MonitorScreen, color_system: str | None = None) -> None:
        """`color_system` forces the colour depth; None lets Textual read it from the environment."""
        if color_system is None:
            super().__init__()
        else:
            with _console_color_system(color_system):
                super().__init__()
        self.monitor = monitor
        # Set when the trainer thread has returned (final checkpoint written); None for `view`.
        self.producer_done: threading.Event | None = None

    def on_mount(self) -> None:
        self.push_screen(self.monitor)

    def action_quit(self) -> None:  # type: ignore[override]
        self.monitor.request_quit()

    def monitor_stop(self) -> None:
        """Outside the event loop: stop the producer so the process can end."""
        control = getattr(self.monitor, "control", None)
        if control is not None:
            control.stop("signal")


def resolve_color_system(colors: str | None) -> str:
    """The depth our own renderables draw in: forced by `colors`, else from the environment (NO_COLOR too)."""
    return detect_color_system(os.environ, colors)


def train_app(
    feed: Feed,
    control: Control,
    runner: Callable[[], None],
    colors: str | None = None,
    system: ReadingSource | None = None,
) -> GantermApp:
    """The monitor over a run: `runner` trains into `feed` obeying `control`, in a worker thread
    (a `Session` hands its own; see `Session.monitor_app`); `system` feeds the system pane."""
    done = threading.Event()

    def train() -> None:
        try:
            runner()
        finally:
            done.set()

    color_system = resolve_color_system(colors)
    app = GantermApp(
        TrainScreen(feed, control, train, color_system=color_system, system=system),
        color_system if colors else None,
    )
    app.producer_done = done
    return app


def _exit_after_hangup(app: GantermApp) -> None:
    """The terminal is gone (SSH dropped): Textual can block for ever writing to it, so once the trainer
    has written its final checkpoint, end the process ourselves."""
    app.monitor_stop()
    if app.producer_done is not None:
        app.producer_done.wait(timeout=600)
    os._exit(0)


def view_app(path: Path, colors: str | None = None, trusted: object = None) -> GantermApp:
    """The app `ganterm view PATH` runs: PATH a checkpoint file or a run directory; `trusted` the model
    file `--model` named (models/user_file.TrustedModelFile), the only one that may rebuild G."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run directory: {path}")
    color_system = resolve_color_system(colors)
    screen = ViewScreen(path, color_system=color_system, trusted=trusted)
    return GantermApp(screen, color_system if colors else None)


@contextmanager
def _quit_on_signals(app: GantermApp):
    """SIGTERM, SIGHUP (the SSH link dropped) and an external SIGINT quit like `q`: final checkpoint, exit.

    In raw mode Ctrl-C arrives as a key, not a signal; these come from outside. The handler runs on the
    loop's own thread, so it only schedules the quit through the loop's thread-safe entry.
    """

    def handler(signum: int, _frame: object) -> None:
        if signum == getattr(signal, "SIGHUP", None):
            threading.Thread(target=_exit_after_hangup, args=(app,), daemon=True).start()
        try:
            asyncio.get_running_loop().call_soon_threadsafe(app.action_quit)
        except RuntimeError:  # before the loop runs or after it closed
            app.monitor_stop()

    with handling_signals(handler):
        yield


def run_app(app: GantermApp) -> int:
    """Run until quit; a failure in the trainer or loader is re-raised once the terminal is restored."""
    with _quit_on_signals(app):
        app.run()
    error = getattr(app.monitor, "error", None)
    if error is not None:
        raise error
    return app.return_code or 0


def run_train_app(app: GantermApp) -> int:
    """Run the monitor (`train_app`); the exit code (0 after `q`, once the final checkpoint is written)."""
    code = run_app(app)
    run_dir = app.monitor.feed.snapshot.run_dir
    if run_dir:
        with contextlib.suppress(OSError):  # the terminal went away while we shut down; the run is saved
            print(f"run directory: {run_dir}")
    return code


def run_view_app(path: Path, colors: str | None, trusted: object = None) -> int:
    """View a checkpoint file or follow a run directory; the exit code."""
    return run_app(view_app(path, colors, trusted))


def compare_app(paths: list[Path], colors: str | None = None, trusted: object = None) -> GantermApp:
    """The app `ganterm view A B ...` runs: the runs (directories or checkpoints, as `find_runs` lists
    them) overlaid on the same charts; `trusted` as for `view_app`, for the runs that record that file."""
    color_system = resolve_color_system(colors)
    screen = CompareScreen([Path(p) for p in paths], color_system=color_system, trusted=trusted)
    return GantermApp(screen, color_system if colors else None)


def run_compare_app(paths: list[Path], colors: str | None, trusted: object = None) -> int:
    """Compare several runs; the exit code."""
    return run_app(compare_app(paths, colors, trusted))
