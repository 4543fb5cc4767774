"""The training algorithms, by name (`--algo`): one row each, the class in its own file, imported only when
a run builds it. Torch-free, so the CLI's name list, its help, the recipe adjustments and the checks of
what an algorithm takes all come from these rows."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ganterm.errors import UsageError, choices_message

if TYPE_CHECKING:
    from ganterm.algos.base import Algorithm
    from ganterm.config import TrainConfig

__all__ = ["ALGORITHMS", "AlgoRow", "algo_row", "build_algorithm"]


@dataclass(frozen=True)
class AlgoRow:
    name: str
    cls: str  # "module:Class", an `Algorithm`
    help: str  # for `--algo`'s help
    has_loss: bool = True  # a GAN loss: --loss chooses it, `l` swaps it
    objective: str = ""  # what it trains on instead, when it has no GAN loss
    has_discriminator: bool = True  # what acts on D (R1, instance noise, DiffAugment) applies
    images_only: bool = False
    models: tuple[str, ...] = ()  # the built-in models it takes (empty: any)
    takes_user_networks: bool = True  # --model FILE.py:FN and ganterm.fit's (G, D)
    overrides: dict[str, Any] = field(default_factory=dict)  # recipe adjustments (flags still win)

    def load(self) -> type[Algorithm]:
        module, _, name = self.cls.partition(":")
        return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, AlgoRow] = {
    row.name: row
    for row in (
        AlgoRow("gan", "ganterm.algos.gan:GAN", "the default"),
        AlgoRow(
            "cgan",
            "ganterm.algos.cgan:CGAN",
            "class-conditional: G and a projection D take the label",
            images_only=True,
        ),
        AlgoRow(
            "infogan",
            "ganterm.algos.infogan:InfoGAN",
            "a 10-way and two continuous codes that Q recovers; key t sweeps them",
            images_only=True,
            # 16 noise dimensions beside the codes (the paper's 62 leave the digit's identity to the
            # noise: on real digits at 150 s, code -> class 29 % at z 62, 52 % at z 16, 48 % at z 8;
            # FCD 11-19 / 7.8 / 6.2; benchmarks/algorithms.py).
            overrides={"z_dim": 16},
        ),
        AlgoRow(
            "vae",
            "ganterm.algos.vae:VAE",
            "the foil: reconstruction + KL, no discriminator",
            has_loss=False,
            objective="reconstruction + KL",
            has_discriminator=False,
            images_only=True,
            models=("mlp", "dcgan"),
            takes_user_networks=False,
            # pytorch/examples' VAE: a 20-d latent, Adam 1e-3 with the default betas, batches of 128,
            # and none of the GAN stabilisers (has_discriminator=False turns them off).
            overrides={
                "z_dim": 20,
                "lr_g": 1e-3,
                "lr_d": 1e-3,
                "betas": (0.9, 0.999),
                "batch_size": 128,
                "n_critic": 1,
            },
        ),
    )
}


def algo_row(name: str | None) -> AlgoRow:
    name = name or "gan"
    if name not in ALGORITHMS:
        raise UsageError(choices_message("algorithm", name, tuple(ALGORITHMS)))
    return ALGORITHMS[name]


def build_algorithm(cfg: TrainConfig, shape: tuple[int, ...], n_classes: int = 0) -> Algorithm:
    row = algo_row(cfg.algo)
    if row.images_only and len(shape) != 3:
        raise UsageError(f"--algo {row.name} trains on images; 2-D data (ring, grid) takes --algo gan")
    return row.load()(cfg, shape, n_classes)
