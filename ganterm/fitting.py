"""`ganterm.fit`: your own G and D, trained by ganterm's trainer with everything it has (the live monitor,
checkpoints, exact resume, loss swap, rollback, health checks).

    import ganterm
    result = ganterm.fit(G, D, "shapes", loss="ns", steps=2000, lr_g=2e-4)
    print(result.run_dir, result.metrics)

The modules are handed to the algorithm in place of the registry's (`Algorithm.networks`), so the loop
trains them exactly as it trains its own; cGAN and InfoGAN wrap them as they wrap ours. Checkpoints stay
weights-only and record the model as "fit": `ganterm view` shows the run's curves, and `ganterm sample`
says to rebuild G in Python (ganterm has the weights, not the code).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganterm.config import FIT_MODEL, RECIPES, TrainConfig, check_dataset_name, parse_duration, resolve
from ganterm.data.base import Dataset
from ganterm.errors import UsageError

# TrainConfig fields that fit sets itself (arguments of their own, or what the networks decide).
_OWN_FIELDS = (
    "dataset",
    "model",
    "model_options",
    "loss",
    "steps",
    "time_limit",
    "out",
    "extra",
    "world_size",
    "trusted_model",  # fit's networks are handed in, never loaded from a file
)
OPTIONS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in _OWN_FIELDS)


@dataclass(frozen=True)
class FitResult:
    """What a finished (or stopped) fit leaves: where, how far, and the last metric row by name."""

    run_dir: Path
    steps: int
    metrics: dict[str, float]
    checkpoint: Path | None
    state: str  # finished | stopped


# ------------------------------------------------------------------------------------------ z_dim
def infer_z_dim(G: nn.Module) -> int | None:
    """The width of G's input, read off its first layer: a Linear's in_features, or a ConvTranspose2d's
    in_channels (a (N, z, 1, 1) input). None when the first layer with weights is anything else."""
    for m in G.modules():
        if isinstance(m, nn.modules.lazy.LazyModuleMixin):
            return None  # its input width is only known after a first call
        if isinstance(m, nn.Linear):
            return int(m.in_features)
        if isinstance(m, nn.ConvTranspose2d):
            return int(m.in_channels)
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.Embedding)):
            return None
    return None


def _noise_dim(width: int, algo: str, n_classes: int, codes: dict[str, int]) -> int:
    """G's input width less what the algorithm appends to the noise (the label, InfoGAN's codes)."""
    if algo == "cgan":
        return width - n_classes
    if algo == "infogan":
        return width - int(codes.get("cat", 10)) - int(codes.get("cont", 2))
    return width


# ------------------------------------------------------------------------------------------- data
def _images_tensor(x: torch.Tensor, what: str) -> torch.Tensor:
    if x.dim() == 2:  # (N, D) points
        return x.float()
    if x.dim() != 4:
        raise UsageError(f"{what} must be (N, C, H, W) images or (N, 2) points, got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
    if x.dtype == torch.uint8:
        return x.float() / 127.5 - 1
    x = x.float()
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0 and hi > 1.5:  # 0..255 floats
        return x / 127.5 - 1
    if lo >= 0:  # [0, 1]
        return x * 2 - 1
    if lo < -1.01 or hi > 1.01:
        raise UsageError(f"{what} must be in [-1, 1], [0, 1] or 0..255, got values from {lo:.3g} to {hi:.3g}")
    return x


def _from_torch_dataset(ds: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor | None]:
    try:
        n = len(ds)  # type: ignore[arg-type]
    except TypeError:
        raise UsageError("data: a torch Dataset must have a length (an IterableDataset does not)") from None
    if n == 0:
        raise UsageError("data: the Dataset is empty")
    xs, ys = [], []
    for i in range(n):
        item = ds[i]
        x, y = (item[0], item[1]) if isinstance(item, (tuple, list)) else (item, None)
        xs.append(torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x)
        if y is not None:
            ys.append(int(y))
    labels = torch.tensor(ys, dtype=torch.long) if len(ys) == n else None
    return torch.stack(xs), labels


def as_dataset(
    data: Any, *, seed: int = 0, image_size: int | None = None, channels: int | None = None
) -> Dataset:
    """A tensor, a numpy array, a torch Dataset or a dataset name -> ganterm's in-memory Dataset."""
    if isinstance(data, str):
        from ganterm.data.registry import load_dataset

        return load_dataset(data, image_size=image_size, channels=channels, progress=True, seed=seed)
    labels = None
    if isinstance(data, Dataset):
        return data
    if isinstance(data, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(data))
    elif isinstance(data, torch.Tensor):
        x = data.detach().cpu()
    elif isinstance(data, torch.utils.data.Dataset):
        x, labels = _from_torch_dataset(data)
    else:
        raise UsageError(
            "data must be a tensor, a numpy array, a torch Dataset or a dataset name, "
            f"not {type(data).__name__}"
        )
    if len(x) < 2:
        raise UsageError(f"data needs at least 2 samples, got {len(x)}")
    x = _images_tensor(x, "data")
    kind = "images" if x.dim() == 4 else "points"
    info: dict[str, Any] = {}
    if labels is not None:
        info["classes"] = [str(c) for c in range(int(labels.max()) + 1)]
    name = f"tensor{tuple(x.shape)}"
    return Dataset(name, kind, tuple(x.shape[1:]), len(x), x.contiguous(), labels, None, info)


# ---------------------------------------------------------------------------------------- trainer
def _config(
    data: Dataset,
    name: str | None,
    loss: str,
    steps: int | None,
    time: Any,
    out: Any,
    options: dict[str, Any],
    networks: tuple[nn.Module, nn.Module],
    z_dim: int | None,
) -> TrainConfig:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        own = [p.name for p in inspect.signature(fit).parameters.values() if p.kind is p.KEYWORD_ONLY]
        takes = ", ".join(sorted({*OPTIONS, *own}))  # fit's own keyword arguments beside the options
        raise UsageError(f"ganterm.fit has no option {unknown[0]!r}; it takes: {takes}")
    if steps is not None and (not isinstance(steps, int) or steps <= 0):
        raise UsageError(f"steps must be a positive integer, got {steps!r}")
    time_limit = None
    if time is not None:
        time_limit = float(time) if isinstance(time, (int, float)) else parse_duration(str(time))
    G, D = networks
    extra = {
        "loss_given": True,
        "user_networks": {"G": type(G).__qualname__, "D": type(D).__qualname__},
        **({"n_critic_given": True} if options.get("n_critic") is not None else {}),
    }
    opts = dict(options)
    if "betas" in opts and opts["betas"] is not None:
        opts["betas"] = tuple(float(b) for b in opts["betas"])
    cfg = TrainConfig(
        dataset=name or data.name,
        model=FIT_MODEL,
        loss=loss,
        steps=steps,
        time_limit=time_limit,
        out=None if out is None else str(out),
        extra=extra,
        **opts,
    )
    if name is None:
        # In-memory data has no recipe of its own: the embedded sets' (images or 2-D points) fill the gaps.
        base = RECIPES["shapes" if data.kind == "images" else "ring"]
        for f in dataclasses.fields(cfg):
            if getattr(cfg, f.name) is None and f.name in base:
                setattr(cfg, f.name, base[f.name])
        cfg.image_size, cfg.channels = 0, 0
        if data.kind == "points":
            cfg.eval_every = 0  # the PacGAN scores need the ring/grid modes, unknown for your points
        if steps is None and time_limit is None:
            cfg.steps = int(base["steps"])
    width = infer_z_dim(G)
    algo = str(cfg.algo or "gan")
    if z_dim is None and width is not None:
        z_dim = _noise_dim(width, algo, data.n_classes, cfg.extra.get("codes") or {})
    if z_dim is None:
        raise UsageError(
            f"cannot read z_dim off {type(G).__name__} (its first layer is not a Linear or ConvTranspose2d); "
            "pass z_dim="
        )
    cfg.z_dim = int(z_dim)
    return resolve(cfg)


def fit(
    generator: nn.Module,
    discriminator: nn.Module,
    data: Any,
    *,
    loss: str = "ns",
    steps: int | None = None,
    time: str | float | None = None,
    out: str | Path | None = None,
    headless: bool | None = None,
    z_dim: int | None = None,
    **options: Any,
) -> FitResult:
    """Train `generator` and `discriminator` (trained in place) on `data` with ganterm's trainer.

    data: a tensor (N, C, H, W) in [-1, 1] (or (N, 2) points), a numpy array (NCHW or NHWC; uint8,
    [0, 1] or [-1, 1]), a torch Dataset (items tensors or (x, y) pairs; labels enable algo="cgan"), or a
    dataset name ("shapes", "mnist", ...). G maps (N, z_dim) to the data's shape, D returns one logit per
    sample. The live monitor runs when stdout is a terminal and `headless` is not True.
    options: TrainConfig fields (lr_g, lr_d, batch_size, algo, resume, seed, ckpt_every, g_ema, ...).
    """
    if not (isinstance(generator, nn.Module) and isinstance(discriminator, nn.Module)):
        raise UsageError("ganterm.fit takes two torch nn.Modules: fit(generator, discriminator, data, ...)")
    name = data if isinstance(data, str) else None
    if name is not None:
        check_dataset_name(name)
    dataset = as_dataset(
        data,
        seed=int(options.get("seed", 0)),
        image_size=options.get("image_size"),
        channels=options.get("channels"),
    )
    if out is None and options.get("resume") is None:
        out = Path("runs") / f"fit-{_time.strftime('%Y%m%d-%H%M%S')}"
    networks = (generator, discriminator)
    cfg = _config(dataset, name, loss, steps, time, out, options, networks, z_dim)
    from ganterm.session import Session, join_ranks

    dist = join_ranks()  # under torchrun: one DDP rank of the run
    session = Session(
        cfg,
        dist=dist,
        data=dataset,
        networks=(generator, discriminator),
        # FCD and the PacGAN modes need a known dataset's classifier or modes
        evaluator="default" if name is not None else None,
        source="ganterm.fit",
    )
    monitor = headless is False or (headless is None and sys.stdout.isatty())
    session.run(monitor)
    trainer, snap = session.trainer, session.feed.snapshot
    return FitResult(
        run_dir=Path(trainer.run_dir or ""),
        steps=trainer.step,
        metrics={k: float(v) for k, v in snap.metrics.items()},
        checkpoint=trainer.last_checkpoint,
        state=str(snap.state),
    )
