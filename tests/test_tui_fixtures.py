"""Deterministic feeds and a small trainer stand-in for the TUI tests (no torch, no clock in the data)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed, SampleFrame
from ganterm.channel.history import METRIC_COLUMNS
from ganterm.tui.app import GantermApp
from ganterm.tui.screens.train import TrainScreen

CKPT_PATH = "runs/shapes-mlp/checkpoints/ckpt_0000500.pt"


def metric_rows(steps: np.ndarray) -> np.ndarray:
    s = steps.astype(np.float64)
    rows = {
        "d_loss": 0.6 + 0.5 * np.exp(-s / 150) + 0.08 * np.sin(s / 9),
        "g_loss": 1.4 - 0.4 * np.exp(-s / 150) + 0.15 * np.cos(s / 11),
        "d_real": 0.7 + 0.1 * np.sin(s / 13),
        "d_fake": 0.3 + 0.1 * np.cos(s / 17),
        "grad_g": 2.0 + np.sin(s / 5),
        "grad_d": 5.0 * np.exp(-s / 300) + 0.5,
    }
    return np.stack([rows[c] for c in METRIC_COLUMNS], axis=1).astype(np.float32)


def image_frame(step: int, n: int = 64, size: int = 28, phase: float = 0.0) -> SampleFrame:
    """Rings whose radius depends on the image index and `phase`: fixed pixels, different per frame."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    radius = (np.arange(n)[:, None, None] % 9 + 3 + phase) % 12 + 2
    img = (np.abs(r[None] - radius) < 1.5) * 255
    return SampleFrame(step, "images", img.astype(np.uint8)[..., None])


def point_frame(step: int, spread: float = 0.3) -> SampleFrame:
    k = np.arange(400)
    angle = 2 * np.pi * (k % 8) / 8 + 0.01 * k
    fake = np.stack([np.cos(angle), np.sin(angle)], 1) * (1 + spread * np.sin(k))[:, None]
    real = np.stack([np.cos(2 * np.pi * (k % 8) / 8), np.sin(2 * np.pi * (k % 8) / 8)], 1)
    return SampleFrame(step, "points", fake.astype(np.float32), real.astype(np.float32))


def filled_feed(kind: str = "images", steps: int = 600, frames: int = 3) -> Feed:
    feed = Feed()
    feed.update(state="starting", message="loading torch …")
    feed.update(
        state="running",
        message="",
        step=steps,
        total_steps=3000,
        epoch=0.64,
        dataset="shapes" if kind == "images" else "ring",
        model="mlp" if kind == "images" else "toy",
        loss="hinge",
        device="cpu",
        steps_per_s=123.4,
        eta_s=19.5,
        run_dir="runs/shapes-mlp",
    )
    feed.event("start", "started: shapes / mlp / ns on cpu", step=0, run_dir="runs/shapes-mlp")
    for lo in range(0, steps, 10):
        block = np.arange(lo, lo + 10)
        feed.publish(block, metric_rows(block))
        if lo == 300:
            feed.event("swap", "loss ns -> hinge at step 300", step=300, **{"from": "ns", "to": "hinge"})
        if lo == 500:
            feed.event("checkpoint", f"saved {CKPT_PATH} (periodic)", step=500, path=CKPT_PATH)
    feed.event("alert", "D(x) near 1 for 200 steps: D may be winning", step=550)
    for i in range(frames):
        step = (i + 1) * steps // frames
        frame = image_frame(step, phase=i * 2.0) if kind == "images" else point_frame(step, 0.3 / (i + 1))
        feed.publish_samples(frame)
    return feed


def fixed_app(kind: str = "images", **kwargs) -> GantermApp:
    """The train layout over a filled feed, with no trainer thread: what the snapshots show."""
    screen = TrainScreen(filled_feed(kind), Control(), None, color_system="truecolor", **kwargs)
    return GantermApp(screen)


class FakeTrainer:
    """Obeys Control like the real trainer (pause, checkpoint, stop after a final checkpoint); no torch."""

    def __init__(self, feed: Feed, control: Control, total: int = 100_000) -> None:
        self.feed, self.control, self.total = feed, control, total
        self.paused = False

    def __call__(self) -> None:
        self.feed.update(state="running", dataset="ring", model="toy", loss="ns", total_steps=self.total)
        step = 0
        while step < self.total:
            for cmd in self.control.drain():
                if cmd.name == "toggle_pause":
                    self.paused = not self.paused
                    self.feed.update(state="paused" if self.paused else "running")
                elif cmd.name == "checkpoint":
                    self.feed.event("checkpoint", "saved", step=step, path=f"ckpt_{step:07d}.pt")
            if self.control.stop_event.is_set():
                break
            if self.paused:
                self.control.stop_event.wait(0.01)
                continue
            block = np.arange(step, step + 10)
            self.feed.publish(block, metric_rows(block), step=step + 10)
            step += 10
            self.control.stop_event.wait(0.002)
        self.feed.event("checkpoint", "saved (final)", step=step, path=f"ckpt_{step:07d}.pt", reason="final")
        self.feed.update(state="stopped" if step < self.total else "finished")
        self.feed.event("end", "done", step=step)


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async Pilot test with asyncio.run (the project has no pytest asyncio plugin)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


def digit_grid(step: int, rows: int, cols: int, view: str = "samples", note: str = "") -> SampleFrame:
    """A structured grid: the ring radius follows the row (class / code value), thickness the column."""
    size = 28
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    i = np.arange(rows * cols)
    radius = (i // cols)[:, None, None] + 3.0
    width = 0.8 + (i % cols)[:, None, None] * 0.25
    img = (np.abs(r[None] - radius) < width) * 255
    return SampleFrame(step, "images", img.astype(np.uint8)[..., None], view=view, note=note, cols=cols)


def algo_feed(algo: str, steps: int = 400) -> Feed:
    """A feed as the trainer fills it for cgan / infogan / vae: its layout, views, prior and metrics."""
    from ganterm.algos.infogan import infogan_layout
    from ganterm.algos.vae import VAE_LAYOUT
    from ganterm.channel.history import MetricHistory
    from ganterm.channel.layout import GAN_LAYOUT

    layout = {"cgan": GAN_LAYOUT, "infogan": infogan_layout(10), "vae": VAE_LAYOUT}[algo]
    views = {"cgan": ("class",), "infogan": ("traversal", "class"), "vae": ("recon",)}[algo]
    prior = {"cgan": {"z_dim": 100, "n_classes": 10}, "infogan": {"z_dim": 62, "n_cat": 10, "n_cont": 2}}
    feed = Feed(MetricHistory(()))
    feed.update(
        state="running",
        step=steps,
        total_steps=2000,
        dataset="mnist",
        model="dcgan",
        algo=algo,
        loss="" if algo == "vae" else "ns",
        layout=layout,
        views=views,
        prior=prior.get(algo, {"z_dim": 20}),
        device="cpu",
        steps_per_s=40.0,
        eta_s=40.0,
        run_dir=f"runs/mnist-{algo}",
    )
    s = np.arange(1, steps + 1, dtype=np.float64)
    if algo == "vae":
        cols = {
            "elbo": -(90 + 150 * np.exp(-s / 80)),
            "recon": 80 + 150 * np.exp(-s / 80),
            "kl": 10 + 5 * (1 - np.exp(-s / 50)),
            "grad": 30 * np.exp(-s / 200) + 5,
        }
    else:
        base = metric_rows(s.astype(np.int64))
        cols = dict(zip(METRIC_COLUMNS, base.T, strict=True))
        if algo == "infogan":
            cols["mi_cat"] = np.log(10) * (1 - np.exp(-s / 60))
            cols["q_cont"] = 0.5 * np.exp(-s / 100) + 0.1
    names = tuple(cols)
    feed.publish(s.astype(np.int64), np.stack([cols[n] for n in names], 1).astype(np.float32), names)
    if algo == "vae":
        feed.publish_samples(digit_grid(steps, 8, 8))
        feed.publish_samples(digit_grid(steps, 8, 8, "recon", "real above, reconstruction below"))
    else:
        feed.publish_samples(digit_grid(steps, 10, 6))
        feed.publish_samples(digit_grid(steps, 8, 8, "class", "class 0"))
        if algo == "infogan":
            note = "rows: c_cat · columns: c1 from -2 to 2"
            feed.publish_samples(digit_grid(steps, 10, 8, "traversal", note))
    return feed


def algo_app(algo: str, control: Control | None = None) -> GantermApp:
    return GantermApp(TrainScreen(algo_feed(algo), control or Control(), None, color_system="truecolor"))
