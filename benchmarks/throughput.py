"""Training throughput: ganterm's trainer against a pytorch/examples-style DCGAN loop, headless.

    python benchmarks/throughput.py                      # folder + small: about 4 minutes on 2 idle cores
    python benchmarks/throughput.py --parts folder --rounds 5 --steps 40
    python benchmarks/throughput.py --parts ablation     # what each speed choice in train.py buys
    python benchmarks/throughput.py --parts frozen       # G step with and without D's weight gradients
    python benchmarks/throughput.py --smoke              # every part, a few steps of batch 2: seconds

Parts:
  folder    64x64 DCGAN on one folder of PNGs: the reference loop (per-sample Dataset decoding each file
            with Pillow, hand-written to-tensor/normalise, DataLoader with 2 workers, sigmoid + BCELoss,
            `.item()` five times a step, as pytorch/examples dcgan/main.py) against ganterm's Trainer
            (default precision and fp32), alternating contenders round by round.
  small     ganterm alone on the 28x28 `dcgan` and `mlp` models, batch 64, CPU.
  ablation  ganterm's train_step on the 64x64 DCGAN with one speed choice switched at a time.
  frozen    train_step with D frozen during G's backward (the trainer's way) against computing D's
            weight gradients there too (as before; they were discarded), on the 64x64 and 28x28 models
            and the ring toy, both variants alternating on one trainer.

Every figure is a median over rounds; warm-up steps are excluded. The machine is shared, so contenders
alternate within each round and the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke import SMOKE_HELP, smoke_root, tiny_classifier

from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve
from ganterm.models.catalog import build_models
from ganterm.training.trainer import Trainer

BATCH = 64  # --batch (the smoke run's is 2)
Z_DIM = 100
PUBLISH_EVERY = 10  # --publish-every: the trainer is timed between two publishes
WARM_STEPS = 2  # untimed train_step calls before a timed block (the smoke run's: 1)


# ------------------------------------------------------------------------------------------ machine
def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    isa = [
        name
        for name, probe in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx", "_is_amx_tile_supported"))
        if getattr(torch.cpu, probe, lambda: False)()
    ]
    return (
        f"CPU {model}, {os.cpu_count()} cores ({', '.join(isa) or 'no bf16 ISA'}); "
        f"torch {torch.__version__}; "
        f"threads {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} inter-op; "
        f"python {platform.python_version()}"
    )


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------- image folder
def make_image_folder(n: int, size: int = 64, root: Path | None = None) -> Path:
    """n PNGs of coloured ellipses and boxes on gradients, made once and reused (a `done` file marks it)."""
    from PIL import Image, ImageDraw

    root = root or Path(tempfile.gettempdir()) / f"ganterm-bench-folder-{n}-{size}"
    if (root / "done").exists():
        return root
    # One sub-folder so that ImageFolder-style loaders (class per folder) and ganterm read the same files.
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, size)[None, :, None]
    for i in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        background = (a * (1 - ramp) + b * ramp).repeat(size, 0).astype(np.uint8)
        im = Image.fromarray(background)
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.integers(0, size - 16, 2)
            w, h = rng.integers(8, size // 2, 2)
            box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
        im.save(root / "images" / f"{i:05d}.png")
    (root / "done").write_text(str(n))
    return root


# ------------------------------------------------------------------------------------ reference loop
class PngFolder(torch.utils.data.Dataset):
    """A per-sample dataset as torchvision's ImageFolder + Resize/CenterCrop/ToTensor/Normalize does it.

    `pattern` picks the files under `root`; the label is the parent folder's name where it is a number.
    """

    def __init__(self, root: Path, size: int, mode: str = "RGB", pattern: str = "images/*.png") -> None:
        self.files = sorted(root.glob(pattern))
        self.size, self.mode = size, mode

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        with Image.open(self.files[i]) as im:
            im = im.convert(self.mode)
            w, h = im.size
            scale = self.size / min(w, h)
            if scale != 1:
                im = im.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
            w, h = im.size
            left, top = (w - self.size) // 2, (h - self.size) // 2
            im = im.crop((left, top, left + self.size, top + self.size))
            pixels = np.asarray(im, dtype=np.uint8).copy()
            pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
            x = torch.from_numpy(pixels).permute(2, 0, 1).float().div(255)
        parent = self.files[i].parent.name
        return (x - 0.5) / 0.5, int(parent) if parent.isdigit() else 0


class ReferenceLoop:
    """The training step of pytorch/examples dcgan/main.py: sigmoid + BCELoss, Adam 2e-4 (0.5, 0.999),
    `.item()` five times a step for the line the example prints."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.net_g, self.net_d = build_models("dcgan", shape, Z_DIM)
        self.criterion = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self, real: torch.Tensor) -> tuple[float, ...]:
        net_g, net_d, criterion = self.net_g, self.net_d, self.criterion
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        net_d.zero_grad()
        label = torch.full((real.size(0),), 1.0)
        output = torch.sigmoid(net_d(real))  # the example's D ends in nn.Sigmoid
        err_d_real = criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(real.size(0), Z_DIM, 1, 1)
        fake = net_g(noise)
        label.fill_(0.0)
        output = torch.sigmoid(net_d(fake.detach()))
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        self.opt_d.step()
        # (2) Update G: maximize log(D(G(z)))
        net_g.zero_grad()
        label.fill_(1.0)
        output = torch.sigmoid(net_d(fake))
        err_g = criterion(output, label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        self.opt_g.step()
        return (err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)  # what the example prints each step


def reference_round(root: Path, warmup: int, steps: int, seed: int) -> float:
    """Steps/s of the pytorch/examples DCGAN loop, warm-up excluded."""
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(PngFolder(root, 64), batch_size=BATCH, shuffle=True, num_workers=2)
    loop = ReferenceLoop((3, 64, 64))
    done, t0 = 0, 0.0
    while True:
        for real, _ in loader:
            if done == warmup:
                t0 = time.perf_counter()
            loop.step(real)
            done += 1
            if done == warmup + steps:
                return steps / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------- ganterm
class TimingFeed(Feed):
    """Records (step, time) at each publish: the trainer's own loop, timed from outside."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[int, float]] = []

        self.running_at = 0.0

    def update(self, **fields: Any) -> None:
        if fields.get("state") == "running" and not self.running_at:
            self.running_at = time.perf_counter()  # setup (data, models, optimizers) is done
        super().update(**fields)

    def publish(
        self, steps: np.ndarray, values: np.ndarray, columns: tuple[str, ...] | None = None, **fields: Any
    ) -> None:
        if len(steps):
            self.marks.append((int(steps[-1]), time.perf_counter()))
        super().publish(steps, values, columns, **fields)


def ganterm_round(
    dataset: str, model: str, warmup: int, steps: int, seed: int, out: Path, **kw: Any
) -> tuple[float, float]:
    """(steps/s between the publish at `warmup` and the one `steps` later, setup seconds)."""
    publish_every = PUBLISH_EVERY
    warmup = -(-warmup // publish_every) * publish_every
    steps = -(-steps // publish_every) * publish_every
    cfg = resolve(
        TrainConfig(
            dataset=dataset,
            model=model,
            batch_size=BATCH,
            steps=warmup + steps,
            seed=seed,
            device="cpu",
            out=str(out),
            publish_every=publish_every,
            ckpt_every=10**9,
            sample_every=10**9,
            **kw,
        )
    )
    feed = TimingFeed()
    t0 = time.perf_counter()
    trainer = Trainer(cfg, feed)
    trainer.run()
    marks = dict(feed.marks)
    return steps / (marks[warmup + steps] - marks[warmup]), feed.running_at - t0


def part_folder(args: argparse.Namespace, tmp: Path) -> None:
    t = time.perf_counter()
    root = make_image_folder(args.images, root=args.image_root)
    print(
        f"\n## 64x64 DCGAN, batch {BATCH}, folder of {args.images} PNGs ({root}; ready in "
        f"{time.perf_counter() - t:.1f} s)"
    )
    contenders: dict[str, Callable[[int], float]] = {
        "reference (pytorch/examples style)": lambda s: reference_round(root, args.warmup, args.steps, s),
    }
    for precision in args.precisions:
        contenders[f"ganterm --precision {precision}"] = lambda s, p=precision: ganterm_round(
            f"folder:{root}",
            "dcgan",
            args.warmup,
            args.steps,
            s,
            tmp / f"run-{p}-{s}",
            image_size=64,
            channels=3,
            precision=p,
        )[0]
    rates = run_alternating(contenders, args.rounds)
    ref = rates[next(iter(contenders))]
    print(f"\n| loop | steps/s median (best) of {args.rounds} | images/s | vs reference | rounds |")
    print("|---|---|---|---|---|")
    for name, r in rates.items():
        m, b = statistics.median(r), max(r)
        ratio = f"{m / statistics.median(ref):.2f}x ({b / max(ref):.2f}x)"
        print(f"| {name} | {m:.2f} ({b:.2f}) | {m * BATCH:.0f} | {ratio} | {_rounds(r)} |")


def part_small(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n## ganterm on 28x28 shapes, batch {BATCH}, CPU")
    contenders = {
        f"{model} --precision {p}": (
            lambda s, m=model, p=p: ganterm_round(
                "shapes",
                m,
                args.warmup,
                args.steps * 3,
                s,
                tmp / f"small-{m}-{p}-{s}",
                image_size=28,
                precision=p,
            )[0]
        )
        for model in ("dcgan", "mlp")
        for p in args.precisions
    }
    rates = run_alternating(contenders, args.rounds)
    print(f"\n| model | steps/s median (best) of {args.rounds} | images/s (median) | rounds |")
    print("|---|---|---|---|")
    for name, r in rates.items():
        m = statistics.median(r)
        print(f"| {name} | {m:.1f} ({max(r):.1f}) | {m * BATCH:.0f} | {_rounds(r)} |")


# ----------------------------------------------------------------------------------------- quality
def part_quality(args: argparse.Namespace, tmp: Path) -> None:
    """Same seeds, fp32 against bf16: FCD of the final G (lower is better) and the final D/G figures."""
    from ganterm.eval.quality import evaluate_generator

    steps = args.quality_steps
    print(f"\n## quality: shapes 28x28, dcgan, {steps} steps, fp32 vs bf16, seeds {args.seeds}")
    print("\n| precision | seed | FCD | d_loss | g_loss | D(x) | D(G(z)) | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for precision in ("fp32", "bf16"):
            cfg = resolve(
                TrainConfig(
                    dataset="shapes",
                    model="dcgan",
                    image_size=28,
                    steps=steps,
                    seed=seed,
                    device="cpu",
                    out=str(tmp / f"quality-{precision}-{seed}"),
                    precision=precision,
                )
            )
            start = time.perf_counter()
            trainer = Trainer(cfg, Feed())
            trainer.run()
            wall = time.perf_counter() - start
            if args.smoke:
                tiny_classifier(trainer.data)  # the real one trains for 3,000 steps
            fcd = evaluate_generator(
                trainer.sampler.g, trainer.data, n=args.quality_n, seed=12345, device="cpu"
            )["fcd"]
            # The mean of the last 50 steps: one step's losses are too noisy to compare.
            last = {
                k: float(np.mean(trainer.feed.series(k, last_steps=50).mean))
                for k in ("d_loss", "g_loss", "d_real", "d_fake")
            }
            print(
                f"| {precision} | {seed} | {fcd:.2f} | {last['d_loss']:.3f} | {last['g_loss']:.3f} | "
                f"{last['d_real']:.3f} | {last['d_fake']:.3f} | {wall:.0f} |",
                flush=True,
            )


# ---------------------------------------------------------------------------------------- ablation
def _dcgan64_config(root: Path, out: Path, precision: str, **extra: object) -> TrainConfig:
    """The 64x64 DCGAN on the image folder, as the ablation and compile rows train it."""
    return resolve(
        TrainConfig(
            dataset=f"folder:{root}",
            model="dcgan",
            image_size=64,
            channels=3,
            batch_size=BATCH,
            steps=10**6,
            device="cpu",
            out=str(out),
            precision=precision,
            **extra,
        )
    )


def _train_step_rate(t: Trainer, batch: int, n: int) -> float:
    """steps/s of `train_step` alone over n + 1 steps, after WARM_STEPS untimed ones."""
    for _ in range(WARM_STEPS):  # warm-up: oneDNN picks and caches its kernels on first use
        t.train_step(batch)
    start = time.perf_counter()
    for _ in range(n):
        t.train_step(batch)
    float(t.train_step(batch)[0])  # one sync, as the trainer does at publish time
    return (n + 1) / (time.perf_counter() - start)


def _variant_trainer(
    root: Path, tmp: Path, name: str, precision: str, setup: Callable[[Trainer], None]
) -> Trainer:
    cfg = _dcgan64_config(root, tmp / f"ablation-{name}", precision)
    trainer = Trainer(cfg, Feed())
    trainer.setup()
    setup(trainer)
    return trainer


def _configure(channels_last: bool, fused: bool) -> Callable[[Trainer], None]:
    """Switch the trainer's memory layout and Adam implementation after setup."""

    def apply(t: Trainer) -> None:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        for m in (t.state["G"], t.state["D"]):
            m.to(memory_format=fmt)
        betas = tuple(t.cfg.betas)  # type: ignore[arg-type]
        kw: dict[str, Any] = {"fused": True} if fused else {"foreach": True}
        for name, lr in (("G", t.cfg.lr_g), ("D", t.cfg.lr_d)):
            t.state.optimizers[name] = torch.optim.Adam(t.state[name].parameters(), lr=lr, betas=betas, **kw)

    return apply


def part_ablation(args: argparse.Namespace, tmp: Path) -> None:
    root = make_image_folder(args.images, root=args.image_root)
    print(f"\n## train_step of the 64x64 DCGAN, one choice at a time (batch {BATCH}, {args.rounds} rounds)")
    variants: dict[str, tuple[str, Callable[[Trainer], None]]] = {
        "fp32, NCHW, foreach Adam (before)": ("fp32", _configure(False, False)),
        "fp32 + channels_last": ("fp32", _configure(True, False)),
        "fp32 + channels_last + fused Adam": ("fp32", _configure(True, True)),
        "bf16 autocast, NCHW, foreach Adam": ("bf16", _configure(False, False)),
        "bf16 + channels_last": ("bf16", _configure(True, False)),
        "bf16 + channels_last + fused Adam (new default)": ("bf16", _configure(True, True)),
        "new default, 1 intra-op thread": ("bf16", _configure(True, True)),
    }
    trainers = {
        name: _variant_trainer(root, tmp, str(i), p, s) for i, (name, (p, s)) in enumerate(variants.items())
    }
    threads = torch.get_num_threads()

    def block(name: str) -> float:
        t = trainers[name]
        torch.set_num_threads(1 if "1 intra-op" in name else threads)
        try:
            return _train_step_rate(t, BATCH, args.steps // 5)
        finally:
            torch.set_num_threads(threads)

    rates = run_alternating({name: (lambda s, n=name: block(n)) for name in trainers}, args.rounds)
    first = next(iter(rates.values()))
    base, best = statistics.median(first), max(first)
    print("\n| step variant | steps/s median (best) | vs before: median (best) | rounds |")
    print("|---|---|---|---|")
    for name, r in rates.items():
        m = statistics.median(r)
        print(f"| {name} | {m:.2f} ({max(r):.2f}) | {m / base:.2f}x ({max(r) / best:.2f}x) | {_rounds(r)} |")
    if args.compile:
        _compile_row(root, tmp, args)


def _compile_row(root: Path, tmp: Path, args: argparse.Namespace) -> None:
    for precision in ("bf16", "fp32"):
        cfg = _dcgan64_config(root, tmp / f"compile-{precision}", precision, compile=True)
        t = Trainer(cfg, Feed())
        t.setup()
        start = time.perf_counter()
        t.train_step(BATCH)
        t.train_step(BATCH)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.steps // 2):
            t.train_step(BATCH)
        rate = (args.steps // 2) / (time.perf_counter() - start)
        print(
            f"| torch.compile, {precision} | {rate:.2f} | "
            f"(first 2 steps incl. compile: {compile_s:.0f} s) | |"
        )


# ------------------------------------------------------------------------------------------ frozen
def _small_config(out: Path, model: str) -> TrainConfig:
    return resolve(
        TrainConfig(
            dataset="shapes",
            model=model,
            image_size=28,
            batch_size=BATCH,
            steps=10**6,
            device="cpu",
            out=str(out),
        )
    )


def part_frozen(args: argparse.Namespace, tmp: Path) -> None:
    import contextlib

    import ganterm.algos.gan as train_module  # where the G step freezes D

    frozen = train_module.frozen
    if "frozen" not in train_module.GAN.step.__code__.co_names:  # else both variants would time the same
        raise SystemExit("throughput.py: GAN.step no longer calls algos.gan.frozen; update part_frozen")

    @contextlib.contextmanager
    def not_frozen(params: list[nn.Parameter]) -> Any:
        yield

    root = make_image_folder(args.images, root=args.image_root)
    cases = [
        ("64x64 dcgan", _dcgan64_config(root, tmp / "frozen-64", "auto"), args.steps // 2),
        ("28x28 dcgan", _small_config(tmp / "frozen-dcgan", "dcgan"), args.steps * 3),
        ("28x28 mlp", _small_config(tmp / "frozen-mlp", "mlp"), args.steps * 3),
        ("ring toy", resolve(TrainConfig(dataset="ring", out=str(tmp / "frozen-ring"))), args.steps * 50),
    ]
    print(f"\n## G step: D frozen (now) vs D's weight gradients computed too (before), {args.rounds} rounds")
    rows = []
    for label, cfg, n in cases:
        t = Trainer(cfg, Feed())
        t.setup()
        B = int(cfg.batch_size)

        def block(_: int, ctx: Any, t: Trainer = t, B: int = B, n: int = n) -> float:
            train_module.frozen = ctx
            try:
                return _train_step_rate(t, B, n)
            finally:
                train_module.frozen = frozen

        rates = run_alternating(
            {
                f"{label}, D frozen": lambda r, b=block: b(r, frozen),
                f"{label}, D grads too": lambda r, b=block: b(r, not_frozen),
            },
            args.rounds,
        )
        now, before = (statistics.median(r) for r in rates.values())
        rows.append(f"| {label} (batch {B}) | {before:.2f} | {now:.2f} | {100 * (now / before - 1):+.0f} % |")
    print("\n| model | D grads too (before) steps/s | D frozen (now) | gain |\n|---|---|---|---|")
    print("\n".join(rows))


# ------------------------------------------------------------------------------------------- driver
def _rounds(r: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in r)


def run_alternating(contenders: dict[str, Callable[[int], float]], rounds: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, fn in contenders.items():
            rates[name].append(fn(r))
            print(
                f"  round {r + 1}/{rounds} {name}: {rates[name][-1]:.2f} steps/s (load {load_average()})",
                flush=True,
            )
    return rates


def main() -> None:
    global BATCH, PUBLISH_EVERY, WARM_STEPS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--parts",
        help="comma list of: folder, small, ablation, frozen, quality (default: folder,small; --smoke: all)",
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per part (medians over these)")
    ap.add_argument(
        "--steps", type=int, default=30, help="timed steps per round (64x64); small models run 3x"
    )
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps at the start of each round")
    ap.add_argument(
        "--images", type=int, default=5120, help="PNGs in the generated folder (80 batches of 64)"
    )
    ap.add_argument("--precisions", default="auto,fp32", help="ganterm precisions to run")
    ap.add_argument(
        "--compile", action="store_true", help="ablation: also time torch.compile (slow to build)"
    )
    ap.add_argument("--quality-steps", type=int, default=600, help="quality: training steps per run")
    ap.add_argument("--seeds", default="0,1", help="quality: training seeds")
    ap.add_argument("--quality-n", type=int, default=2000, help="quality: samples scored per run")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size of the image models")
    ap.add_argument("--publish-every", type=int, default=PUBLISH_EVERY, help="trainer's publish cadence")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = ap.parse_args()
    args.image_root = None  # the generated folder: cached under $TMPDIR by default
    if args.smoke:
        root = smoke_root("throughput")
        args.parts = args.parts or "folder,small,ablation,frozen,quality"
        args.rounds, args.steps, args.warmup = 1, 1, 1
        args.images, args.batch, args.publish_every, args.quality_steps, args.quality_n = 16, 2, 2, 4, 200
        args.seeds, args.image_root, WARM_STEPS = "0", root / "folder", 1
    BATCH, PUBLISH_EVERY = args.batch, args.publish_every
    args.parts = args.parts or "folder,small"
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.precisions = args.precisions.split(",")
    print(machine())
    print(f"load average at start: {load_average()} (a shared machine: medians, contenders alternate)")
    parts = {
        "folder": part_folder,
        "small": part_small,
        "ablation": part_ablation,
        "frozen": part_frozen,
        "quality": part_quality,
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganterm-bench-") as tmp:
        for part in args.parts.split(","):
            parts[part](args, Path(tmp))
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average at end: {load_average()}")


if __name__ == "__main__":
    main()
