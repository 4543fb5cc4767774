"""A synthetic labelled image set: circles, squares and triangles, drawn on the fly.

Every shape is rasterised at once as a signed distance over a coordinate grid (no per-pixel Python),
with a one-pixel soft edge so small shapes stay recognisable. The raster is numpy, single-threaded on
purpose: torch's intra-op threads on these small chunks ran 2-5x slower on a busy 2-core machine.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganterm.data.base import Dataset

CLASSES = ("circle", "square", "triangle")
SHAPES_SIZE = 20_000
SHAPES_SIZES = (28, 32, 64)
# Images rasterised per step: small enough that the temporaries stay in cache (measured: 512 beats 4096).
_CHUNK = 512


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(N,) hue/saturation/value in [0, 1] -> (N, 3) RGB in [0, 1]."""
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h * 6.0) % 6.0
        ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
        channels.append(v - v * s * ramp)
    return torch.stack(channels, dim=1)


def _distance(kind: int, u: np.ndarray, v: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside) in each shape's own rotated frame."""
    if kind == 0:  # circle of radius `size`
        return np.sqrt(u * u + v * v) - size
    if kind == 1:  # square of half-side 0.8*size: a similar area to the circle
        return np.maximum(np.abs(u), np.abs(v)) - 0.8 * size
    # Equilateral triangle as the intersection of three half-planes with inradius 0.6*size.
    d = None
    for i in range(3):
        a = math.pi / 2 + i * 2 * math.pi / 3
        edge = np.float32(math.cos(a)) * u + np.float32(math.sin(a)) * v
        d = edge if d is None else np.maximum(d, edge)
    return d - 0.6 * size


def make_shapes(
    n: int, image_size: int = 28, channels: int = 1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (n, channels, S, S) float32 in [-1, 1] and their labels (n,) int64; same seed, same set."""
    g = torch.Generator().manual_seed(seed)
    s = float(image_size)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=g)

    # All parameters are drawn up front so the set does not depend on the chunking below.
    labels = torch.randint(len(CLASSES), (n,), generator=g)
    size = uniform(0.17 * s, 0.36 * s)
    angle = uniform(0.0, 2 * math.pi)
    margin = size + 1.0  # every kind fits inside a disc of radius `size`
    cx = margin + torch.rand(n, generator=g) * (s - 1 - 2 * margin)
    cy = margin + torch.rand(n, generator=g) * (s - 1 - 2 * margin)
    background = -1.0 + uniform(0.0, 0.2)
    if channels == 3:
        rgb = _hsv_to_rgb(torch.rand(n, generator=g), uniform(0.6, 1.0), uniform(0.6, 1.0))
        foreground = 2.0 * rgb - 1.0
    else:
        foreground = uniform(-0.3, 1.0).unsqueeze(1).expand(n, channels)

    p = {k: t.numpy() for k, t in {"size": size, "cx": cx, "cy": cy, "angle": angle}.items()}
    bg_all = background.numpy()[:, None, None, None]
    ink_all = foreground.numpy()[:, :, None, None] - bg_all
    coords = np.arange(image_size, dtype=np.float32)
    images = np.empty((n, channels, image_size, image_size), dtype=np.float32)
    for kind in range(len(CLASSES)):
        members = np.flatnonzero(labels.numpy() == kind)
        for start in range(0, len(members), _CHUNK):
            idx = members[start : start + _CHUNK]
            # Offsets as a row (B, 1, S) and a column (B, S, 1): broadcasting builds the grid.
            dx = coords[None, None, :] - p["cx"][idx, None, None]
            dy = coords[None, :, None] - p["cy"][idx, None, None]
            cos, sin = np.cos(p["angle"][idx])[:, None, None], np.sin(p["angle"][idx])[:, None, None]
            u, v = cos * dx + sin * dy, cos * dy - sin * dx
            d = _distance(kind, u, v, p["size"][idx, None, None])
            coverage = np.clip(0.5 - d, 0.0, 1.0)[:, None]
            images[idx] = np.clip(bg_all[idx] + coverage * ink_all[idx], -1.0, 1.0)
    return torch.from_numpy(images), labels


def shapes(image_size: int = 28, channels: int = 1, seed: int = 0, n: int = SHAPES_SIZE) -> Dataset:
    """The `shapes` dataset: labels 0 circle, 1 square, 2 triangle."""
    images, labels = make_shapes(n, image_size, channels, seed)
    return Dataset(
        name="shapes",
        kind="images",
        shape=(channels, image_size, image_size),
        size=n,
        data=images,
        labels=labels,
        info={"classes": list(CLASSES), "seed": seed},
    )


# -- as a registry source (data/registry.py): load(name, root, ...) and status(name, root)
def load(name: str, root: Path, *, image_size: int, channels: int, seed: int = 0, **_: object) -> Dataset:
    return shapes(image_size=image_size, channels=channels, seed=seed)


def status(name: str, root: Path) -> tuple[bool, str, str]:
    return True, "generated on the fly", ""
