"""Start-up latency: `ganterm --help` and the first paint of `ganterm view CKPT`.

    python benchmarks/startup.py            # 7 runs of each, medians
    python benchmarks/startup.py --runs 11
    python benchmarks/startup.py --smoke    # one run of each, from a 2-step checkpoint

Goals: `--help` <= 0.25 s, first paint of `view` <= 1.5 s. Every figure is a fresh process (the imports
are most of the cost), timed from just before the process starts. The checkpoint comes from a tiny
headless run. First paint is the Textual app headless (`App.run_test`), from process start to the
first composed screen; "samples shown" waits further until the checkpoint's generator has drawn its
fixed-noise grid. The parts (imports, checkpoint load, generator rebuild, sampling) are timed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter; prints one JSON line of wall-clock (time.time()) marks.
VIEW_PROBE = r"""
import asyncio, json, sys, time
from pathlib import Path
marks = {}
from ganterm.tui.app import view_app
marks["imported"] = time.time()

async def main():
    app = view_app(Path(sys.argv[1]), None)
    async with app.run_test(size=(120, 40)) as pilot:
        marks["first_paint"] = time.time()
        screen = app.monitor
        deadline = time.time() + 60
        while (screen.loader is None or not screen.loader.is_finished or screen.feed.frames() == []
               or screen.sample_panels()[0].frame is None) and time.time() < deadline:
            await pilot.pause(0.01)
        await pilot.pause()
        marks["samples_shown"] = time.time()
        marks["error"] = repr(screen.error) if screen.error else None
        if time.time() >= deadline and not marks["error"]:
            marks["error"] = "no samples shown within 60 s"
        await pilot.press("q")

asyncio.run(main())
print(json.dumps(marks))
"""

# The same parts, in-process and one at a time.
PARTS_PROBE = r"""
import json, sys, time
t = time.time(); marks = {}
import torch
marks["import torch"] = time.time() - t; t = time.time()
import textual.app
marks["import textual"] = time.time() - t; t = time.time()
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.sampling import Sampler
marks["import ganterm checkpoint+sampling"] = time.time() - t; t = time.time()
ckpt = load_checkpoint(sys.argv[1])
marks["load checkpoint"] = time.time() - t; t = time.time()
sampler = Sampler.from_checkpoint(ckpt)
marks["rebuild generator"] = time.time() - t; t = time.time()
frame = sampler.fixed()
marks["generate fixed-noise grid"] = time.time() - t
print(json.dumps(marks))
"""


def ganterm_command() -> list[str]:
    exe = shutil.which("ganterm", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ganterm"]


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return start, r.stdout


def make_checkpoint(tmp: Path, env: dict[str, str], steps: int = 20) -> Path:
    out = tmp / "run"
    cmd = [*ganterm_command(), "train", "shapes", "--steps", str(steps), "--headless", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
    return sorted((out / "checkpoints").glob("*.pt"))[-1]


def row(name: str, values: list[float], goal: float | None = None) -> str:
    m = statistics.median(values)
    verdict = "" if goal is None else ("yes" if m <= goal else "NO")
    spread = f"{min(values):.3f} - {max(values):.3f}"
    return f"| {name} | {m:.3f} | {spread} | {'' if goal is None else f'<= {goal}'} | {verdict} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (median)")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    steps = 20  # of the run whose checkpoint `view` opens
    if args.smoke:
        smoke_root("startup")
        args.runs, steps = 1, 2
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine: medians of fresh processes)"
    )
    with tempfile.TemporaryDirectory(prefix="ganterm-startup-") as tmp:
        ckpt = make_checkpoint(Path(tmp), env, steps)
        print(f"checkpoint: {ckpt.name} ({ckpt.stat().st_size / 1e6:.1f} MB) from a {steps}-step shapes run")
        help_s, paint_s, samples_s = [], [], []
        parts: dict[str, list[float]] = {}
        for _ in range(args.runs):  # alternate the measurements so load spikes spread over all of them
            start, _ = timed_run([*ganterm_command(), "--help"], env)
            help_s.append(time.time() - start)
            start, out = timed_run([sys.executable, "-c", VIEW_PROBE, str(ckpt)], env)
            marks = json.loads(out.strip().splitlines()[-1])
            if marks.get("error"):
                raise SystemExit(f"view failed: {marks['error']}")
            paint_s.append(marks["first_paint"] - start)
            samples_s.append(marks["samples_shown"] - start)
            _, out = timed_run([sys.executable, "-c", PARTS_PROBE, str(ckpt)], env)
            for k, v in json.loads(out.strip().splitlines()[-1]).items():
                parts.setdefault(k, []).append(v)
    print(f"\n| measurement (s, {args.runs} fresh processes) | median | range | goal | met |")
    print("|---|---|---|---|---|")
    print(row("`ganterm --help`", help_s, 0.25))
    print(row("`ganterm view CKPT`: first paint (run_test)", paint_s, 1.5))
    print(row("`ganterm view CKPT`: samples shown", samples_s))
    for k, v in parts.items():
        print(row(f"part: {k}", v))


if __name__ == "__main__":
    main()
