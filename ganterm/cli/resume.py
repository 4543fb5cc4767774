"""`ganterm train --resume CKPT`: the settings a resumed run takes from its checkpoint.

A resumed run continues the run that wrote the checkpoint, so every setting the command line leaves out
(the dataset, algorithm, model, loss, rates, batch size, schedules, stabilisers, seed, precision) is the
checkpoint's, not the recipe's: `ganterm train --resume runs/ring-.../ckpt.pt --steps 3300` resumes a
ring run. What a run computes with must match (the trainer could not continue otherwise); naming
something else is one line that says what the checkpoint has. Machine-local settings (the device, the
run directory, torch.compile, DDP) and the run's length as a whole (--steps, --epochs, --time: any one
of them replaces all three) stay the command line's.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import typer

from ganterm.config import TrainConfig
from ganterm.errors import UsageError
from ganterm.models.user_file import check_resumed_model

__all__ = ["given_options", "resumed_config"]

# Command-line parameter names that differ from their TrainConfig field.
_FIELD_OF = {"time": "time_limit", "compile_": "compile"}
# Never taken from the checkpoint: this machine's, this command's, or not settings at all.
_NOT_RESUMED = ("out", "resume", "device", "compile", "sync_bn", "world_size", "extra", "trusted_model")
_RUN_LENGTH = ("steps", "epochs", "time_limit")
# What a resumed run must compute with (the trainer's own check refuses a difference, in other words).
_MUST_MATCH = ("dataset", "algo", "model", "z_dim", "batch_size", "image_size", "channels")


def given_options(ctx: typer.Context) -> set[str]:
    """The TrainConfig fields this command line set itself (not left at their defaults)."""
    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.add(_FIELD_OF.get(name, name))
    return given


def resumed_config(cfg: TrainConfig, given: set[str]) -> TrainConfig:
    """`cfg` (a command line's, with --resume) completed from the checkpoint's own config."""
    from ganterm.training.checkpoint import load_checkpoint  # torch: the run needs it next anyway

    saved = TrainConfig.from_dict(load_checkpoint(str(cfg.resume)).get("config") or {})
    if "model" not in given:  # a recorded model file runs only when this command line names it again
        check_resumed_model(saved.model, None)
    for key in _MUST_MATCH:
        if key in given:
            _check_same(key, getattr(saved, key), getattr(cfg, key))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(TrainConfig):
        name = f.name
        if name in given or name in _NOT_RESUMED:
            continue
        if name in _RUN_LENGTH and given & set(_RUN_LENGTH):
            continue  # one of them named: the run's length is the command line's
        values[name] = getattr(saved, name)
    if "dataset" in given and _same_folder(saved.dataset, cfg.dataset):
        values["dataset"] = saved.dataset  # the same folder, spelt the way the checkpoint has it
    return dataclasses.replace(cfg, **values)


def _check_same(key: str, saved: Any, asked: Any) -> None:
    if key == "algo":  # checkpoints from before the field are GANs
        saved, asked = saved or "gan", asked or "gan"
    if saved is None or saved == asked or (key == "dataset" and _same_folder(saved, asked)):
        return
    what = "the DATASET argument" if key == "dataset" else f"--{key.replace('_', '-')}"
    raise UsageError(
        f"--resume: the checkpoint's run has {key} {saved!r}, not {asked!r}; drop {what} "
        "(a resumed run takes the checkpoint's settings)"
    )


def _same_folder(a: str, b: str) -> bool:
    """Two spellings of one image folder (`./digits`, `folder:/abs/digits`)."""
    paths = [s.removeprefix("folder:") for s in (a, b)]
    try:
        return all(os.path.isdir(p) for p in paths) and os.path.samefile(*paths)
    except OSError:
        return False
