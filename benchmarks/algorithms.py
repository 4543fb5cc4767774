"""The four algorithms on real digits, default flags, a wall-clock budget each: the seed's comparison
made measurable.

    python benchmarks/algorithms.py                         # gan, cgan, infogan, vae; 5 minutes each
    python benchmarks/algorithms.py --algos infogan --time 600
    python benchmarks/algorithms.py --smoke       # 300 stand-in digits, 1 s each, outputs in a temp folder

Each run is `ganterm train FOLDER --algo A --time T` with no other flag, on the 5,000 real MNIST digits
of `benchmarks/real_digits.py` laid out as a user's folder (`<label>/<i>.png`), one after the other (each
gets both cores). A checkpoint is kept every `--ckpt-every` steps; afterwards every kept checkpoint is
scored on 2,500 samples with ganterm's FCD classifier (trained on the folder's labels, cached): FCD, the
share called with p > 0.9, and
  cgan     the share of samples of class k that the classifier calls k (mean over classes, worst class)
  infogan  code -> class accuracy: categories matched to classes by an optimal assignment
           (scipy's linear_sum_assignment) on the co-occurrence counts
The time of a checkpoint is its event's wall time since the run's start. Grids go to --png-dir:
the fixed grid (one row per class / code value), InfoGAN's two traversals, the VAE's reconstructions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_digits import digits_folder, small_digits_folder
from smoke import SMOKE_HELP, smoke_root, tiny_classifier
from throughput import machine

from ganterm.channel.feed import Feed, SampleFrame
from ganterm.config import TrainConfig, resolve
from ganterm.data.registry import load_dataset
from ganterm.eval.fcd import load_or_train_classifier
from ganterm.eval.quality import evaluate_samples
from ganterm.rundir.writer import tile_images
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint
from ganterm.training.sampling import Sampler
from ganterm.training.trainer import Trainer

N_EVAL = 2500  # the smoke run's: 100
EVAL_SEED = 12345
GOALS = {"infogan": ("code_acc_pct", 80.0), "cgan": ("class_acc_pct", 90.0)}


def checkpoint_times(run: Path) -> dict[int, float]:
    """Step -> seconds since the run's start, from events.jsonl."""
    start, out = None, {}
    for line in (run / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev["kind"] == "start" and start is None:
            start = ev["time"]
        if ev["kind"] == "checkpoint" and start is not None:
            out[int(ev["step"])] = ev["time"] - start
    return out


def save_frame(frame: SampleFrame, path: Path, scale: int = 3) -> None:
    from PIL import Image

    mosaic = tile_images(frame.data, cols=frame.cols or int(np.ceil(np.sqrt(len(frame.data)))))
    img = Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic)
    img.resize((img.width * scale, img.height * scale), Image.NEAREST).save(path)


def run_algo(
    algo: str, folder: Path, seconds: float, ckpt_every: int, root: Path, sets: dict
) -> dict[str, Any]:
    out = root / algo
    cfg = resolve(
        TrainConfig(
            dataset=str(folder), algo=algo, time_limit=seconds, out=str(out), ckpt_every=ckpt_every, **sets
        )
    )
    t0 = time.perf_counter()
    trainer = Trainer(cfg, Feed())
    trainer.run()
    wall = time.perf_counter() - t0
    return {
        "algo": algo,
        "run": str(out),
        "steps": trainer.step,
        "wall_s": wall,
        "config": {
            k: v
            for k, v in cfg.to_dict().items()
            if k in ("model", "loss", "lr_g", "lr_d", "batch_size", "z_dim", "g_ema", "model_options")
        },
    }


def score_run(res: dict[str, Any], data: Any, net: Any, png_dir: Path) -> None:
    run = Path(res["run"])
    times = checkpoint_times(run)
    kept = []
    for path in checkpoint_files(run):
        ck = load_checkpoint(path)
        sampler = Sampler.from_checkpoint(ck)
        fake, ids = sampler.labelled(N_EVAL, EVAL_SEED)
        kind = "class" if sampler.prior.n_classes else ("code" if sampler.prior.n_cat else "")
        scores = evaluate_samples(fake, data, seed=EVAL_SEED, ids=ids, id_kind=kind, net=net)
        step = int(ck["step"])
        kept.append({"step": step, "t_s": times.get(step), **{k: float(v) for k, v in scores.items()}})
        last = sampler
    res["kept"] = kept
    res["final"] = kept[-1]
    goal = GOALS.get(res["algo"])
    if goal:
        key, target = goal
        reached = next((k for k in kept if k.get(key, 0) >= target), None)
        res["goal"] = {
            "metric": key,
            "target": target,
            "reached_at_s": None if reached is None else reached["t_s"],
        }
    label = res["algo"]
    save_frame(last.fixed(), png_dir / f"algo-{label}.png")
    for view in last.views:
        if view == "traversal":
            for code in range(last.prior.n_cont):
                save_frame(last.traversal(code), png_dir / f"algo-{label}-traversal-c{code + 1}.png")
        if view == "recon":
            save_frame(last.reconstructions(), png_dir / f"algo-{label}-recon.png")


def summary(res: dict[str, Any]) -> str:
    f = res["final"]
    extra = ""
    if "code_acc_pct" in f:
        extra = f"code->class {f['code_acc_pct']:.1f} %"
    if "class_acc_pct" in f:
        extra = f"per-class {f['class_acc_pct']:.1f} % (worst {f['class_acc_min_pct']:.1f} %)"
    goal = res.get("goal")
    if goal:
        at = goal["reached_at_s"]
        extra += f"; >= {goal['target']:.0f} % " + (f"after {at:.0f} s" if at is not None else "not reached")
    return (
        f"| {res['algo']} | {res['steps']:,} | {res['wall_s']:.0f} s | {f['fcd']:.2f} | "
        f"{f['confident_pct']:.1f} % | "
        f"{f['min_class_pct']:.1f}-{f['max_class_pct']:.1f} % | {extra} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algos", default="gan,cgan,infogan,vae")
    ap.add_argument("--time", type=float, default=300.0, help="seconds of training per run")
    ap.add_argument("--ckpt-every", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], help="TrainConfig override KEY=JSON (tuning)")
    ap.add_argument("--label", default="")
    ap.add_argument("--png-dir", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--keep", default=None, help="keep run directories here (default: a temp dir)")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    global N_EVAL
    sets = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    scratch = smoke_root("algorithms") if args.smoke else None
    if scratch is not None:
        folder = small_digits_folder(scratch / "digits")
        args.time, args.ckpt_every, N_EVAL = 1.0, 5, 100
        if args.png_dir == ap.get_default("png_dir"):  # never over the committed results
            args.png_dir = str(scratch / "results")
    else:
        folder = digits_folder()
    png_dir = Path(args.png_dir)
    png_dir.mkdir(parents=True, exist_ok=True)
    data = load_dataset(str(folder), image_size=28, channels=1, progress=False)
    if scratch is not None:
        tiny_classifier(data)
    net = load_or_train_classifier(data, "cpu", None)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ganterm-algos-", dir=scratch))
    print(f"# {machine()}; {args.time:.0f} s per run; folder {folder}", flush=True)
    results = []
    for algo in args.algos.split(","):
        res = run_algo(algo, folder, args.time, args.ckpt_every, root, sets)
        score_run(res, data, net, png_dir)
        results.append(res)
        print(summary(res), flush=True)
    print("\n| algo | steps | wall | FCD | p > 0.9 | share per class | conditional |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for res in results:
        print(summary(res))
    name = f"algorithms{'-' + args.label if args.label else ''}.json"
    (png_dir / name).write_text(
        json.dumps({"machine": machine(), "time_s": args.time, "runs": results}, indent=1)
    )


if __name__ == "__main__":
    main()
