"""Training throughput with the TUI running vs headless (budget: TUI >= 97 % of headless).

Both runs use the same trainer, model, batch and seed. The TUI run is the real app that `ganterm train`
builds (`ganterm.tui.app.train_app`), driven by Textual's headless test driver at 160x50, so it polls the
feed, redraws charts and the sample grid exactly as on a terminal. Runs alternate (headless, TUI, ...)
and medians are reported, since this 2-core machine is shared.

With `--system` the TUI run also samples CPU, memory and GPUs on its own thread, shows the system pane
and records RUN/system.jsonl, as `ganterm train` does; the headless baseline runs without it, so the
ratio charges the whole system pane to the TUI.

    python benchmarks/tui_overhead.py [--dataset shapes] [--steps 400] [--repeats 3] [--system]
    python benchmarks/tui_overhead.py --smoke     # one round of 12 steps, system pane on: seconds
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve


def rate_between(feed: Feed, start: int, end: int) -> float:
    """Steps/s between two step counts, sampled from the feed every 5 ms."""
    while feed.snapshot.step < start:
        time.sleep(0.005)
    t0, s0 = time.perf_counter(), feed.snapshot.step
    while feed.snapshot.step < end and feed.snapshot.state not in ("finished", "stopped", "error"):
        time.sleep(0.005)
    return (feed.snapshot.step - s0) / (time.perf_counter() - t0)


def headless(cfg: TrainConfig, warm: int, steps: int) -> float:
    from ganterm.training.trainer import Trainer

    feed, control = Feed(), Control()
    th = threading.Thread(target=Trainer(cfg, feed, control).run)
    th.start()
    rate = rate_between(feed, warm, steps)
    control.stop()
    th.join()
    return rate


def with_tui(cfg: TrainConfig, warm: int, steps: int, system: bool = False) -> tuple[float, float]:
    """(steps/s, UI thread CPU ms per second of wall time) over the same window."""
    from ganterm.session import Session
    from ganterm.sysmon import SystemSampler

    sampler = SystemSampler().start() if system else None
    app = Session(cfg).monitor_app("256", sampler)
    if sampler is not None:
        sampler.record_run(app.monitor.feed)
    feed = app.monitor.feed
    result: list[float] = []

    async def drive() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            loop = asyncio.get_running_loop()
            # thread_time here is the event loop's thread: all of Textual's polling, layout and rendering
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            result.append(await loop.run_in_executor(None, rate_between, feed, warm, steps))
            result.append(1e3 * (time.thread_time() - cpu0) / (time.perf_counter() - wall0))
            if sampler is not None:  # the pane really was on screen while we measured
                from ganterm.tui.widgets.system import SystemPane

                assert app.screen.query_one(SystemPane).display, "system pane not shown"
            await pilot.press("q")
            await pilot.pause(0.5)

    try:
        asyncio.run(drive())
    finally:
        if sampler is not None:
            sampler.stop()
    return result[0], result[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="shapes")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--system", action="store_true", help="the TUI run samples and shows the system pane")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    scratch = smoke_root("tui_overhead") if args.smoke else None
    sample_every = 50
    if args.smoke:
        args.steps, args.warmup, args.repeats, args.system, sample_every = 12, 4, 1, True, 4
    out = tempfile.mkdtemp(prefix="ganterm-tui-bench-", dir=scratch)
    head, tui, ui_cpu = [], [], []
    for i in range(args.repeats):
        cfg = resolve(
            TrainConfig(
                dataset=args.dataset, steps=args.steps + 1000, out=f"{out}/h{i}", sample_every=sample_every
            )
        )
        head.append(headless(cfg, args.warmup, args.steps))
        cfg = resolve(
            TrainConfig(
                dataset=args.dataset, steps=args.steps + 1000, out=f"{out}/t{i}", sample_every=sample_every
            )
        )
        rate, cpu_ms = with_tui(cfg, args.warmup, args.steps, args.system)
        tui.append(rate)
        ui_cpu.append(cpu_ms)
        print(
            f"round {i + 1}: headless {head[-1]:.2f} steps/s, TUI {tui[-1]:.2f} steps/s "
            f"(UI thread {cpu_ms:.0f} ms CPU per s)",
            flush=True,
        )
        if args.system:
            recorded = Path(cfg.out or "") / "system.jsonl"
            n = len(recorded.read_text().splitlines()) if recorded.exists() else 0
            print(f"  system.jsonl: {n} lines", flush=True)
    h, t = statistics.median(head), statistics.median(tui)
    print(f"\n| mode | steps/s (median of {args.repeats}) |\n| --- | --- |")
    pane = " + system pane" if args.system else ""
    print(f"| headless | {h:.2f} |\n| TUI 160x50{pane} | {t:.2f} |")
    print(f"\nTUI / headless = {100 * t / h:.1f} %  (budget >= 97 %)")
    print(f"UI thread CPU while training: {statistics.median(ui_cpu):.0f} ms per second (median)")


if __name__ == "__main__":
    main()
