"""`ganterm view PATH`: the same layout, read-only.

A checkpoint: its stored history, events and swap markers; samples regenerated from its generator.
A run directory: followed live by polling a RunDirReader in a thread while another process trains.
Everything that touches torch (loading, sampling) runs in thread workers so the screen is up at once.
A run that records a model file is rebuilt only from the file `--model` named (`trusted`); without it
the status line says so and how to trust it, and the run's recorded grids stand in for samples.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from ganterm.channel.feed import Feed
from ganterm.channel.text import MESSAGE_LIMIT, shown
from ganterm.rundir.reader import RunDirReader, newest_grid
from ganterm.rundir.runs import is_run_dir, open_reader
from ganterm.sysmon import SYSTEM_FILE, SystemLogTail
from ganterm.tui.adapters import RUNDIR_POLL_S, config_for_panel, fill_feed_from_checkpoint
from ganterm.tui.monitor import CHART_BINDINGS, HELP_BINDING, MonitorScreen
from ganterm.tui.steering import STEER_BINDINGS, SteerMixin
from ganterm.tui.widgets.config_panel import ConfigPanel

INTERPOLATION_STEPS = 8


class ViewScreen(SteerMixin, MonitorScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        HELP_BINDING,
        Binding("r", "new_noise", "new noise", tooltip="samples from new random noise"),
        # n, not f: f opens the samples full screen on every monitor
        Binding("n", "fixed_noise", "fixed", show=False, tooltip="back to the run's fixed noise"),
        Binding("i", "interpolate", "interp", show=False, tooltip="latent interpolation strips"),
        Binding("o", "config", "config", tooltip="show / hide the run's configuration"),
        Binding("escape", "close_config", "close", show=False, tooltip="close the configuration panel"),
        *STEER_BINDINGS,  # a run directory only: p c z : write to its command channel
        *CHART_BINDINGS,
    ]

    def __init__(self, path: Path, feed: Feed | None = None, trusted: Any = None, **kwargs) -> None:
        self.path = Path(path)
        self.trusted = trusted  # the model file `--model` named: the only code that may rebuild G
        self.command = f"ganterm view {self.path}"
        self.no_sampler_why = "no checkpoint to sample from yet"
        # A run directory is checked now (cheap, no torch) so a wrong path fails before the screen opens.
        followed = self.path.is_dir() or is_run_dir(self.path)  # a TensorBoard events file is followed too
        self.reader = open_reader(self.path, feed) if followed else None
        # Nothing to steer in a checkpoint or a TensorBoard log.
        self.steer_dir = self.path if isinstance(self.reader, RunDirReader) else None
        # The run's recorded system readings (none for a checkpoint file: the pane says so).
        self.system_log = SystemLogTail(self.path / SYSTEM_FILE) if self.reader else None
        kwargs.setdefault("system", self.system_log)
        super().__init__(self.reader.feed if self.reader else (feed or Feed()), **kwargs)
        self.sampler: Any = None
        self._sampler_source: Path | None = None
        self._seed = 0
        self._stop = threading.Event()
        self.loader: Worker[None] | None = None
        self.error: BaseException | None = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield ConfigPanel(id="config")

    def on_mount(self) -> None:
        super().on_mount()
        work = self._follow if self.reader else self._load
        self.loader = self.run_worker(work, name="loader", thread=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._stop.set()

    def state_label(self) -> str | None:
        return None if self.reader else "view"

    # -- thread work -----------------------------------------------------------------------------
    def _load(self) -> None:
        from ganterm.training.checkpoint import load_checkpoint
        from ganterm.training.checkpoint_frames import sampler_for

        self.feed.update(message=f"loading {shown(self.path.name)} …")
        ckpt = load_checkpoint(self.path)
        fill_feed_from_checkpoint(self.feed, ckpt, self.path)
        self.app.call_from_thread(
            self.query_one(ConfigPanel).show, config_for_panel(ckpt.get("config") or {}, ckpt)
        )
        self.sampler, why = sampler_for(ckpt, self.trusted, str(self.path), self.command)
        if self.sampler is None:  # an untrusted model file, ganterm.fit's networks: the curves still show
            self.no_sampler_why = shown(why, MESSAGE_LIMIT)
            self.feed.update(message=self.no_sampler_why)
            self.feed.event("warning", self.no_sampler_why, int(ckpt.get("step", 0)))
            if self.path.parent.name == "checkpoints":  # the grids its run recorded, up to this step
                frame = newest_grid(self.path.parent.parent, int(ckpt.get("step", 0)))
                if frame is not None:
                    self.feed.publish_samples(frame)
            return
        self.feed.publish_samples(self.sampler.fixed())

    def _follow(self) -> None:
        assert self.reader is not None
        shown_for: tuple[object, ...] | None = None
        self.reader.poll()  # the curves first; the checkpoint source below imports torch (~1 s)
        from ganterm.training.checkpoint_frames import CheckpointFrames

        if isinstance(self.reader, RunDirReader):  # a TensorBoard log has no checkpoints of ours
            self.reader.checkpoints = CheckpointFrames(self.trusted, self.command)
        while not self._stop.is_set():
            self.reader.poll()
            self.poll_steer_status()
            if self.system_log is not None:
                self.system_log.poll()
            # Again whenever a newer checkpoint arrives: it knows the loss the run has swapped to.
            source = (bool(self.reader.config), self.reader.checkpoint_path)
            if self.reader.config and source != shown_for:
                shown_for = source
                shown = config_for_panel(self.reader.config, self.reader.checkpoint)
                self.app.call_from_thread(self.query_one(ConfigPanel).show, shown)
            self._stop.wait(RUNDIR_POLL_S)

    def _current_sampler(self) -> Any:
        """The checkpoint's sampler; for a run directory, one rebuilt from its newest checkpoint."""
        if self.reader is None or self.reader.checkpoint is None:
            return self.sampler
        if self._sampler_source != self.reader.checkpoint_path:
            from ganterm.training.checkpoint_frames import sampler_for

            ckpt = self.reader.checkpoint
            self.sampler, why = sampler_for(ckpt, self.trusted, str(self.path), self.command)
            self.no_sampler_why = shown(why, MESSAGE_LIMIT)
            self._sampler_source = self.reader.checkpoint_path
        return self.sampler

    def _say_no_sampler(self) -> None:
        self.app.call_from_thread(self.notify, self.no_sampler_why, severity="warning", markup=False)

    def _sample(self, how: str, seed: int) -> None:
        sampler = self._current_sampler()
        if sampler is None:
            self._say_no_sampler()
            return
        if how == "fixed":
            frame, note, strip = sampler.fixed(), "fixed noise", None
        elif how == "random":
            frame, note, strip = sampler.random(seed), f"new noise (seed {seed})", None
        else:
            rows = 4 if sampler.kind == "images" else 32
            frame = sampler.interpolate(INTERPOLATION_STEPS, seed, rows=rows)
            note, strip = f"interpolation (seed {seed})", INTERPOLATION_STEPS
        self.note_frame(frame, note, strip)
        self.feed.publish_samples(frame)

    def request_view(self, spec: dict | None) -> None:
        """An extra view (traversal, one class, reconstructions) from the checkpoint's networks."""
        if spec is None:
            return

        def work() -> None:
            sampler = self._current_sampler()
            if sampler is None:
                self._say_no_sampler()
                return
            frame = sampler.view_frame(spec)
            if frame is not None:
                self.feed.publish_samples(frame)

        self.run_worker(work, name="view", group="sample", thread=True, exclusive=True, exit_on_error=False)

    def _start_sampling(self, how: str) -> None:
        self._seed += 1
        seed = self._seed
        self.run_worker(
            lambda: self._sample(how, seed),
            name="sampler",
            group="sample",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    # -- keys ------------------------------------------------------------------------------------
    def action_new_noise(self) -> None:
        self._start_sampling("random")

    def action_fixed_noise(self) -> None:
        self._start_sampling("fixed")

    def action_interpolate(self) -> None:
        self._start_sampling("interpolate")

    def action_config(self) -> None:
        self.query_one(ConfigPanel).toggle_class("-shown")

    def action_close_config(self) -> None:
        """Esc closes the panel, as it closes help and the samples full screen."""
        self.query_one(ConfigPanel).remove_class("-shown")

    def request_quit(self) -> None:
        self._stop.set()
        self.app.exit(return_code=1 if self.error else 0)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker is self.loader:
            self.error = event.worker.error
            self.app.exit(return_code=1)
        else:
            self.notify(f"sampling failed: {event.worker.error}", severity="error", markup=False)
