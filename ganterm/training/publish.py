"""Everything the run says, and the only host syncs: metric rows into the feed and metrics.jsonl once per
`publish_every` steps (the health monitor reads them there), sample grids, the extra view the UI asked
for, quality figures from the evaluator the trainer was handed, events. Rank 0 alone publishes; disk
trouble is a warning, never fatal."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganterm.rundir.writer import tile_images

if TYPE_CHECKING:
    from ganterm.training.trainer import Trainer


class Publisher:
    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.rate = 0.0  # steps/s, smoothed over publish intervals
        self.metrics_finite = True  # the last published row (under DDP all ranks hold the same average)
        self._io_warned: set[str] = set()
        self._tensorboard_step = -1  # the step of the last grid written as a TensorBoard event

    def metrics(self, steps: list[int], rows: list[torch.Tensor]) -> None:
        t = self.t
        # one CPU-GPU sync point for `publish_every` steps (under DDP the rows are the ranks' average)
        values = t.dist.mean(torch.stack(rows)).cpu().numpy()
        self.metrics_finite = bool(np.isfinite(values[-1]).all())
        if not t.dist.is_main:
            return  # rank 0 publishes, writes and watches health
        steps_arr = np.asarray(steps, np.int64)
        names = tuple(t.algo.metrics)
        if t.length.budget is not None and t.dist.world_size == 1:
            t.length.total = t.length.estimate(t.step)  # under DDP it arrives with the exchange
        remaining = t.length.total - t.step
        eta = remaining / self.rate if self.rate > 0 else None
        if t.length.budget is not None:
            left = t.length.budget.left()
            eta = left if eta is None else min(eta, left)
        extra: dict[str, Any] = {}
        if t.device.type == "cuda":
            extra["gpu_mem_bytes"] = int(torch.cuda.memory_allocated(t.device))
        t.feed.publish(
            steps_arr,
            values,
            names,
            step=t.step,
            epoch=t.step / t.length.steps_per_epoch,
            steps_per_s=self.rate,
            images_per_s=self.rate * int(t.cfg.batch_size) * t.algo.n_critic,
            eta_s=eta,
            total_steps=t.length.total,
            loss=t.algo.loss_name,
            **extra,
        )
        self.safe_io("metrics", lambda: t.writer.write_metrics(steps_arr, values, time.time(), names))
        if t.tensorboard is not None:
            self.safe_io("tensorboard", lambda: t.tensorboard.metrics(steps_arr, values, names))
        probabilistic, loss = t.algo.probabilistic(), t.algo.loss_name or None
        for s, row in zip(steps, values, strict=True):
            m: dict[str, Any] = dict(zip(names, row.tolist(), strict=True))
            m["probabilistic"] = probabilistic
            m["loss"] = loss
            for alert in t.health.observe(s, m):
                t.commands.on_alert(alert)
                if alert.kind == "nonfinite":
                    return  # the rest of the batch is downstream of the NaN

    def samples(self) -> None:
        t = self.t
        if not t.dist.is_main:
            return  # samples, their health checks and the run directory are rank 0's
        t.sampler.step = t.step
        frame = t.sampler.fixed()
        t.feed.publish_samples(frame)
        if frame.kind == "images":
            self.safe_io("samples", lambda: t.writer.write_samples(frame))
            if t.tensorboard is not None and t.step != self._tensorboard_step:  # the end re-draws the last
                self._tensorboard_step = t.step
                cols = frame.cols or max(1, math.isqrt(len(frame.data)))
                grid = tile_images(frame.data, cols)  # the same mosaic as samples/step_*.png
                self.safe_io("tensorboard", lambda: t.tensorboard.image(t.step, grid))
        self.view()
        if t.step > 0:
            for alert in t.health.observe_samples(t.step, frame.data):
                t.commands.on_alert(alert)

    def view(self) -> None:
        """The extra view the UI shows (traversal, one class, reconstructions), from the same weights."""
        t = self.t
        if t.view_spec is None or not t.dist.is_main:
            return
        t.sampler.step = t.step
        frame = t.sampler.view_frame(t.view_spec)
        if frame is not None:
            t.feed.publish_samples(frame)

    def evaluate(self) -> None:
        """The run's quality figures from the evaluator the caller handed in, in this thread; an
        evaluator with a `milestone(step, figures)` may name a moment worth an event of its own."""
        t = self.t
        if t.evaluator is None or not t.dist.is_main:
            return
        t.sampler.step = t.step
        try:
            q = t.evaluator(t.sampler, t.data, seed=t.cfg.seed, device=t.device)
        except Exception as e:  # evaluation must never kill training
            self.event("warning", f"quality evaluation failed: {type(e).__name__}: {e}")
            return
        if not q:
            return
        t.feed.update(quality=q)
        text = ", ".join(f"{k} {v:.4g}" for k, v in q.items())
        self.event("quality", f"quality at step {t.step}: {text}", **q)
        milestone = getattr(t.evaluator, "milestone", None)
        note = milestone(t.step, q) if callable(milestone) else None
        if note:
            self.event("milestone", str(note))

    def event(self, kind: str, message: str, step: int | None = None, **data: Any) -> None:
        t = self.t
        ev = t.feed.event(kind, message, t.step if step is None else step, **data)
        if t.writer is not None:
            self.safe_io("events", lambda: t.writer.write_event(ev))

    def safe_io(self, what: str, fn: Any) -> Any:
        """Disk trouble (full, read-only, vanished dir) is shown once, never fatal to training."""
        try:
            return fn()
        except OSError as e:
            if what not in self._io_warned:
                self._io_warned.add(what)
                self.t.feed.event("warning", f"could not write {what}: {e.strerror or e}; training goes on")
            return None
