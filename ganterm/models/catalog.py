"""The built-in models, by name (`--model`): one row each, its builder in its own file, imported only
when a run builds it (this module is torch-free, so the CLI validates names against the same rows).
The user's own file (`--model FILE.py:FN`) and `ganterm.fit`'s networks come from elsewhere."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganterm.errors import UsageError, choices_message
from ganterm.models.spec import FIT_MODEL, is_user_model, parse_model_file

__all__ = ["FIT_MODEL", "MODELS", "ModelRow", "build_models", "is_user_model", "parse_model_file"]


@dataclass(frozen=True)
class ModelRow:
    name: str
    builder: str  # "module:function"; function(shape, z_dim, gp_safe, **options) -> (G, D)
    data: str  # "images" or "points"
    help: str

    def load(self) -> Callable[..., Any]:
        module, _, fn = self.builder.partition(":")
        return getattr(importlib.import_module(module), fn)


MODELS: dict[str, ModelRow] = {
    row.name: row
    for row in (
        ModelRow("mlp", "ganterm.models.mlp:build_mlp", "images", "the seed's MLP G and two-conv D, 28x28"),
        ModelRow("dcgan", "ganterm.models.dcgan:build_dcgan", "images", "DCGAN at 28, 32 or 64 pixels"),
        ModelRow("toy", "ganterm.models.toy:build_toy", "points", "MLPs for 2-D points (ring, grid)"),
    )
}


def build_models(
    name: str,
    shape: tuple[int, ...],
    z_dim: int,
    *,
    gp_safe: bool = False,
    trusted: object = None,
    **kw: object,
) -> Any:
    """(G, D) for per-sample `shape` ((2,) or (C, H, W)); `gp_safe` keeps batch norm out of D. A model
    file (`--model path/models.py:build`) builds only when `trusted` is the TrustedModelFile the command
    line made for it."""
    if parse_model_file(name) is not None:  # the user's own file
        from ganterm.models.user_file import build_from_file

        return build_from_file(name, shape, z_dim, trusted)
    if name == FIT_MODEL:
        raise UsageError(
            "this run's networks were handed to ganterm.fit in Python, so ganterm cannot rebuild them; "
            "build G in your script and load torch.load(CKPT, weights_only=True)['modules']['G']"
        )
    if name not in MODELS:
        raise UsageError(choices_message("model", name, tuple(MODELS)))
    if z_dim <= 0:
        raise UsageError(f"--z-dim must be a positive integer, got {z_dim}")
    builder = MODELS[name].load()
    known = [p for p in inspect.signature(builder).parameters if p not in ("shape", "z_dim", "gp_safe")]
    unknown = sorted(set(kw) - set(known))
    if unknown:
        raise UsageError(f"model {name!r} has no option {unknown[0]!r}; it takes: {', '.join(known)}")
    return builder(tuple(shape), z_dim, gp_safe, **kw)
