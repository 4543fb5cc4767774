"""The latent prior: what a generator is fed. Noise z, plus class labels (cGAN) or codes (InfoGAN).

One object draws every latent of a run (training batches, the fixed grid, traversals, `ganterm sample`),
so the noise layout is written once. Training draws go through the trainer's torch.Generator, which
keeps a resumed CPU run exact.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch


@dataclass(frozen=True)
class Latent:
    """A batch of latents: z (n, z_dim); y (n,) class labels; cat (n,) categorical code; cont (n, k)."""

    z: torch.Tensor
    y: torch.Tensor | None = None
    cat: torch.Tensor | None = None
    cont: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.z)

    def _map(self, fn: Any) -> Latent:
        return Latent(
            **{f.name: None if (v := getattr(self, f.name)) is None else fn(v) for f in fields(self)}
        )

    def to(self, device: torch.device | str) -> Latent:
        return self._map(lambda t: t.to(device))

    def __getitem__(self, index: slice) -> Latent:
        return self._map(lambda t: t[index])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain tensors on the CPU (checkpoints)."""
        return {f.name: v.cpu() for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_state_dict(cls, d: dict[str, torch.Tensor]) -> Latent:
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class LatentPrior:
    """z ~ N(0, I); with n_classes, y ~ uniform classes; with n_cat / n_cont, InfoGAN's codes:
    cat ~ uniform over n_cat values, cont ~ U(-1, 1)^n_cont."""

    z_dim: int
    n_classes: int = 0
    n_cat: int = 0
    n_cont: int = 0

    @property
    def input_dim(self) -> int:
        """Width of what G is fed: z plus the one-hot code and continuous codes (InfoGAN)."""
        return self.z_dim + self.n_cat + self.n_cont

    def draw(self, n: int, gen: torch.Generator, device: torch.device | str | None = None) -> Latent:
        dev = gen.device
        z = torch.randn(n, self.z_dim, generator=gen, device=dev)
        y = torch.randint(self.n_classes, (n,), generator=gen, device=dev) if self.n_classes else None
        cat = torch.randint(self.n_cat, (n,), generator=gen, device=dev) if self.n_cat else None
        cont = torch.rand(n, self.n_cont, generator=gen, device=dev) * 2 - 1 if self.n_cont else None
        latent = Latent(z, y, cat, cont)
        return latent.to(device) if device is not None else latent

    def g_input(self, latent: Latent) -> torch.Tensor:
        """What an unconditional G body takes: z, with InfoGAN's codes appended."""
        parts = [latent.z]
        if self.n_cat and latent.cat is not None:
            parts.append(torch.nn.functional.one_hot(latent.cat, self.n_cat).to(latent.z.dtype))
        if self.n_cont and latent.cont is not None:
            parts.append(latent.cont.to(latent.z.dtype))
        return torch.cat(parts, 1) if len(parts) > 1 else latent.z

    def groups(self) -> int:
        """How many rows a structured grid has: one per class or categorical value (0: unstructured)."""
        return self.n_classes or self.n_cat

    def fixed(self, n: int, seed: int) -> Latent:
        """The run's fixed grid. Structured priors give one row per class / categorical value, with
        the same noise down each column (so a column shows one style across classes) and the
        continuous codes at 0."""
        gen = torch.Generator().manual_seed(seed)
        rows = self.groups()
        if not rows:
            return self.draw(n, gen)
        cols = max(1, min(10, n // rows))
        z = torch.randn(cols, self.z_dim, generator=gen).repeat(rows, 1)
        ids = torch.arange(rows).repeat_interleave(cols)
        cont = torch.zeros(rows * cols, self.n_cont) if self.n_cont else None
        if self.n_classes:
            return Latent(z, y=ids)
        return Latent(z, cat=ids, cont=cont)

    def traversal(
        self, code: int, steps: int = 8, seed: int = 0, lo: float = -2.0, hi: float = 2.0
    ) -> Latent:
        """InfoGAN's figure: rows are the categorical values, columns sweep continuous code `code` from
        lo to hi, the other codes at 0, one noise vector for the whole grid."""
        if not self.n_cont:
            raise ValueError("this prior has no continuous code to sweep")
        rows = max(1, self.n_cat)
        z = torch.randn(1, self.z_dim, generator=torch.Generator().manual_seed(seed)).repeat(rows * steps, 1)
        cont = torch.zeros(rows * steps, self.n_cont)
        cont[:, code] = torch.linspace(lo, hi, steps).repeat(rows)
        cat = torch.arange(rows).repeat_interleave(steps) if self.n_cat else None
        return Latent(z, cat=cat, cont=cont)

    def one_class(self, k: int, n: int, seed: int) -> Latent:
        """`n` latents all of class (or categorical value) k, fixed noise."""
        latent = self.draw(n, torch.Generator().manual_seed(seed))
        ids = torch.full((n,), int(k), dtype=torch.long)
        if self.n_classes:
            return replace(latent, y=ids)
        cont = torch.zeros(n, self.n_cont) if self.n_cont else None
        return replace(latent, cat=ids, cont=cont)

    def to_dict(self) -> dict[str, int]:
        return {"z_dim": self.z_dim, "n_classes": self.n_classes, "n_cat": self.n_cat, "n_cont": self.n_cont}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LatentPrior:
        return cls(
            int(d["z_dim"]), int(d.get("n_classes", 0)), int(d.get("n_cat", 0)), int(d.get("n_cont", 0))
        )
