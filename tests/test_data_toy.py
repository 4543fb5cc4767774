"""ring and grid: mode positions, spread, and reproducible sampling (the PacGAN protocol)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganterm.data.toy import TOY_SIZE, grid, ring


def _assign(points: torch.Tensor, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest mode per point and the offset from it."""
    pts = points.numpy().astype(np.float64)
    nearest = np.linalg.norm(pts[:, None] - modes[None], axis=2).argmin(axis=1)
    return nearest, pts - modes[nearest]


def test_ring_modes_are_eight_distinct_angles_on_the_unit_circle() -> None:
    ds = ring()
    modes = ds.info["modes"]
    assert isinstance(modes, np.ndarray) and modes.shape == (8, 2) and modes.dtype.kind == "f"
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 1.0, atol=1e-12)
    angles = np.sort(np.mod(np.arctan2(modes[:, 1], modes[:, 0]), 2 * math.pi))
    np.testing.assert_allclose(angles, 2 * math.pi * np.arange(8) / 8, atol=1e-9)
    # No repeated mode (what linspace over [0, 2*pi] would give).
    gaps = np.linalg.norm(modes[:, None] - modes[None], axis=2) + np.eye(8) * 10
    assert gaps.min() > 0.7
    assert ds.info["std"] == 0.01 and isinstance(ds.info["std"], float)
    assert (ds.kind, ds.shape, ds.size, ds.data) == ("points", (2,), TOY_SIZE, None)


def test_grid_modes_are_the_5x5_lattice() -> None:
    ds = grid()
    modes = ds.info["modes"]
    assert modes.shape == (25, 2)
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {(float(x), float(y)) for x, y in modes} == expected
    assert ds.info["std"] == 0.05


@pytest.mark.parametrize(("make", "std", "k"), [(ring, 0.01, 8), (grid, 0.05, 25)])
def test_samples_sit_on_every_mode_with_the_stated_std(make, std: float, k: int) -> None:
    ds = make()
    x = ds.sample(50_000, torch.Generator().manual_seed(1))
    assert x.shape == (50_000, 2) and x.dtype == torch.float32
    nearest, offset = _assign(x, ds.info["modes"])
    counts = np.bincount(nearest, minlength=k)
    assert counts.min() > 0.7 * 50_000 / k  # roughly uniform over modes
    assert abs(offset.std() / std - 1) < 0.05
    assert np.abs(offset).max() < 8 * std  # every point belongs to a mode


def test_sampling_is_reproducible_from_the_generator() -> None:
    ds = ring()
    a = ds.sample(100, torch.Generator().manual_seed(3))
    b = ds.sample(100, torch.Generator().manual_seed(3))
    c = ds.sample(100, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sampler_follows_a_cuda_generator() -> None:
    g = torch.Generator(device="cuda").manual_seed(0)
    x = grid().sample(1000, g)
    assert x.device.type == "cuda"
