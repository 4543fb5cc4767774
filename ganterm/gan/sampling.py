"""Generate samples from a generator: for the live grid, `ganterm sample`, and `ganterm view`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ganterm.gan.feed import SampleFrame


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, ready to render."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def make_frame(step: int, x: torch.Tensor, kind: str, real: np.ndarray | None = None) -> SampleFrame:
    if kind == "points":
        return SampleFrame(step, "points", x.detach().float().cpu().numpy(), real)
    return SampleFrame(step, "images", to_uint8_images(x))


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Eval-mode generation without autograd (BatchNorm uses running statistics)."""
    was_training = g.training
    g.eval()
    try:
        return torch.cat([g(z[i : i + batch]).float() for i in range(0, len(z), batch)])
    finally:
        g.train(was_training)


class Sampler:
    """A generator rebuilt from a checkpoint, with its fixed noise."""

    def __init__(
        self, g: nn.Module, fixed_noise: torch.Tensor, kind: str, step: int, real: np.ndarray | None = None
    ) -> None:
        self.g, self.fixed_noise, self.kind, self.step, self.real = g, fixed_noise, kind, step, real
        self.z_dim = fixed_noise.shape[1]

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> Sampler:
        from ganterm.config import TrainConfig
        from ganterm.gan.models import build_models

        cfg = TrainConfig.from_dict(ckpt["config"])
        shape = tuple(int(s) for s in ckpt["data_shape"])
        g, _ = build_models(
            str(cfg.model),
            shape,
            int(cfg.z_dim or ckpt["fixed_noise"].shape[1]),
            gp_safe=bool(ckpt.get("gp_safe", False)),
            **(cfg.model_options or {}),
        )
        # The weight average (G-EMA) is the better sampler when the run kept one.
        g.load_state_dict(ckpt.get("G_ema") or ckpt["G"])
        real = ckpt.get("real_preview")
        real_np = real.numpy() if isinstance(real, torch.Tensor) else None
        return cls(
            g,
            ckpt["fixed_noise"].float().cpu(),
            str(ckpt.get("data_kind", "images")),
            int(ckpt["step"]),
            real_np,
        )

    def _frame(self, z: torch.Tensor) -> SampleFrame:
        return make_frame(self.step, generate(self.g, z), self.kind, self.real)

    def fixed(self) -> SampleFrame:
        return self._frame(self.fixed_noise)

    def noise(self, n: int, seed: int | None = None) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**31))
        return torch.randn(n, self.z_dim, generator=gen)

    def random(self, seed: int | None = None, n: int | None = None) -> SampleFrame:
        return self._frame(self.noise(n or len(self.fixed_noise), seed))

    def interpolate(self, n_steps: int = 8, seed: int | None = None, rows: int = 1) -> SampleFrame:
        """`rows` strips, each a spherical interpolation between two random latents."""
        ends = self.noise(2 * rows, seed).view(rows, 2, self.z_dim)
        t = torch.linspace(0, 1, n_steps)
        a, b = ends[:, 0], ends[:, 1]
        omega = torch.acos(
            (nn.functional.normalize(a, dim=1) * nn.functional.normalize(b, dim=1))
            .sum(1)
            .clamp(-1 + 1e-6, 1 - 1e-6)
        )
        so = torch.sin(omega)[:, None]
        z = torch.stack(
            [
                (torch.sin((1 - ti) * omega)[:, None] * a + torch.sin(ti * omega)[:, None] * b) / so
                for ti in t
            ],
            dim=1,
        ).reshape(rows * n_steps, self.z_dim)
        return self._frame(z)

    def samples(self, n: int, seed: int | None = None) -> torch.Tensor:
        """Raw samples: (n, *shape) floats in the data's range (points: (n, 2))."""
        return generate(self.g, self.noise(n, seed))
