"""Samples from a run's networks: the live grid, its extra views, `ganterm sample`, `ganterm view`, eval.

A `Sampler` holds an algorithm, the networks it samples with (the weight averages when the run keeps
them) and the run's fixed latents. The trainer builds one over its live networks; `from_checkpoint`
rebuilds one from a file, so the two always draw the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from ganterm.algos.prior import Latent
from ganterm.channel.feed import SampleFrame


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, ready to render."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def make_frame(
    step: int, x: torch.Tensor, kind: str, real: np.ndarray | None = None, **extra: Any
) -> SampleFrame:
    if kind == "points":
        return SampleFrame(step, "points", x.detach().float().cpu().numpy(), real, **extra)
    return SampleFrame(step, "images", to_uint8_images(x), **extra)


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Eval-mode generation from a plain G(z) without autograd (BatchNorm uses running statistics)."""
    was_training = g.training
    g.eval()
    try:
        return torch.cat([g(z[i : i + batch]).float() for i in range(0, len(z), batch)])
    finally:
        g.train(was_training)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b at each t: (rows, len(t), dim)."""
    omega = torch.acos(
        (nn.functional.normalize(a, dim=1) * nn.functional.normalize(b, dim=1))
        .sum(1)
        .clamp(-1 + 1e-6, 1 - 1e-6)
    )
    so = torch.sin(omega)[:, None]
    return torch.stack(
        [(torch.sin((1 - ti) * omega)[:, None] * a + torch.sin(ti * omega)[:, None] * b) / so for ti in t],
        dim=1,
    )


class Sampler:
    """An algorithm's sampling networks with the run's fixed latents and (VAE) a fixed real batch."""

    def __init__(
        self,
        algo: Any,
        nets: dict[str, nn.Module],
        fixed: Latent,
        kind: str,
        step: int,
        real: np.ndarray | None = None,
        recon_batch: torch.Tensor | None = None,
        device: torch.device | str = "cpu",
        autocast: torch.dtype | None = None,
    ) -> None:
        self.algo, self.nets, self.fixed_latent = algo, nets, fixed
        self.kind, self.step, self.real = kind, step, real
        self.recon_batch = recon_batch
        self.device = torch.device(device)
        self.autocast = autocast
        self.prior = algo.prior
        self.z_dim = self.prior.z_dim

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.algo.views)

    @property
    def g(self) -> nn.Module:
        """The generating network (a plain G(z) for the gan algorithm)."""
        return self.nets[self.algo.sampler_net]

    @classmethod
    def from_checkpoint(
        cls, ckpt: dict[str, Any], trusted: Any = None, source: str = "the checkpoint"
    ) -> Sampler:
        """The checkpoint's networks rebuilt; a run that records a model file is rebuilt only from the
        `trusted` file the command line named (ModelFileNotTrusted otherwise: the recorded name alone
        never runs code)."""
        import dataclasses

        from ganterm.algos.catalog import build_algorithm
        from ganterm.config import TrainConfig
        from ganterm.models.user_file import trusted_for

        cfg = TrainConfig.from_dict(ckpt["config"])
        model_file = trusted_for(cfg.model, trusted, source)
        if model_file is not None:
            cfg = dataclasses.replace(cfg, model=model_file.spec, trusted_model=model_file)
        prior = ckpt.get("prior") or {}
        algo = build_algorithm(
            _with_loss(cfg, ckpt), tuple(int(s) for s in ckpt["data_shape"]), int(prior.get("n_classes", 0))
        )
        nets = algo.build()
        emas = ckpt.get("emas") or {}
        for name, net in nets.items():
            # The weight average is the better sampler when the run kept one.
            net.load_state_dict(emas.get(name) or ckpt["modules"][name])
            net.eval()
        real = ckpt.get("real_preview")
        real_np = real.numpy() if isinstance(real, torch.Tensor) else None
        fixed = Latent.from_state_dict({k: v.cpu() for k, v in ckpt["fixed_latent"].items()})
        recon = ckpt.get("recon_batch")
        return cls(
            algo,
            nets,
            fixed,
            str(ckpt.get("data_kind", "images")),
            int(ckpt["step"]),
            real_np,
            recon_batch=recon.float() if isinstance(recon, torch.Tensor) else None,
        )

    # -- drawing ---------------------------------------------------------------------------------
    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        """Every network in eval mode (BatchNorm on running statistics), without autograd; restored after."""
        was = {name: net.training for name, net in self.nets.items()}
        for net in self.nets.values():
            net.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for name, net in self.nets.items():
                net.train(was[name])

    def images(self, latent: Latent, batch: int = 1024) -> torch.Tensor:
        """Eval-mode samples for `latent`, in batches, float32 on the sampler's device."""
        with self._eval_mode():
            out = []
            for i in range(0, len(latent), batch):
                part = latent[i : i + batch].to(self.device)
                with torch.autocast(
                    self.device.type, dtype=self.autocast or torch.bfloat16, enabled=self.autocast is not None
                ):
                    out.append(self.algo.generate(self.nets, part).float())
            return torch.cat(out)

    def frame(self, latent: Latent, **extra: Any) -> SampleFrame:
        return make_frame(self.step, self.images(latent), self.kind, self.real, **extra)

    def noise(self, n: int, seed: int | None = None) -> Latent:
        gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**31))
        return self.prior.draw(n, gen)

    def grid_cols(self, n: int) -> int | None:
        """Columns of the fixed grid when its rows mean something (one per class / categorical value)."""
        rows = self.prior.groups()
        return n // rows if rows and n % rows == 0 else None

    def fixed(self) -> SampleFrame:
        return self.frame(self.fixed_latent, cols=self.grid_cols(len(self.fixed_latent)))

    def random(self, seed: int | None = None, n: int | None = None) -> SampleFrame:
        n = n or len(self.fixed_latent)
        latent = self.noise(n, seed)
        if self.prior.groups():  # keep the grid's meaning: one row per class, new noise
            latent = self.prior.fixed(n, seed if seed is not None else int(torch.seed() % 2**31))
        return self.frame(latent, note="new noise", cols=self.grid_cols(len(latent)))

    def interpolate(self, n_steps: int = 8, seed: int | None = None, rows: int = 1) -> SampleFrame:
        """`rows` strips, each a spherical interpolation between two random noise vectors (codes and
        labels held at the first end's)."""
        ends = self.noise(2 * rows, seed)
        z = ends.z.view(rows, 2, self.z_dim)
        path = slerp(z[:, 0], z[:, 1], torch.linspace(0, 1, n_steps)).reshape(rows * n_steps, self.z_dim)
        first = ends[0 : 2 * rows : 2]
        idx = torch.arange(rows).repeat_interleave(n_steps)
        latent = Latent(
            path,
            None if first.y is None else first.y[idx],
            None if first.cat is None else first.cat[idx],
            None if first.cont is None else first.cont[idx],
        )
        return self.frame(latent, note="interpolation", cols=n_steps)

    def traversal(self, code: int = 0, steps: int = 8, seed: int = 0) -> SampleFrame:
        latent = self.prior.traversal(code, steps, seed)
        return self.frame(
            latent, view="traversal", note=f"rows: c_cat · columns: c{code + 1} from -2 to 2", cols=steps
        )

    def one_class(self, k: int, n: int = 64, seed: int = 0) -> SampleFrame:
        what = "class" if self.prior.n_classes else "categorical code"
        return self.frame(self.prior.one_class(k, n, seed), view="class", note=f"{what} {k}")

    def reconstructions(self) -> SampleFrame:
        """Real images in one row, their reconstructions in the row under it (8 wide)."""
        if self.recon_batch is None:
            raise ValueError("no real images kept for reconstructions")
        x = self.recon_batch.to(self.device)
        with self._eval_mode():
            rec = self.algo.reconstruct(self.nets, x).float()
        cols = 8
        rows = math.ceil(len(x) / cols)
        pairs = [
            t for r in range(rows) for t in (x[r * cols : (r + 1) * cols], rec[r * cols : (r + 1) * cols])
        ]
        return make_frame(
            self.step,
            torch.cat(pairs),
            self.kind,
            view="recon",
            note="real above, reconstruction below",
            cols=cols,
        )

    def view_frame(self, spec: dict[str, Any]) -> SampleFrame | None:
        """The frame an extra view asks for: {"view": "traversal", "code": i} / "class" k / "recon"."""
        view = spec.get("view")
        if view == "traversal" and self.prior.n_cont:
            return self.traversal(int(spec.get("code", 0)) % self.prior.n_cont)
        if view == "class" and self.prior.groups():
            return self.one_class(int(spec.get("class", 0)) % self.prior.groups())
        if view == "recon" and self.recon_batch is not None:
            return self.reconstructions()
        return None

    # -- raw samples (eval, `ganterm sample`) ----------------------------------------------------------
    def samples(self, n: int, seed: int | None = None) -> torch.Tensor:
        """Raw samples: (n, *shape) floats in the data's range (points: (n, 2)), on the CPU."""
        return self.images(self.noise(n, seed)).cpu()

    def labelled(
        self, n: int, seed: int | None = None, k: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Samples with the class or categorical code they were drawn with (None for a plain GAN);
        with `k`, all of class / code k."""
        latent = self.noise(n, seed)
        if k is not None:
            latent = self.prior.one_class(k, n, seed or 0)
        ids = latent.y if latent.y is not None else latent.cat
        return self.images(latent).cpu(), ids


def _with_loss(cfg: Any, ckpt: dict[str, Any]) -> Any:
    """The config a checkpoint's networks were built with: its D's norm follows the loss it started
    with (gp_safe), not the one it was swapped to."""
    import dataclasses

    if ckpt.get("gp_safe") is not None and bool(ckpt["gp_safe"]) != (cfg.loss == "wgan-gp"):
        return dataclasses.replace(cfg, loss="wgan-gp" if ckpt["gp_safe"] else "ns")
    return cfg
