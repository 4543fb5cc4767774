"""Does the default recipe train well? Ring and grid, several seeds, scored with the PacGAN protocol.

    python benchmarks/quality.py                      # ring and grid, seeds 0-4, recipe steps
    python benchmarks/quality.py --datasets ring --seeds 0,1 --steps 2000
    python benchmarks/quality.py --jobs 2                # two seeds at a time on two cores
    python benchmarks/quality.py --diagnose              # also: where the non-HQ samples are (50,000)
    python benchmarks/quality.py --smoke                 # ring and grid, seed 0, 30 steps, --diagnose

Each run is the plain `ganterm train DATASET --seed S` recipe (no other flag), headless and in-process,
then its final generator is scored on 2,500 samples: modes captured, % high-quality samples (within
3 std of the nearest mean) and the reverse KL of the HQ mode histogram against uniform.
Wall times include data, checkpoints and the run directory; on a shared machine they are noisy.

--diagnose adds, from 50,000 further samples: their HQ % (the 2,500-sample figure's noise is about
0.2 points), the % at 3-6 std from the nearest mean (a perfect sampler puts 1.1 % there) and beyond
6 std ("bridges" strung between modes; a perfect sampler puts ~0 there), and G's spread within a
mode along and across the line from the origin, in units of the data's std (1.0 = the data's).
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root

from ganterm.config import TrainConfig, resolve
from ganterm.eval.quality import evaluate_generator, generate_samples
from ganterm.eval.toy import nearest_modes
from ganterm.training.trainer import Trainer

# PacGAN (Lin et al. 2018), tables 2 and 3: mean over trials, 2,500 samples.
REFERENCES = [
    ("PacGAN4", "grid", 24.8, 93.6),
    ("PacGAN4", "ring", 7.8, 95.9),
    ("GAN (PacGAN's architecture)", "grid", 17.3, 94.8),
]
EVAL_SEED = 12345  # noise for the final evaluation, apart from every training seed
DIAGNOSE_N, DIAGNOSE_SEED = 50_000, 777


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, load average {load:.1f} at start"
    )


def diagnose(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float]:
    """Where the samples sit relative to their nearest mean (see the module docstring)."""
    idx, dist = nearest_modes(samples, modes)
    near = dist <= 6 * std
    radial, across = [], []
    for k, mean in enumerate(modes):
        s = samples[(idx == k) & near]
        if len(s) < 10:
            continue
        norm = np.linalg.norm(mean)
        u = mean / norm if norm > 0 else np.array([1.0, 0.0])  # the grid's centre mode: any axis
        d = s - s.mean(0)
        radial.append(d @ u)
        across.append(d @ np.array([-u[1], u[0]]))
    return {
        "hq50k": 100.0 * float((dist <= 3 * std).mean()),
        "mid_pct": 100.0 * float(((dist > 3 * std) & near).mean()),
        "far_pct": 100.0 * float((~near).mean()),
        "sd_along": float(np.std(np.concatenate(radial)) / std) if radial else float("nan"),
        "sd_across": float(np.std(np.concatenate(across)) / std) if across else float("nan"),
    }


def run_one(dataset: str, seed: int, steps: int | None, diag: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(TrainConfig(dataset=dataset, seed=seed, steps=steps, out=tmp))
        t0 = time.perf_counter()
        trainer = Trainer(cfg)
        trainer.run()
        wall = time.perf_counter() - t0
        q = evaluate_generator(trainer.sampler.g, trainer.data, seed=EVAL_SEED)
        if diag:
            x = generate_samples(trainer.sampler.g, DIAGNOSE_N, DIAGNOSE_SEED).numpy().astype(np.float64)
            q.update(diagnose(x, trainer.data.info["modes"], float(trainer.data.info["std"])))
    return {**q, "wall_s": wall, "steps": float(trainer.step)}


def row(label: str, r: dict[str, float]) -> str:
    kl = "n/a" if math.isnan(r["reverse_kl"]) else f"{r['reverse_kl']:.4f}"
    return (
        f"{label:<10} {r['modes']:>6.1f} / {r['modes_total']:<3.0f} {r['hq_pct']:>7.2f} {kl:>10} "
        f"{r['steps']:>7.0f} {r['wall_s']:>8.1f}"
        + (
            f" {r['hq50k']:>7.2f} {r['mid_pct']:>6.2f} {r['far_pct']:>6.2f} "
            f"{r['sd_along']:>6.2f} {r['sd_across']:>6.2f}"
            if "hq50k" in r
            else ""
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="ring,grid", help="comma-separated: ring, grid")
    ap.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated training seeds")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's steps")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once, one process and core each")
    ap.add_argument("--diagnose", action="store_true", help="also where the non-HQ samples sit (50,000)")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    if args.smoke:
        smoke_root("quality")
        args.seeds, args.steps, args.diagnose = "0", 30, True
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"machine: {machine()}")
    for dataset in args.datasets.split(","):
        recipe = resolve(TrainConfig(dataset=dataset, steps=args.steps))
        print(
            f"\n{dataset}: loss {recipe.loss}, lr {recipe.lr_g:g}/{recipe.lr_d:g}, betas {recipe.betas}, "
            f"batch {recipe.batch_size}, n_critic {recipe.n_critic}, z {recipe.z_dim}, steps {recipe.steps}"
        )
        extra = (
            f" {'HQ50k %':>7} {'3-6sd%':>6} {'>6sd%':>6} {'sd-al':>6} {'sd-ac':>6}" if args.diagnose else ""
        )
        print(f"{'seed':<10} {'modes':>12} {'HQ %':>7} {'rev. KL':>10} {'steps':>7} {'wall s':>8}{extra}")
        results = []
        work = [(dataset, seed, args.steps, args.diagnose) for seed in seeds]
        # --jobs > 1: one process per run, one thread each (what the trainer picks for 2-D data anyway),
        # seeds side by side on separate cores; wall times then include any contention between them.
        pool = multiprocessing.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else None
        with pool or nullcontext():
            runs = pool.starmap(run_one, work) if pool else itertools.starmap(run_one, work)
            for seed, r in zip(seeds, runs, strict=True):
                results.append(r)
                print(row(str(seed), r), flush=True)
        mean = {k: statistics.fmean(r[k] for r in results) for k in results[0]}
        print(row("mean", mean))
        print(
            f"{'worst':<10} modes {min(r['modes'] for r in results):.0f}, "
            f"HQ {min(r['hq_pct'] for r in results):.2f} %, wall {max(r['wall_s'] for r in results):.1f} s"
        )
    print("\npublished (PacGAN, Lin et al. 2018; 2,500 samples):")
    for name, dataset, modes, hq in REFERENCES:
        print(f"  {name:<28} {dataset:<5} {modes:>5.1f} modes  {hq:>5.1f} % HQ")


if __name__ == "__main__":
    main()
