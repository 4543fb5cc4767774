"""DDP throughput on this machine: 1 process against `--nproc N`, side by side, the same per-process batch.

    python benchmarks/ddp.py [--datasets ring,shapes] [--nproc 2] [--steps 300] [--repeat 2]
    python benchmarks/ddp.py --smoke     # ring, 1 process then 2, a few dozen steps: seconds

Each configuration runs the real CLI headless (`ganterm train DATASET --steps S --headless`, no samples,
checkpoints or evaluation in the way). Speed is read off metrics.jsonl's timestamps from step 50 on, so
process start-up, rendezvous and the first steps (allocation, oneDNN kernel choice) are not counted
(`--warmup`); the trainer stamps the rows it publishes every 10 steps, so --steps must leave a few
publishes after the warm-up.
With DDP each step trains on N batches (the global batch), so the figure that matters is images/s; the
steps/s ratio says what the gradient all-reduce and the split cores cost. Runs alternate (1, N, 1, N)
so a noisy neighbour hurts both alike; the median is reported. On the CPU the processes share the
cores (each gets cores/N threads); on GPUs each process has its own device.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from export import cpu_model  # benchmarks/export.py
from smoke import SMOKE_HELP, smoke_root

WARMUP = 50
PUBLISH_EVERY = 10  # the trainer's default: metrics.jsonl's rows are stamped in groups this size
MIN_TIMED = 3 * PUBLISH_EVERY  # fewer steps after the warm-up cannot be timed


def run_once(dataset: str, nproc: int, steps: int, warmup: int, out: Path) -> tuple[float, int]:
    """(steps/s after warm-up, per-process batch)."""
    cmd = [sys.executable, "-m", "ganterm", "train", dataset, "--steps", str(steps), "--headless"]
    cmd += ["--sample-every", str(10 * steps), "--ckpt-every", str(10 * steps), "--eval-every", "0"]
    cmd += ["--out", str(out)] + (["--nproc", str(nproc)] if nproc > 1 else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
        raise SystemExit(f"ddp.py: `ganterm train {dataset}` with {nproc} process(es) failed: {last}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    times = {r["step"]: r["time"] for r in rows}
    start, last = min(s for s in times if s >= warmup), max(times)
    batch = json.loads((out / "config.json").read_text())["batch_size"]
    if times[last] <= times[start]:  # every row after the warm-up came in one publish
        raise SystemExit(
            f"ddp.py: {last - start} steps after the {warmup} warm-up steps are too few to time; "
            f"pass --steps {warmup + 250} or more"
        )
    return (last - start) / (times[last] - times[start]), int(batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="ring,shapes")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=WARMUP, help="steps left out of the timing")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        smoke_root("ddp")
        args.datasets, args.steps, args.warmup, args.repeat = "ring", 60, 10, 1
    if args.steps < args.warmup + MIN_TIMED:
        raise SystemExit(
            f"ddp.py: --steps {args.steps} leaves too few steps after the {args.warmup} warm-up steps "
            f"to time; pass --steps {args.warmup + 250} or more (the default is 300)"
        )
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; torch CPU build; gloo for N > 1\n")
    print("| dataset | processes | per-process batch | global batch | steps/s | images/s | images/s vs 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="ganterm-ddp-") as tmp:
        for dataset in args.datasets.split(","):
            speeds: dict[int, list[float]] = {1: [], args.nproc: []}
            batch = 0
            for i in range(args.repeat):
                for n in (1, args.nproc):
                    rate, batch = run_once(
                        dataset, n, args.steps, args.warmup, Path(tmp) / f"{dataset}-{n}-{i}"
                    )
                    speeds[n].append(rate)
            one = statistics.median(speeds[1]) * batch
            for n in (1, args.nproc):
                rate = statistics.median(speeds[n])
                images = rate * batch * n
                print(
                    f"| {dataset} | {n} | {batch} | {batch * n} | {rate:.1f} | {images:,.0f} | "
                    f"{images / one:.2f}x |"
                )


if __name__ == "__main__":
    main()
