"""The Dataset every loader returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch


@dataclass
class Dataset:
    """An in-memory dataset.

    kind "images": `data` is (N, C, H, W) float32 in [-1, 1].
    kind "points": 2-D toy data, `data` is None and `sampler(n, generator)` draws fresh points
    (N is then a nominal epoch size); `info["modes"]` is (K, 2) and `info["std"]` the mode std.
    """

    name: str
    kind: Literal["images", "points"]
    shape: tuple[int, ...]
    size: int
    data: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    sampler: Callable[[int, torch.Generator], torch.Tensor] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """A batch drawn by index (no per-sample Python work), on the data's device."""
        if self.sampler is not None:
            return self.sampler(batch_size, generator)
        assert self.data is not None
        idx = torch.randint(self.size, (batch_size,), generator=generator, device=generator.device)
        return self.data[idx.to(self.data.device)]

    def sample_xy(
        self, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch and its labels (None for unlabelled data), drawn with the same indices as `sample`."""
        if self.sampler is not None:
            return self.sampler(batch_size, generator), None
        assert self.data is not None
        idx = torch.randint(self.size, (batch_size,), generator=generator, device=generator.device)
        idx = idx.to(self.data.device)
        return self.data[idx], None if self.labels is None else self.labels[idx.to(self.labels.device)]

    @property
    def n_classes(self) -> int:
        """Classes the labels index (0 when there are none)."""
        if self.labels is None:
            return 0
        classes = self.info.get("classes") or []
        return max(len(classes), int(self.labels.max()) + 1 if len(self.labels) else 0)

    @property
    def device(self) -> torch.device:
        return self.data.device if self.data is not None else torch.device("cpu")

    def to(self, device: torch.device | str) -> Dataset:
        if self.data is None:
            return self
        labels = self.labels.to(device) if self.labels is not None else None
        return Dataset(
            self.name, self.kind, self.shape, self.size, self.data.to(device), labels, self.sampler, self.info
        )
