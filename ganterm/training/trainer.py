"""The training loop. It knows no algorithm and no UI; read it top to bottom.

What is trained and how (GAN, cGAN, InfoGAN, VAE) is the algorithm's (`algos/`); what is built before the
first step is `build.py`'s; how long the run is, `length.py`; what a checkpoint holds and how it comes back,
`checkpointing.py`; what the run says (metrics, samples, quality, events), `publish.py`; what commands do,
`commands.py`; what DDP ranks agree on, `exchange.py`. Quality figures come from an evaluator the caller
hands in. Under the monitor the loop runs in a worker thread; headless in the main thread. The only host
syncs are at publish time (every `publish_every` steps), except on the CPU, where checking each step
for NaN costs nothing and catches a NaN at the step it happens.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganterm.algos.base import Algorithm, StepContext
from ganterm.algos.catalog import build_algorithm
from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.channel.history import MetricHistory
from ganterm.config import TrainConfig, recipe_key
from ganterm.errors import GantermError
from ganterm.models.shape_check import check_shapes
from ganterm.rundir.tensorboard_writer import TensorBoardWriter
from ganterm.rundir.writer import RunDirWriter
from ganterm.training import build
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.checkpointing import Checkpointer, check_resume_config
from ganterm.training.commands import Commands
from ganterm.training.device import has_fast_bf16, pick_device
from ganterm.training.exchange import RankSync
from ganterm.training.health import HealthMonitor
from ganterm.training.length import UNKNOWN_TOTAL, RunLength
from ganterm.training.publish import Publisher
from ganterm.training.ranks import RankLostError, Solo
from ganterm.training.state import TrainingState, plain

__all__ = ["UNKNOWN_TOTAL", "Evaluator", "Trainer", "has_fast_bf16", "pick_device"]

# (sampler, dataset, seed, device) -> quality figures by name; see ganterm.eval.quality.evaluate_sampler
Evaluator = Callable[..., dict[str, float]]


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        feed: Feed | None = None,
        control: Control | None = None,
        *,
        progress: bool = False,
        evaluator: Evaluator | None = None,
        dist: Solo | None = None,
        data: Any = None,
        networks: tuple[torch.nn.Module, torch.nn.Module] | None = None,
    ) -> None:
        """`data` and `networks` (ganterm.fit's): a dataset and (G, D) in place of the registry's.
        `progress`: download bars on stderr (headless); else progress goes to the feed's message."""
        self.cfg = cfg
        # This process's place in a DDP run (Solo: the only one). Rank 0 owns the feed's consumers, the
        # run directory and checkpoints; every rank trains, and all apply rank 0's decisions together.
        self.dist = dist or Solo()
        cfg.world_size = self.dist.world_size
        self.feed = feed or Feed()
        self.control = control or Control()
        self.evaluator = evaluator
        self.progress = progress
        self._given_data, self._given_networks = data, networks
        self.state: TrainingState | None = None
        self.writer: RunDirWriter | None = None
        self.tensorboard: TensorBoardWriter | None = None
        self.run_dir: Path | None = None
        self.paused = False
        self.view_spec: dict[str, Any] | None = None  # the extra sample view the UI asked for
        self.swaps: list[dict[str, Any]] = []
        self.checkpoints = Checkpointer(self)
        self.publisher = Publisher(self)
        self.commands = Commands(self)
        self.sync = RankSync(self)

    @property
    def step(self) -> int:
        return self.state.step if self.state is not None else 0

    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpoints.last

    @property
    def total_steps(self) -> int:
        return self.length.total

    # ------------------------------------------------------------------------------------------
    # setup: device, data, the algorithm's networks (scratch or resume), fixed latents, run dir
    # ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.feed.update(state="starting", message="loading data and building models ...")
        resume = load_checkpoint(cfg.resume) if cfg.resume else None
        if resume is not None:
            check_resume_config(resume["config"], cfg)
        self.device = self.dist.device(pick_device(cfg.device))
        if recipe_key(cfg.dataset) in ("ring", "grid") and "OMP_NUM_THREADS" not in os.environ:
            # 2-D toy MLPs are far too small to split across cores; a second thread only waits (and on a
            # busy machine made ring ~50x slower). Fixed per dataset, so a resumed run computes the same.
            torch.set_num_threads(1)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.data = self._given_data
        if self.data is None:
            say = lambda line: self.feed.update(message=line)  # noqa: E731
            self.data = build.load_data(cfg, self.device, self.progress, say)
        gen = torch.Generator(device=self.data.device if self.data.data is not None else self.device)
        gen.manual_seed(self.dist.rank_seed(cfg.seed))  # each rank draws its own batches

        self.algo: Algorithm = build_algorithm(cfg, self.data.shape, self.data.n_classes)
        if self._given_networks is not None:
            self.algo.networks = self._given_networks  # the algorithm wraps them as it wraps its own
        self.state, notes = build.build_state(self.algo, cfg, self.data, self.device, gen, self.dist)
        self.algo.setup(self.state)
        # one batch through G and D: a network that does not fit the data fails here, in one line
        nets = {name: plain(m) for name, m in self.state.modules.items()}
        check_shapes(self.algo, nets, self.data, int(cfg.batch_size), self.device)
        self.autocast_dtype = build.autocast_dtype(cfg.precision, self.data.kind, self.device)
        self.sampler = build.make_sampler(
            self.algo, self.state, self.data, cfg, self.device, self.autocast_dtype
        )
        self.length = RunLength(cfg, self.data.size)
        self.history = MetricHistory(tuple(self.algo.metrics))
        self.health = HealthMonitor()
        if cfg.compile:
            for name, net in list(self.state.modules.items()):
                self.state.modules[name] = torch.compile(net)  # type: ignore[assignment]
        if resume is not None:
            self.checkpoints.restore(resume)

        out = build.run_dir_for(cfg)
        if self.dist.is_main:
            self.writer = RunDirWriter(out, self.checkpoints.config_record(), resume=resume is not None)
            if cfg.tensorboard:  # a team's TensorBoard keeps working beside the viewer
                self.tensorboard = TensorBoardWriter(out / "tensorboard")
        self.run_dir = out
        self.feed.replace_history(self.history)
        world = self.dist.world_size
        self.feed.update(
            state="running",
            message="",
            dataset=cfg.dataset,
            model=str(cfg.model),
            algo=self.algo.name,
            loss=self.algo.loss_name,
            layout=self.algo.layout,
            views=tuple(self.algo.views),
            prior=self.algo.prior.to_dict(),
            device=str(self.device) if world == 1 else f"{self.device} ×{world}",
            total_steps=self.length.known_total(),
            run_dir=str(out),
            step=self.step,
        )
        what = f"resumed from {cfg.resume} at step {self.step}" if resume else "started"
        loss = f" / {self.algo.loss_name}" if self.algo.loss_name else ""
        self.publisher.event(
            "start",
            f"{what}: {cfg.dataset} / {self.algo.name} / {cfg.model}{loss} on {self._where()}"
            f"{build.data_note(cfg, self.data)}",
            run_dir=str(out),
            world_size=world,
            global_batch=world * int(cfg.batch_size),
        )
        for note in notes:
            self.publisher.event("info", note)

    def _where(self) -> str:
        if self.dist.world_size == 1:
            return str(self.device)
        n, b = self.dist.world_size, int(self.cfg.batch_size)
        return (
            f"{n} processes ({self.dist.backend}, {self.device.type}), global batch {n * b} ({b} per process)"
        )

    # ------------------------------------------------------------------------------------------
    # the run: set up, train until done or stopped, always end with a checkpoint of the last good state
    # ------------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.setup()
        except GantermError as e:
            self.feed.update(state="error", message=str(e))
            self.feed.event("error", str(e))
            raise
        try:
            self._loop()
        except RankLostError as e:
            self.feed.update(state="error", message=str(e))
            self.publisher.event("error", f"training stopped: {e}")
            last = self.checkpoints.save("error") or self.last_checkpoint  # rank 0 writes its weights alone
            where = f"; last checkpoint: {last}" if last else ""
            raise RankLostError(f"{e}; stopped at step {self.step}{where}") from None
        except Exception as e:
            self.feed.update(state="error", message=f"{type(e).__name__}: {e}")
            self.publisher.event("error", f"training stopped by {type(e).__name__}: {e}")
            self.checkpoints.save("error")  # never lose what was trained
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.tensorboard is not None:
                self.tensorboard.close()

    def _loop(self) -> None:
        assert self.state is not None
        cfg, length, publish = self.cfg, self.length, self.publisher
        pending: list[torch.Tensor] = []  # metric rows since the last publish, still on the device
        pending_steps: list[int] = []
        # On the CPU a NaN is caught at its step; under DDP only at publish time, when every rank does.
        check_each_step = self.device.type == "cpu" and self.dist.world_size == 1
        t_last, step_last = time.perf_counter(), self.step
        publish.samples()
        self.checkpoints.remember_good_state()
        inject_nan_at = cfg.extra.get("inject_nan_at")
        stop_reason = "finished"
        if length.budget is not None:
            length.budget.start(self.step)
            length.total = length.estimate(self.step)
        while not self.sync.done():
            # -- commands, between two steps (under DDP: the same ones, at the same step, on every rank)
            if self.commands.apply_all(self.sync.exchange(pending_steps)) == "stop" or self.sync.stop_asked():
                stop_reason = "stopped"
                break
            if self.paused:
                if pending:  # the chart and metrics.jsonl reach the step the pause names
                    publish.metrics(pending_steps, pending)
                    pending, pending_steps = [], []
                if length.budget is not None:
                    length.budget.pause()  # a paused run spends none of its time budget
                waited = self.commands.wait_paused()
                if length.budget is not None:
                    length.budget.resume()
                t_last, step_last = time.perf_counter(), self.step  # a pause is not slow training
                if waited == "stop":
                    stop_reason = "stopped"
                    break
                continue

            # -- one step of the algorithm
            self._decay_lr()
            nan = inject_nan_at is not None and self.step + 1 == inject_nan_at
            metrics = self.train_step(int(cfg.batch_size), nan=nan)
            self.state.step += 1
            pending.append(metrics)
            pending_steps.append(self.step)

            # -- publish every `publish_every` steps (the host sync), at once on a NaN and at the end
            nonfinite = check_each_step and not bool(torch.isfinite(metrics).all())
            last = self.sync.done()
            if nonfinite or len(pending) >= cfg.publish_every or last:
                now = time.perf_counter()
                rate_now = (self.step - step_last) / max(now - t_last, 1e-9)
                publish.rate = rate_now if publish.rate == 0 else 0.7 * publish.rate + 0.3 * rate_now
                t_last, step_last = now, self.step
                publish.metrics(pending_steps, pending)
                pending, pending_steps = [], []
                if self.paused or self.sync.stop_asked():
                    continue

            # -- samples, checkpoints, quality on their own cadences
            if self.step % int(cfg.sample_every) == 0:
                publish.samples()
            if self.step % int(cfg.ckpt_every) == 0:
                self.checkpoints.save("periodic")
            if cfg.eval_every and self.step % int(cfg.eval_every) == 0:
                publish.evaluate()

        if length.budget is not None and stop_reason == "finished":
            length.total = self.step  # the budget is spent: this is the run's last step
        if pending:
            publish.metrics(pending_steps, pending)
        publish.samples()
        self.checkpoints.save("final" if stop_reason == "finished" else "stop")
        state = "finished" if stop_reason == "finished" else "stopped"
        self.feed.update(state=state, eta_s=0.0 if state == "finished" else None)
        publish.event("end", f"{state} at step {self.step}", reason=stop_reason)

    def train_step(self, batch_size: int, nan: bool = False) -> torch.Tensor:
        """One step of the algorithm; returns its metric row as one tensor (no host sync)."""
        assert self.state is not None
        ctx = StepContext(
            batch=self._batch,
            batch_size=batch_size,
            device=self.device,
            autocast=self.autocast_dtype,
            step=self.step,
            instance_noise=self.instance_noise_std(),
            inject_nan=nan,
        )
        row = self.algo.step(self.state, ctx)
        self.state.update_emas()
        return row

    def _batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        assert self.state is not None
        x, y = self.data.sample_xy(n, self.state.gen)
        x = x.to(self.device, non_blocking=True)
        return x, None if y is None else y.to(self.device, non_blocking=True)

    def _decay_lr(self) -> None:
        """Scale every rate by the schedule's change since the last step; a rollback's lr scale survives."""
        assert self.state is not None
        f = self.length.lr_factor(self.step)
        if f != self.state.lr_factor:
            self.state.scale_lr(f / self.state.lr_factor)
            self.state.lr_factor = f

    def instance_noise_std(self) -> float:
        return self.length.instance_noise_std(self.step)

    def swap_loss(self, name: str) -> None:
        """Between two steps; networks and optimizers stay as they are."""
        self.commands.swap_loss(name)

    # Plain (uncompiled) networks by name: tests and tools reach the weights through these.
    def network(self, name: str) -> torch.nn.Module:
        assert self.state is not None
        return plain(self.state.modules[name])
