"""How a run names networks the user wrote, torch-free: the CLI, the config and the loaders all read it."""

from __future__ import annotations

import re

# Networks the user wrote: `--model path/models.py:build` (a builder in a file, rebuilt from it for
# sample/view), or FIT_MODEL, modules handed to ganterm.fit (only their weights are in the checkpoint).
FIT_MODEL = "fit"
MODEL_FILE_RE = re.compile(r"^(?P<path>.+\.py):(?P<fn>[A-Za-z_][A-Za-z0-9_]*)$")


def parse_model_file(model: str | None) -> tuple[str, str] | None:
    """'path/models.py:build' -> ('path/models.py', 'build'); None for any other model name."""
    m = MODEL_FILE_RE.match(model or "")
    return (m["path"], m["fn"]) if m else None


def is_user_model(model: str | None) -> bool:
    return model == FIT_MODEL or parse_model_file(model) is not None
