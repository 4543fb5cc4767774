"""The training algorithms, by name (`--algo`)."""

from __future__ import annotations

from ganterm.algos.base import Algorithm, StepContext
from ganterm.algos.gan import CGAN, GAN
from ganterm.algos.infogan import InfoGAN
from ganterm.algos.vae import VAE
from ganterm.config import TrainConfig
from ganterm.errors import UsageError, choices_message

ALGORITHMS: dict[str, type[Algorithm]] = {"gan": GAN, "cgan": CGAN, "infogan": InfoGAN, "vae": VAE}

__all__ = ["ALGORITHMS", "Algorithm", "StepContext", "build_algorithm"]


def build_algorithm(cfg: TrainConfig, shape: tuple[int, ...], n_classes: int = 0) -> Algorithm:
    name = str(cfg.algo or "gan")
    if name not in ALGORITHMS:
        raise UsageError(choices_message("algorithm", name, tuple(ALGORITHMS)))
    if name != "gan" and len(shape) != 3:
        raise UsageError(f"--algo {name} trains on images; 2-D data (ring, grid) takes --algo gan")
    return ALGORITHMS[name](cfg, shape, n_classes)
