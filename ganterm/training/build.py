"""What a run is built from, before its first step: the data on its device, the algorithm's networks with
their optimizers and averages, the DDP probe for parameters one step leaves without a gradient, the
precision, the sampler's fixed latents, and where the run directory goes. Plain functions: each takes
what it needs and returns what it made."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from ganterm.algos.base import Algorithm, StepContext
from ganterm.config import TrainConfig, recipe_key
from ganterm.data.base import Dataset
from ganterm.data.folder import skipped_note
from ganterm.rundir.writer import default_run_dir
from ganterm.training.device import has_fast_bf16
from ganterm.training.ema import EMA
from ganterm.training.sampling import Sampler
from ganterm.training.state import TrainingState

RECON_IMAGES = 32  # real images kept for a VAE's reconstructions view


def load_data(cfg: TrainConfig, device: torch.device, progress: Any, say: Any) -> Dataset:
    """The run's dataset (downloaded or decoded with `progress`); on a GPU that holds it, all of it
    moves there once, so no batch is copied from the host."""
    from ganterm.data.progress import LineProgress
    from ganterm.data.registry import load_dataset

    say(f"loading dataset {cfg.dataset} ...")
    data = load_dataset(
        cfg.dataset,
        image_size=cfg.image_size or None,
        channels=cfg.channels or None,
        data_dir=cfg.data_dir,
        # Under the TUI a stderr bar would tear the screen: the header line shows progress instead.
        progress=progress or LineProgress(say),
        seed=cfg.seed,
    )
    if device.type != "cpu" and data.data is not None and _fits_on_device(data.data, device):
        data = data.to(device)
    return data


def _fits_on_device(x: torch.Tensor, device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return x.numel() * x.element_size() < 0.4 * free


def build_state(
    algo: Algorithm, cfg: TrainConfig, data: Dataset, device: torch.device, gen: torch.Generator, dist: Any
) -> tuple[TrainingState, list[str]]:
    """The algorithm's networks on the device, an Adam per optimizer group, weight averages, each network
    wrapped for DDP; plus notes for the start of the run (parameters DDP must be told about)."""
    nets = algo.build()
    for net in nets.values():
        net.to(device)
        if len(data.shape) == 3 and device.type in ("cpu", "cuda"):
            # NHWC weights let oneDNN / cuDNN run the convs without a layout reorder around each one.
            net.to(memory_format=torch.channels_last)
    betas = tuple(cfg.betas)  # type: ignore[arg-type]
    # One fused kernel per optimizer step (CPU and CUDA); MPS keeps the multi-tensor path.
    fused = device.type in ("cpu", "cuda")
    state = TrainingState(nets, {}, gen)
    for name, (members, lr) in algo.optimizer_groups().items():
        state.optimizers[name] = torch.optim.Adam(
            state.params(*members), lr=lr, betas=betas, fused=fused or None, foreach=None if fused else True
        )
    if cfg.g_ema:
        # Samples, evaluation and `ganterm sample` use the weight average when there is one.
        state.emas = {name: EMA(nets[name], float(cfg.g_ema)) for name in algo.ema_networks()}
    # Under DDP the step calls the wrapped networks (gradients averaged in backward); samples, averages
    # and state dicts reach the plain ones (`plain`). The optimizers hold the same parameters.
    unused = (
        parameters_without_gradient(algo, nets, data, int(cfg.batch_size), device)
        if dist.world_size > 1
        else {}
    )
    notes = []
    for name, params in unused.items():
        shown = ", ".join(params[:3]) + (f" and {len(params) - 3} more" if len(params) > 3 else "")
        notes.append(
            f"{name} has parameters that get no gradient ({shown}): DDP looks for unused "
            "parameters in each of its backward passes (find_unused_parameters)"
        )
    state.modules = {
        name: dist.wrap(net, bool(cfg.sync_bn), find_unused=name in unused) for name, net in nets.items()
    }
    return state, notes


def parameters_without_gradient(
    algo: Algorithm, nets: dict[str, torch.nn.Module], data: Dataset, batch_size: int, device: torch.device
) -> dict[str, list[str]]:
    """Names of each network's trainable parameters that one step of the algorithm leaves without a
    gradient. DDP must be told of those (or it waits for their gradients for ever and fails at the next
    step); looking for them in every backward costs a graph walk, so only networks that have some pay it.
    The step runs once on copies, with a rate of 0 and its own RNG."""
    probe = TrainingState(copy.deepcopy(nets), {}, torch.Generator(device).manual_seed(0))
    for name, (members, _) in algo.optimizer_groups().items():
        probe.optimizers[name] = torch.optim.SGD(probe.params(*members), lr=0.0)
    algo.setup(probe)
    ctx = StepContext(
        batch=lambda n: tuple(None if t is None else t.to(device) for t in data.sample_xy(n, probe.gen)),  # type: ignore[arg-type]
        batch_size=min(batch_size, 16),
        device=device,
        autocast=None,
        step=0,
    )
    algo.step(probe, ctx)
    return {
        name: missing
        for name, net in probe.modules.items()
        if (missing := [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None])
    }


def autocast_dtype(precision: str, data_kind: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast for the forward passes, or None for plain fp32 (bit-reproducible on the CPU).

    "auto" picks bf16 where it was measured to pay: image models on hardware with native bf16 (1.5-1.7x
    on a Zen 5 CPU, benchmarks/README.md). The 2-D toy models keep fp32: not measured to gain, and their
    quality figures measure distances of a few hundredths.
    """
    if precision == "bf16" or (precision == "auto" and data_kind == "images" and has_fast_bf16(device)):
        return torch.bfloat16
    return None


def make_sampler(
    algo: Algorithm,
    state: TrainingState,
    data: Dataset,
    cfg: TrainConfig,
    device: torch.device,
    autocast: torch.dtype | None,
) -> Sampler:
    """The fixed latents every grid is drawn from, the real points a 2-D chart shows beside the samples,
    and the real images a VAE reconstructs; each from its own seed, so resuming draws the same."""
    gen_device = state.gen.device
    n_fixed = cfg.n_samples if data.kind == "images" else 1000
    fixed = algo.prior.fixed(n_fixed, cfg.seed + 1).to(device)
    real_preview = recon = None
    if data.kind == "points":
        real_preview = (
            data.sample(1000, torch.Generator(gen_device).manual_seed(cfg.seed + 2)).float().cpu().numpy()
        )
    if "recon" in algo.views:
        recon = data.sample(RECON_IMAGES, torch.Generator(gen_device).manual_seed(cfg.seed + 3)).float()
    return Sampler(
        algo,
        state.sampling_modules(),
        fixed,
        data.kind,
        0,
        real_preview,
        recon,
        device=device,
        autocast=autocast,
    )


def run_dir_for(cfg: TrainConfig) -> Path:
    """--out; else the run a resumed checkpoint came from (RUN/checkpoints/ckpt_*.pt); else runs/NAME."""
    if cfg.out:
        return Path(cfg.out)
    if cfg.resume and is_run_checkpoint(Path(cfg.resume)):
        return Path(cfg.resume).resolve().parent.parent
    return default_run_dir(cfg.dataset, str(cfg.model))


def is_run_checkpoint(p: Path) -> bool:
    parent = p.resolve().parent
    return parent.name == "checkpoints" and (parent.parent / "config.json").exists()


def data_note(cfg: TrainConfig, data: Dataset) -> str:
    """What a folder run read off its images (size, colour, class folders), for the start event."""
    if "classes" not in data.info or recipe_key(cfg.dataset) != "folder":
        return ""
    shape = data.shape
    parts = [f"{shape[1]}x{shape[2]} {'grey' if shape[0] == 1 else 'colour'}"]
    derived = cfg.extra.get("derived")
    if derived:
        parts[0] += f" ({derived})"
    classes = data.info["classes"]
    parts.append(
        f"{len(classes)} classes from sub-folders" if classes else "no labels (a flat folder: no FCD)"
    )
    if cfg.time_limit:
        parts.append(f"time budget {cfg.time_limit:g} s")
    if note := skipped_note(data):  # unreadable files are named, not silently dropped
        parts.append(note)
    return "; " + "; ".join(parts)
