"""One wiring for every way a run starts: `ganterm train` (monitor or headless), `ganterm.fit` (monitor or
headless) and each DDP rank under torchrun all make a `Session` and call `run`.

A session owns what surrounds the trainer, so a fix lands once:
- the feed and control the trainer and its front end share;
- the evaluator (the trainer is handed it; it imports no evaluation code);
- on rank 0: the system sampler (the pane, the headless line, RUN/system.jsonl) and the RUN/commands
  server (`ganterm view RUN` from another SSH session steers the run), for the monitor and headless alike;
- signals: SIGINT, SIGTERM and SIGHUP finish the step, write a final checkpoint and exit 0 (under the
  monitor the app takes them and quits the same way);
- the rank's role: rank 0 owns the front end and the run directory, the others train quietly;
- one translation of a user network's mid-run exception into one line that names the step.

Heavy modules (torch, Textual, the evaluator) are imported inside the methods that need them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, algo_has_loss
from ganterm.errors import GantermError, RunError, is_out_of_memory
from ganterm.signals import handling_signals

__all__ = ["Session", "default_evaluator", "join_ranks", "stop_on_signals"]


def default_evaluator() -> Callable[..., dict[str, float]]:
    """The trainer's quality figures (PacGAN modes, FCD, class and code accuracy) at a bounded cost, and
    its `milestone` ("digits readable at step N"): a fresh `eval.live.LiveEvaluator` per run."""
    from ganterm.eval.live import LiveEvaluator

    return LiveEvaluator()


def join_ranks() -> Any:
    """This process's place in a DDP run when torchrun started it (joins the process group), else None."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return None
    from ganterm.training.ranks import from_environment  # torch

    return from_environment()


def stop_on_signals(control: Control) -> contextlib.AbstractContextManager[None]:
    """Ctrl-C, SIGTERM and SIGHUP (the SSH connection dropped) stop the run after its step, with a final
    checkpoint. A second signal while stopping only asks again: the final checkpoint must not be torn by
    impatience."""
    return handling_signals(lambda signum, _frame: control.stop(reason=signal.Signals(signum).name))


class Session:
    """A run and the services around it. `data` and `networks` are `ganterm.fit`'s: the user's dataset
    and (G, D) in place of the registry's; `evaluator` None means no quality figures."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        dist: Any = None,
        data: Any = None,
        networks: tuple[Any, Any] | None = None,
        evaluator: Callable[..., dict[str, float]] | str | None = "default",
        source: str = "ganterm train",
    ) -> None:
        self.cfg = cfg
        self.dist = dist
        self.data = data
        self.networks = networks
        self.evaluator = default_evaluator() if evaluator == "default" else evaluator
        self.source = source
        self.feed, self.control = Feed(), Control()
        self.trainer: Any = None
        self.system: Any = None
        self.main = dist is None or dist.is_main
        self.feed.update(
            state="starting",
            dataset=cfg.dataset,
            model=str(cfg.model or ""),
            algo=str(cfg.algo or ""),
            loss=str(cfg.loss or "") if algo_has_loss(cfg.algo) else "",
            total_steps=cfg.steps or 0,
            message="loading torch …",
        )

    # ------------------------------------------------------------------------------------------
    def train(self, progress: bool = False) -> None:
        """Build the trainer and run it to its end, in whichever thread calls this (the monitor's worker,
        or the main thread headless). A network that raises mid-run (user code) becomes one line naming
        the step and the last checkpoint, which the trainer has already written."""
        from ganterm.training.trainer import Trainer  # torch (~1 s): only once a run really starts

        self.trainer = Trainer(
            self.cfg,
            self.feed,
            self.control,
            progress=progress,
            evaluator=self.evaluator,
            dist=self.dist,
            data=self.data,
            networks=self.networks,
        )
        try:
            self.trainer.run()
        except GantermError:
            raise
        except Exception as e:
            if is_out_of_memory(e) or os.environ.get("GANTERM_DEBUG"):
                raise
            from ganterm.models.shape_check import stopped_line

            raise RunError(stopped_line(e, self.trainer.step, self.trainer.last_checkpoint)) from None

    @contextlib.contextmanager
    def services(self) -> Iterator[Any]:
        """Rank 0's services for any front end: system readings (and RUN/system.jsonl once the run
        directory exists) and the RUN/commands server. Yields the system sampler (None on other ranks)."""
        if not self.main:
            yield None
            return
        from ganterm.rundir.server import serve_commands
        from ganterm.sysmon import SystemSampler

        self.system = SystemSampler()
        self.system.record_run(self.feed)
        self.system.start()
        stop_serving = serve_commands(self.feed, self.control, self.source)
        try:
            yield self.system
        finally:
            stop_serving()
            self.system.stop()

    def run(self, monitor: bool, colors: str | None = None) -> int:
        """Train under the live monitor (rank 0 with `monitor`) or headless; the process's exit code."""
        try:
            if monitor and self.main:
                return self._run_monitor(colors)
            self._run_headless()
            return 0
        finally:
            if self.dist is not None:
                self.dist.close()

    def monitor_app(self, colors: str | None = None, system: Any = None) -> Any:
        """The monitor's app over this session (tests and benchmarks build it the same way)."""
        from ganterm.tui.app import train_app  # ~0.15 s of Textual, only for the monitor

        return train_app(self.feed, self.control, self.train, colors, system)

    def _run_monitor(self, colors: str | None) -> int:
        from ganterm.tui.app import run_train_app

        with self.services() as system:
            return run_train_app(self.monitor_app(colors, system))

    def _run_headless(self) -> None:
        """The progress line on rank 0 (download bars on stderr); the other ranks only train."""
        with self.services() as system, stop_on_signals(self.control):
            reporter = None
            if self.main:
                from ganterm.report import HeadlessReporter

                reporter = HeadlessReporter(self.feed, system=system)
                reporter.start()
            try:
                self.train(progress=self.main)
            finally:
                if reporter is not None:
                    reporter.stop()
