"""The training state: every named network, its optimizer and weight average, the RNG and the step.

Checkpoints, resume and rollback all go through `state_dict()` / `load_state_dict()`, so a third
network (InfoGAN's Q) or a single one (the VAE) is one entry in `modules`, never a new key written out
in four places.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ganterm.training.ema import EMA


def plain(module: nn.Module) -> nn.Module:
    """A module without its torch.compile and DDP wrappers: state dicts keep the plain parameter names,
    and sampling never enters DDP's forward (which every rank would have to call together)."""
    module = getattr(module, "_orig_mod", module)
    if isinstance(module, nn.parallel.DistributedDataParallel):
        module = getattr(module.module, "carried", module.module)  # see training/ranks.py
    return getattr(module, "_orig_mod", module)


class TrainingState:
    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        gen: torch.Generator,
        emas: dict[str, EMA] | None = None,
    ) -> None:
        self.modules = modules
        self.optimizers = optimizers
        self.emas = emas or {}
        self.gen = gen  # every random draw of training: batches, noise, penalties, augmentation
        self.step = 0
        self.lr_factor = 1.0  # the decay factor the optimizers' rates carry now

    def __getitem__(self, name: str) -> nn.Module:
        return self.modules[name]

    def sampling(self, name: str) -> nn.Module:
        """What samples and evaluation use: the weight average of `name` when the run keeps one."""
        ema = self.emas.get(name)
        return ema.model if ema is not None else plain(self.modules[name])

    def sampling_modules(self) -> dict[str, nn.Module]:
        return {name: self.sampling(name) for name in self.modules}

    def params(self, *names: str) -> list[nn.Parameter]:
        seen: dict[int, nn.Parameter] = {}
        for name in names:
            for p in self.modules[name].parameters():
                seen.setdefault(id(p), p)  # InfoGAN's D and Q share a body: count it once
        return list(seen.values())

    def all_params(self) -> list[nn.Parameter]:
        return self.params(*self.modules)

    def update_emas(self) -> None:
        for ema in self.emas.values():
            ema.update(self.step + 1)

    def scale_lr(self, factor: float) -> None:
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] *= factor

    def lrs(self) -> dict[str, float]:
        return {name: float(opt.param_groups[0]["lr"]) for name, opt in self.optimizers.items()}

    # -- persistence ---------------------------------------------------------------------------
    def weights(self) -> dict[str, Any]:
        """Networks, averages, optimizers and the rate factor: what a rollback restores."""
        return {
            "modules": {name: plain(m).state_dict() for name, m in self.modules.items()},
            "emas": {name: ema.state_dict() for name, ema in self.emas.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "lr_factor": self.lr_factor,
        }

    def load_weights(self, w: dict[str, Any]) -> None:
        missing = [name for name in self.modules if name not in w["modules"]]
        if missing:
            raise KeyError(f"no weights for network {missing[0]!r}")
        for name, m in self.modules.items():
            plain(m).load_state_dict(w["modules"][name])
        for name, ema in self.emas.items():
            ema.load_state_dict(w["emas"].get(name) or w["modules"][name])
        for name, opt in self.optimizers.items():
            if name in w["optimizers"]:
                opt.load_state_dict(w["optimizers"][name])
        self.lr_factor = float(w.get("lr_factor", 1.0))

    def snapshot(self) -> dict[str, Any]:
        """An in-memory copy of the weights at this step, to roll back to without touching the disk."""
        return copy.deepcopy({"step": self.step, **self.weights()})

    def rng_state(self, device: torch.device) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "gen": self.gen.get_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        return rng

    def load_rng_state(self, rng: dict[str, Any], device: torch.device) -> None:
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "gen" in rng:
            self.gen.set_state(rng["gen"])
        if "cuda" in rng and device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], device)

    def state_dict(self, device: torch.device) -> dict[str, Any]:
        return {**self.weights(), "step": self.step, "rng": self.rng_state(device)}

    def load_state_dict(self, sd: dict[str, Any], device: torch.device) -> None:
        self.load_weights(sd)
        self.step = int(sd["step"])
        self.load_rng_state(sd.get("rng", {}), device)

    def weights_finite(self) -> bool:
        with torch.no_grad():
            return all(bool(torch.isfinite(p).all()) for p in self.all_params())
