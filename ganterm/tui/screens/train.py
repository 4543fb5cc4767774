"""`ganterm train`: the monitor plus the keys that steer the trainer through Control.

The trainer runs in a thread worker; this screen only reads the Feed and writes Control, so a slow
frame here never stalls a training step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import LOSS_NAMES
from ganterm.rundir.grids import RecordedGrids
from ganterm.tui.dialogs import LossPicker
from ganterm.tui.monitor import CHART_BINDINGS, HELP_BINDING, MonitorScreen
from ganterm.tui.timeline import Entry


class TrainScreen(MonitorScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        HELP_BINDING,
        Binding("space,p", "toggle_pause", "pause", key_display="p", tooltip="pause / resume training"),
        Binding("l", "swap_loss", "loss", tooltip="swap the loss (pick from a list)"),
        Binding("c", "checkpoint", "ckpt", tooltip="write a checkpoint now"),
        Binding("r", "resample", "resample", tooltip="resample the grid from new noise"),
        Binding("b", "rollback", "rollback", show=False, tooltip="roll back to the last good checkpoint"),
        *CHART_BINDINGS,
    ]

    def __init__(
        self,
        feed: Feed,
        control: Control,
        runner: Callable[[], None] | None = None,
        **kwargs,
    ) -> None:
        """`runner` trains into `feed` obeying `control` (None: only watch the feed, as tests do)."""
        super().__init__(feed, **kwargs)
        self.control = control
        self.runner = runner
        self.worker: Worker[None] | None = None
        self.stopping = False
        self.error: BaseException | None = None

    def on_mount(self) -> None:
        super().on_mount()
        if self.runner is not None:
            self.worker = self.run_worker(self.runner, name="trainer", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        # However the app ends, the trainer must stop: the process waits for its thread on exit.
        self.control.stop()

    def state_label(self) -> str | None:
        if self.stopping and self.feed.snapshot.state not in ("finished", "stopped", "error"):
            return "stopping"
        return None

    # -- keys ------------------------------------------------------------------------------------
    def scrub_entries(self) -> list[Entry]:
        """The feed keeps the newest frames; the run directory's grids reach back to step 0."""
        run_dir = self.feed.snapshot.run_dir
        if self.feed.archive is None and run_dir:
            self.feed.archive = RecordedGrids(run_dir)
        return super().scrub_entries()

    def action_toggle_pause(self) -> None:
        self.control.toggle_pause()

    def _pick_loss(self) -> None:
        current = self.feed.snapshot.loss

        def chosen(name: str | None) -> None:
            if name and name != current:
                self.control.swap_loss(name)
                self.notify(f"swapping loss {current} → {name}", timeout=3)

        self.app.push_screen(LossPicker(LOSS_NAMES, current), chosen)

    def request_view(self, spec: dict | None) -> None:
        self.control.show_view(spec)  # the trainer publishes it now and with every grid after

    def action_swap_loss(self) -> None:
        if not self.feed.snapshot.loss:
            self.notify(f"--algo {self.feed.snapshot.algo} has no GAN loss to swap", timeout=4)
            return
        self._pick_loss()

    def action_checkpoint(self) -> None:
        self.control.checkpoint()
        self.notify("checkpoint requested", timeout=2)

    def action_resample(self) -> None:
        self.control.resample()

    def action_rollback(self) -> None:
        self.control.rollback()
        self.notify("rolling back to the last good checkpoint", timeout=3)

    def request_quit(self) -> None:
        """Stop the trainer (it writes a final checkpoint), then exit once its thread has returned."""
        if self.stopping:
            return
        self.stopping = True
        self.control.stop()
        self.refresh_status()
        if self.worker is None or self.worker.is_finished:
            self.app.exit(return_code=1 if self.error else 0)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.worker:
            return
        if event.state == WorkerState.ERROR:
            # The app ends and run_train_app re-raises: a GantermError becomes one line from the CLI.
            self.error = event.worker.error
            self.app.exit(return_code=1)
        elif event.state in (WorkerState.SUCCESS, WorkerState.CANCELLED):
            self.poll_feed()
            if self.stopping:
                self.app.exit(return_code=0)
