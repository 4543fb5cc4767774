"""What `ganterm.Run` costs a training script (budget: <= 1 % of its step time).

A tight loop of a small torch MLP step (784-256-1 on a batch of 64, BCE, Adam: about a millisecond on a
CPU core) is timed without logging and with `run.log` of 6 metrics per step (4 of them tensors, one
needing grad, as a script would pass its losses) plus `run.images` of 64 images every 500 steps, and
`run.should_stop()` / `run.wait_while_paused()` each step. Blocks of steps alternate A B B A ... so a
drift of the shared machine's speed falls on both sides; medians are reported. The difference of two
noisy medians can come out below zero, so the logger's own costs are also measured alone (the log call,
the images call) and divided by the step time: the "accounted" overhead.

    python benchmarks/run_logger.py [--rounds 10] [--steps 2000] [--threads 1]
    python benchmarks/run_logger.py --smoke       # 2 rounds of 20 steps: a second or two
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

import ganterm


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        name = next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration, subprocess.SubprocessError):
        name = platform.processor() or platform.machine()
    return name


class Step:
    """One D-like training step; returns what a script would log."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=2e-4)
        self.loss = nn.BCEWithLogitsLoss()
        self.x = torch.rand(64, 784) * 2 - 1
        self.y = (torch.rand(64, 1) > 0.5).float()

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(self.x)
        loss = self.loss(logits, self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss, logits


def block(step: Step, n: int, run: ganterm.Run | None, start: int) -> float:
    """Seconds per step over `n` steps, logging into `run` when given."""
    t0 = time.perf_counter()
    for i in range(start, start + n):
        loss, logits = step()
        if run is not None:
            with torch.no_grad():
                p = torch.sigmoid(logits)
                run.log(
                    i,
                    d_loss=loss,  # needs grad: detached by the logger
                    d_real=p.mean(),
                    d_fake=p.min(),
                    grad_d=p.max(),
                    lr=2e-4,
                    batch=64,
                )
            if i % 500 == 0:
                run.images(i, step.x.view(64, 1, 28, 28))
            if run.should_stop():
                break
            run.wait_while_paused()
        else:
            with torch.no_grad():
                p = torch.sigmoid(logits)  # the same tensors, only not logged
                p.mean(), p.min(), p.max()
    return (time.perf_counter() - t0) / n


def isolated_costs(run: ganterm.Run, step: Step, n: int = 20_000, n_images: int = 20) -> tuple[float, float]:
    """(µs per log call with its polls, ms per images call) with no training around them."""
    loss, logits = step()
    p = torch.sigmoid(logits.detach())
    m, lo, hi = p.mean(), p.min(), p.max()
    t0 = time.perf_counter()
    for i in range(n):
        run.log(i, d_loss=loss, d_real=m, d_fake=lo, grad_d=hi, lr=2e-4, batch=64)
        run.should_stop()
        run.wait_while_paused()
    log_us = (time.perf_counter() - t0) / n * 1e6
    imgs = step.x.view(64, 1, 28, 28)
    t0 = time.perf_counter()
    for i in range(n_images):
        run.images(i, imgs)
    return log_us, (time.perf_counter() - t0) / n_images * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10, help="A/B pairs of blocks")
    ap.add_argument("--steps", type=int, default=2000, help="steps per block")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: steadier)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    warmup, isolated = 500, (20_000, 20)  # steps before timing; log and images calls timed alone
    if args.smoke:
        smoke_root("run_logger")
        args.rounds, args.steps, warmup, isolated = 2, 20, 20, (200, 2)
    torch.set_num_threads(args.threads)

    step = Step()
    with tempfile.TemporaryDirectory() as tmp:
        run = ganterm.Run(Path(tmp) / "run", config={"benchmark": "run_logger"})
        block(step, warmup, None, 0)  # warm-up: allocator, Adam state, first PNG
        block(step, warmup, run, 0)
        base: list[float] = []
        logged: list[float] = []
        counter = 1000
        for r in range(args.rounds):
            order = (None, run) if r % 2 == 0 else (run, None)
            for which in order:
                s = block(step, args.steps, which, counter)
                counter += args.steps
                (logged if which is run else base).append(s)
        log_us, image_ms = isolated_costs(run, step, *isolated)
        run.close()
        rows = len((Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines())

    b, w = statistics.median(base), statistics.median(logged)
    ratios = [lg / bs for lg, bs in zip(logged, base, strict=True)]
    accounted = (log_us * 1e-6 + image_ms * 1e-3 / 500) / b
    result = {
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "step_ms": round(b * 1e3, 4),
        "step_logged_ms": round(w * 1e3, 4),
        "overhead_pct_medians": round((w / b - 1) * 100, 2),
        "overhead_pct_paired_median": round((statistics.median(ratios) - 1) * 100, 2),
        "log_call_us": round(log_us, 2),
        "images_call_ms": round(image_ms, 3),
        "overhead_pct_accounted": round(accounted * 100, 2),
        "rounds": args.rounds,
        "steps_per_block": args.steps,
        "rows_written": rows,
    }
    print(f"machine: {result['machine']} · torch {result['torch']} · {args.threads} thread(s)")
    print(f"step without logging: {b * 1e3:.3f} ms (median of {args.rounds} blocks of {args.steps})")
    print(f"step with run.log x6 metrics, images every 500, should_stop/wait_while_paused: {w * 1e3:.3f} ms")
    print(
        f"overhead: {result['overhead_pct_medians']:+.2f} % (medians), "
        f"{result['overhead_pct_paired_median']:+.2f} % (median of paired blocks)"
    )
    print(
        f"accounted: log call {log_us:.2f} µs, images {image_ms:.2f} ms / 500 steps "
        f"-> {result['overhead_pct_accounted']:.2f} % of a step"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
