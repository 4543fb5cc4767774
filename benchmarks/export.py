"""`ganterm export --gif` speed on a synthetic run: 200 frames of an 8x8 grid of 28x28 grey images.

    python benchmarks/export.py [--frames 200] [--repeat 3]
    python benchmarks/export.py --smoke      # 4 frames, once: seconds

Budget: <= 5 s for the 200-frame GIF. The run directory is built in a temporary folder (no training):
each frame is a grid of fixed "digits" (a few Gaussian blobs per tile) fading in from noise as the step
grows, which is about what a real run records and is harder on GIF's LZW than flat digits would be. Timed
in-process (`export_run`, median of --repeat, wall and CPU) and once through the CLI in a fresh process
(its start-up included). Extra rows: --scale 3, and an 8x8 grid of 32x32 colour images (GIF's palette
quantisation per frame). Prints markdown rows.
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

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

from ganterm.rundir.export import export_run
from ganterm.rundir.writer import tile_images


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine() or "unknown"


def make_run(root: Path, frames: int, size: int, channels: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    run = root / f"run-{size}x{channels}"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"dataset": "synthetic", "model": "dcgan"}))
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.zeros((64, size, size, channels), np.float32)
    for i in range(64):  # each tile: 3-5 blobs, a stand-in for a digit the fixed noise converges to
        for _ in range(rng.integers(3, 6)):
            cy, cx, s = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.05, 0.12)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
            base[i] += blob[..., None] * rng.uniform(0.5, 1.0, channels)
    base = np.clip(base, 0, 1)
    steps = np.arange(frames) * 100
    for t, step in enumerate(steps):
        a = (t + 1) / frames
        noise = rng.uniform(0, 1, base.shape).astype(np.float32)
        images = ((a * base + (1 - a) * noise) * 255).astype(np.uint8)
        mosaic = tile_images(images, cols=8)  # the layout RunDirWriter.write_samples writes
        png = run / "samples" / f"step_{step:07d}.png"
        Image.fromarray(mosaic[..., 0] if channels == 1 else mosaic).save(png)
    rows = [{"step": int(s), "time": s / 100.0, "loss_d": 1.0, "loss_g": 0.5} for s in steps]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def time_in_process(run: Path, out: Path, repeat: int, scale: int) -> tuple[float, float]:
    """(median wall s, median CPU s) of export_run(--gif)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        export_run(run, gif=out, scale=scale)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def time_cli(run: Path, out: Path) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "ganterm", "export", str(run), "--gif", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"ganterm export failed: {r.stderr.strip()}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        smoke_root("export")
        args.frames, args.repeat = 4, 1
    machine = cpu_model()
    print(f"machine: {machine}, python {platform.python_version()}, Pillow {Image.__version__}")
    print("| machine | case | frames | GIF size | in-process wall s (CPU s) | CLI wall s | budget |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="ganterm-export-") as tmp:
        root = Path(tmp)
        grey = make_run(root, args.frames, 28, 1)
        colour = make_run(root, args.frames, 32, 3, seed=1)
        cases = [
            ("8x8 of 28x28 grey", grey, 1, True),
            ("8x8 of 28x28 grey, --scale 3", grey, 3, False),
            ("8x8 of 32x32 colour", colour, 1, False),
        ]
        for name, run, scale, cli in cases:
            out = root / f"{run.name}-s{scale}.gif"
            wall, cpu = time_in_process(run, out, args.repeat, scale)
            cli_s = f"{time_cli(run, out):.2f}" if cli else "-"
            with Image.open(out) as im:
                n, size = im.n_frames, f"{im.width}x{im.height}, {out.stat().st_size / 1e6:.1f} MB"
            budget = "<= 5 s" if cli else ""
            print(f"| {machine} | {name} | {n} | {size} | {wall:.2f} ({cpu:.2f}) | {cli_s} | {budget} |")


if __name__ == "__main__":
    main()
