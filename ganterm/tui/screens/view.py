"""`ganterm view PATH`: the same layout, read-only.

A checkpoint: its stored history, events and swap markers; samples regenerated from its generator.
A run directory: followed live by polling a RunDirReader in a thread while another process trains.
Everything that touches torch (loading, sampling) runs in thread workers so the screen is up at once.
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
from ganterm.channel.history import MetricHistory
from ganterm.rundir.files import RunDirReader
from ganterm.sysmon import SYSTEM_FILE, SystemLogTail
from ganterm.tui.screens.monitor import CHART_BINDINGS, MonitorScreen
from ganterm.tui.screens.steer import STEER_BINDINGS, SteerMixin
from ganterm.tui.widgets.config_panel import ConfigPanel

RUNDIR_POLL_S = 0.5
INTERPOLATION_STEPS = 8


def config_for_panel(config: dict[str, Any], ckpt: dict[str, Any] | None) -> dict[str, Any]:
    """The run's config with the loss it has now; swaps made during the run listed after it."""
    if not ckpt:
        return dict(config)
    swaps = list(ckpt.get("swaps") or [])
    current = ckpt.get("loss_name") or (swaps[-1]["to"] if swaps else None)
    shown: dict[str, Any] = {}
    for key, value in config.items():
        shown[key] = current if key == "loss" and current else value
        if key == "loss" and swaps:  # right under the loss, not at the end of a long panel
            path = [str(swaps[0]["from"])] + [f"{sw['to']} @{int(sw['step']):,}" for sw in swaps]
            shown["loss swaps"] = " → ".join(path)
    return shown


def fill_feed_from_checkpoint(feed: Feed, ckpt: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's history, events and header fields into a Feed (no torch work)."""
    from ganterm.training.checkpoint import to_numpy_tree

    cfg = ckpt.get("config") or {}
    history = ckpt.get("history")
    if history:
        feed.replace_history(MetricHistory.from_state_dict(to_numpy_tree(history)))
    events = list(ckpt.get("events") or [])
    for ev in events:
        feed.event(
            str(ev.get("kind", "info")),
            str(ev.get("message", "")),
            int(ev.get("step", 0)),
            **{k: v for k, v in ev.items() if k not in ("kind", "message", "step")},
        )
    if not any(ev.get("kind") == "swap" for ev in events):  # older files keep swaps apart
        for sw in ckpt.get("swaps") or []:
            feed.event("swap", f"loss {sw['from']} → {sw['to']}", int(sw["step"]), to=sw["to"])
    step = int(ckpt.get("step", 0))
    from ganterm.channel.layout import layout_of

    algo = str(ckpt.get("algo") or cfg.get("algo") or "gan")
    feed.update(
        algo=algo,
        layout=layout_of(ckpt, history["columns"] if history else ()),
        views=tuple(ckpt.get("views") or ()),
        prior=dict(ckpt.get("prior") or {}),
        state="finished" if step >= int(cfg.get("steps") or 0) else "stopped",
        step=step,
        total_steps=int(cfg.get("steps") or 0),
        dataset=str(cfg.get("dataset", "")),
        model=str(cfg.get("model", "")),
        loss="" if algo == "vae" else str(ckpt.get("loss_name") or cfg.get("loss") or ""),
        run_dir=str(path.parent.parent if path.parent.name == "checkpoints" else path.parent),
        message=path.name,
    )


class ViewScreen(SteerMixin, MonitorScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "new_noise", "new noise", tooltip="samples from new random noise"),
        # n, not f: f opens the samples full screen on every monitor
        Binding("n", "fixed_noise", "fixed", tooltip="back to the run's fixed noise"),
        Binding("i", "interpolate", "interp", tooltip="latent interpolation strips"),
        Binding("o", "config", "config", tooltip="show / hide the run's configuration"),
        *STEER_BINDINGS,  # a run directory only: p c z : write to its command channel
        *CHART_BINDINGS,
    ]

    def __init__(self, path: Path, feed: Feed | None = None, **kwargs) -> None:
        self.path = Path(path)
        # A run directory is checked now (cheap, no torch) so a wrong path fails before the screen opens.
        self.reader = RunDirReader(self.path, feed) if self.path.is_dir() else None
        self.steer_dir = self.path if self.reader else None  # a checkpoint has no process to steer
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
        from ganterm.training.sampling import Sampler

        self.feed.update(message=f"loading {self.path.name} …")
        ckpt = load_checkpoint(self.path)
        fill_feed_from_checkpoint(self.feed, ckpt, self.path)
        self.app.call_from_thread(
            self.query_one(ConfigPanel).show, config_for_panel(ckpt.get("config") or {}, ckpt)
        )
        from ganterm.errors import GantermError

        try:
            self.sampler = Sampler.from_checkpoint(ckpt)
        except GantermError as e:  # networks ganterm cannot rebuild (ganterm.fit): the curves still show
            self.feed.update(message=str(e))
            self.feed.event("warning", str(e), int(ckpt.get("step", 0)))
            return
        self.feed.publish_samples(self.sampler.fixed())

    def _follow(self) -> None:
        assert self.reader is not None
        shown_for: tuple[object, ...] | None = None
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
            from ganterm.training.sampling import Sampler

            self.sampler = Sampler.from_checkpoint(self.reader.checkpoint)
            self._sampler_source = self.reader.checkpoint_path
        return self.sampler

    def _sample(self, how: str, seed: int) -> None:
        sampler = self._current_sampler()
        if sampler is None:
            self.app.call_from_thread(self.notify, "no checkpoint to sample from yet", severity="warning")
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
                self.app.call_from_thread(self.notify, "no checkpoint to sample from yet", severity="warning")
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
            self.notify(f"sampling failed: {event.worker.error}", severity="error")
