"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020) for small image datasets.

D sees every real and every generated image through the same random transforms, in its own step and
in G's step, and G's gradient flows back through them. On a few thousand images D otherwise learns
the training set by heart within minutes and G's gradient turns to noise; the transforms make
memorising useless without changing what G is asked to produce (each transform is applied to both
sides alike, so it never leaks into the samples).

Policies, comma-separated (`--augment translation,cutout`): `color` (brightness, saturation, contrast),
`translation` (shift by up to 1/8 of the size, zero padded) and `cutout` (a square of half the size set
to 0). All randomness comes from the trainer's generator, so a resumed run draws the same transforms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganterm.config import parse_augment

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(n: int, g: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=g, device=g.device).to(x.device, x.dtype)


def brightness(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return x + (_uniform(len(x), g, x) - 0.5)


def saturation(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(len(x), g, x) * 2) + mean


def contrast(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(len(x), g, x) + 0.5) + mean


def translation(
    x: torch.Tensor, g: torch.Generator, ratio: float = 0.125, pixels: int | None = None, fill: float = 0.0
) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size (or `pixels`) in x and y; what moves in is `fill`."""
    n, _, h, w = x.shape
    if pixels is None:
        sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    else:
        sh = sw = pixels
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=g, device=g.device).to(x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=g, device=g.device).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + sh
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + sw
    padded = F.pad(x, (sw, sw, sh, sh), value=fill)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    # Advanced indexing on (N, H, W) with channels kept: (N, H, W, C) -> back to (N, C, H, W).
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of `ratio` times the size per image, at a random place (it may hang over)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g, device=g.device).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g, device=g.device).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, tuple[Transform, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


class DiffAugment:
    """The transforms of a policy, applied in order to a batch (N, C, H, W)."""

    def __init__(self, policy: str | None) -> None:
        self.names = parse_augment(policy)
        self.transforms = [t for name in self.names for t in POLICIES[name]]

    def __bool__(self) -> bool:
        return bool(self.transforms)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, g)
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
