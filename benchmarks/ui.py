"""UI cost benchmark: chart redraw vs history length, half-block frame time, MetricHistory memory.

    python benchmarks/ui.py [--repeat 20]
    python benchmarks/ui.py --smoke        # 2 repeats, histories of 1e3-1e4 steps: seconds

Budgets: a 120x30 chart redraw (plotext, then its ANSI decoded into Segments) <= 15 ms at any history
length; an 8x8 grid of 28x28 grey samples <= 5 ms per frame including Segment building; a MetricHistory
grows RSS by <= 20 MB over 1e6 steps; the compare view (`ganterm view A B C D`) of 4 runs of 1e6 steps
redraws both its charts, Strips included, in <= 25 ms at 160x50.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

from ganterm.channel.feed import Feed
from ganterm.channel.history import METRIC_COLUMNS, MetricHistory
from ganterm.render.ansi import AnsiLines
from ganterm.render.chart import ChartSeries, render_line_chart
from ganterm.render.grid import tile
from ganterm.render.halfblock import HalfBlockImage


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn: Callable[[int], object], repeat: int) -> tuple[float, float, float]:
    """(median wall, min wall, median CPU) milliseconds of fn(i) over `repeat` calls.

    CPU time is the fairer number on a shared machine: it leaves out the time spent waiting for a core.
    """
    walls, cpus = [], []
    for i in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn(i)
        walls.append((time.perf_counter() - start) * 1e3)
        cpus.append((time.process_time() - cpu) * 1e3)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def fill_history(steps: int, chunk: int = 1_000_000, seed: int = 0) -> MetricHistory:
    """A history of `steps` noisy, slowly decaying losses, appended in big chunks so 1e7 takes seconds."""
    history = MetricHistory()
    rng = np.random.default_rng(seed)
    for start in range(0, steps, chunk):
        s = np.arange(start, min(steps, start + chunk))
        values = 0.7 + np.exp(-s / 2e5)[:, None] + 0.2 * rng.standard_normal((len(s), len(METRIC_COLUMNS)))
        history.extend(s, values.astype(np.float32))
    return history


def bench_memory(steps: int = 1_000_000) -> tuple[float, int]:
    """RSS growth (MB) over 1e6 appended steps, in publish-sized chunks, and the history's own bytes."""
    before = rss_mb()
    history = fill_history(steps, chunk=1_000)
    return rss_mb() - before, history.nbytes()


def bench_charts(repeat: int, max_exponent: int = 7) -> list[tuple[int, int, float, float, float]]:
    rows = []
    for exponent in range(3, max_exponent + 1):
        steps = 10**exponent
        history = fill_history(steps)

        def redraw(_: int, history: MetricHistory = history, steps: int = steps) -> AnsiLines:
            series = [
                ChartSeries.from_buckets(history.series(column), column, color)
                for column, color in (("d_loss", "blue+"), ("g_loss", "orange"))
            ]
            ansi = render_line_chart(series, 120, 30, title="losses", markers=[(steps / 2, "swap")])
            return AnsiLines(ansi)  # as the TUI uses it: decoded into Segments

        redraw(0)  # warm-up: imports, plotext's first figure
        rows.append((steps, len(history.series("d_loss")), *timed(redraw, repeat)))
    return rows


def bench_compare(repeat: int, runs: int = 4, steps: int = 1_000_000) -> tuple[tuple[int, int], ...]:
    """Both charts of the real compare screen at 160x50 over `runs` histories of `steps` steps, redrawn
    from scratch (feed reads, downsampling, plotext, ANSI decoding, Strips) as after new data; returns
    (chart size, timings) per chart and the timing of both together."""
    import asyncio

    from ganterm.tui.app import GantermApp
    from ganterm.tui.screens.compare import CompareScreen
    from ganterm.tui.widgets.charts import CompareChart

    feeds = [Feed(fill_history(steps, seed=i)) for i in range(runs)]
    names = [Path(f"runs/mnist-{loss}-seed0") for loss in ("hinge", "ns", "wgan-gp", "lsgan", "rgan")[:runs]]
    screen = CompareScreen(names, feeds=feeds, color_system="truecolor", chart_interval=0)
    out: dict[str, object] = {}

    async def measure() -> None:
        app = GantermApp(screen)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            charts = list(screen.query(CompareChart))

            def redraw(_: int) -> None:
                feeds[0].update()  # as when a run's new rows arrive: its version moves on
                for chart in charts:
                    chart.show(data_version=0)  # the screen's flush: the charts' cache keys change
                    chart.render_line(0)  # render() draws again, then its Strips are built

            redraw(0)  # warm-up
            before = [c.renders for c in charts]
            out["sizes"] = [tuple(c.content_size) for c in charts]
            out["series"] = [len(c.chart_series()) for c in charts]
            out["timed"] = timed(redraw, repeat)
            assert [c.renders for c in charts] == [n + repeat for n in before], "charts were not redrawn"

    asyncio.run(measure())
    return out  # type: ignore[return-value]


def digit_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """Rings on black: long equal runs, like MNIST digits."""
    yy, xx = np.mgrid[:28, :28]
    out = np.zeros((n, 28, 28, 1), np.uint8)
    for i in range(n):
        cx, cy, r = rng.uniform(10, 18), rng.uniform(10, 18), rng.uniform(5, 9)
        out[i, ..., 0] = np.where(np.abs(np.hypot(xx - cx, yy - cy) - r) < 1.5, 255, 0)
    return out


def bench_halfblock(repeat: int) -> list[tuple[str, str, tuple[int, int], int, float, float, float, float]]:
    rng = np.random.default_rng(0)
    frames = {
        "digit-like": [tile(digit_like(64, rng), 8, 8) for _ in range(8)],
        "noise": [tile(rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), 8, 8) for _ in range(8)],
    }
    rows = []
    for system in ("truecolor", "256"):
        console = Console(file=io.StringIO(), width=400, color_system=system)
        for content, mosaics in frames.items():

            def frame(i: int, mosaics: list[np.ndarray] = mosaics, console: Console = console) -> int:
                image = HalfBlockImage(mosaics[i % len(mosaics)])
                return len(list(image.__rich_console__(console, console.options)))

            cold = timed(frame, 1)[0]  # style caches still empty for this content
            segments = frame(0)
            rows.append((system, content, mosaics[0].shape[:2], segments, cold, *timed(frame, repeat)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per row (median reported)")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    steps, max_exponent = 1_000_000, 7  # memory and compare histories; longest chart history 1e7
    if args.smoke:
        smoke_root("ui")
        args.repeat, steps, max_exponent = 2, 10_000, 4

    growth, nbytes = bench_memory(steps)  # first, before other allocations blur RSS
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, rich {version('rich')}, "
        f"plotext {version('plotext')}"
    )

    print("\nchart redraw, 120x30, d_loss + g_loss with min/max band, incl. Segments (budget 15 ms)")
    print(f"{'steps':>10} {'points held':>12} {'median ms':>10} {'min ms':>8} {'CPU ms':>8}")
    for n, held, median, best, cpu in bench_charts(args.repeat, max_exponent):
        print(f"{n:>10.0e} {held:>12} {median:>10.2f} {best:>8.2f} {cpu:>8.2f}")

    print("\nhalf-block frame, 8x8 grid of 28x28 grey, incl. Segment building (budget 5 ms)")
    heads = ("colours", "content", "pixels", "segments", "cold ms", "median ms", "min ms", "CPU ms")
    print(" ".join(f"{h:>10}" for h in heads))
    for system, content, (h, w), segments, cold, median, best, cpu in bench_halfblock(args.repeat):
        times = (cold, median, best, cpu)
        cells = (system, content, f"{h}x{w}", segments, *(f"{t:.2f}" for t in times))
        print(" ".join(f"{c:>10}" for c in cells))

    compare = bench_compare(args.repeat, steps=steps)
    sizes = ", ".join(f"{w}x{h}" for w, h in compare["sizes"])
    median, best, cpu = compare["timed"]
    print(
        f"\ncompare view, 4 runs x {steps:.0e} steps, 160x50, both charts ({sizes}) "
        "incl. Strips (budget 25 ms)"
    )
    print(f"lines per chart {compare['series']}; median {median:.2f} ms, min {best:.2f} ms, CPU {cpu:.2f} ms")

    print(f"\nMetricHistory over {steps:.0e} steps (budget 20 MB)")
    print(f"RSS growth {growth:.1f} MB; arrays held {nbytes / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
