"""2-D toy distributions of the PacGAN protocol: a ring of 8 and a grid of 25 Gaussians."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganterm.data.base import Dataset

# Points are drawn fresh each batch; this is only the nominal epoch length.
TOY_SIZE = 100_000


def ring_modes(k: int = 8, radius: float = 1.0) -> np.ndarray:
    """k means on a circle at angles 2*pi*i/k, i < k (linspace over [0, 2*pi] would repeat a mode)."""
    angles = 2 * np.pi * np.arange(k) / k
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def grid_modes(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    """The means of a square grid: every (x, y) with x, y in `values`."""
    xs, ys = np.meshgrid(values, values, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)


def _mixture(name: str, modes: np.ndarray, std: float) -> Dataset:
    table = torch.as_tensor(modes, dtype=torch.float32)
    per_device: dict[torch.device, torch.Tensor] = {}

    def sampler(n: int, generator: torch.Generator) -> torch.Tensor:
        # Sample where the generator lives so a cuda generator never forces a host round-trip.
        device = generator.device
        means = per_device.get(device)
        if means is None:
            means = per_device[device] = table.to(device)
        idx = torch.randint(len(means), (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device)
        return means[idx] + std * noise

    return Dataset(
        name=name,
        kind="points",
        shape=(2,),
        size=TOY_SIZE,
        sampler=sampler,
        info={"modes": modes, "std": std},
    )


def ring(std: float = 0.01) -> Dataset:
    """8 Gaussians on the unit circle, std 0.01."""
    return _mixture("ring", ring_modes(), std)


def grid(std: float = 0.05) -> Dataset:
    """25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05."""
    return _mixture("grid", grid_modes(), std)


# -- as a registry source (data/registry.py): load(name, root, ...) and status(name, root)
def load(name: str, root: Path, **_: object) -> Dataset:
    return ring() if name == "ring" else grid()


def status(name: str, root: Path) -> tuple[bool, str, str]:
    return True, "generated on the fly", ""
