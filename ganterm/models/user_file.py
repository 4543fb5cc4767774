"""Networks from the user's own file: `--model path/models.py:build`, where `build(shape, z_dim)` returns
`(G, D)`.

The file's absolute path and the function's name are the model's name in the config (config.json and the
checkpoint), so `ganterm sample` and `ganterm view` rebuild G by loading the same file again. User code is
only ever executed because the user named the file (on the command line, or in the checkpoint of a run
they trained from it); checkpoints themselves stay weights-only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from torch import nn

from ganterm.config import parse_model_file
from ganterm.errors import UsageError, described

Pair = tuple[nn.Module, nn.Module]


def _file_and_function(spec: str) -> tuple[str, str]:
    parsed = parse_model_file(spec)
    if parsed is None:
        raise UsageError(f"--model {spec!r}: give a file and a function, e.g. models.py:build")
    return parsed


def absolute_spec(spec: str) -> str:
    """'models.py:build' -> '/abs/path/models.py:build', checked to exist (the CLI records this form)."""
    path, fn = _file_and_function(spec)
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"--model {spec}: no such file: {path}")
    return f"{p.resolve()}:{fn}"


def _load_module(path: Path) -> ModuleType:
    # A private module name per file, so two model files called models.py never collide.
    name = "ganterm_user_models_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"--model {path}: not a Python file that can be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name while it loads
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise UsageError(f"--model {path}: loading the file raised {described(e)}") from None
    return module


def load_builder(spec: str) -> Callable[..., object]:
    """The function `spec` names, with one-line errors for a moved file or a missing function."""
    path_text, fn = _file_and_function(spec)
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise UsageError(
            f"model file {path_text} is gone (moved or deleted?); put it back, or sample in Python from "
            "the checkpoint's weights"
        )
    module = _load_module(path.resolve())
    builder = getattr(module, fn, None)
    if not callable(builder):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        found = [n for n in found if getattr(vars(module)[n], "__module__", None) == module.__name__]
        hint = f"; it defines: {', '.join(found)}" if found else ""
        raise UsageError(f"model file {path_text} has no function {fn!r}{hint}")
    return builder


def build_from_file(spec: str, shape: tuple[int, ...], z_dim: int) -> Pair:
    """(G, D) from `build(shape, z_dim)` in the user's file; `z_dim` is the width of G's input (noise,
    plus the one-hot label under cGAN or the codes under InfoGAN)."""
    builder = load_builder(spec)
    path, fn = parse_model_file(spec) or ("", "")
    try:
        pair = builder(tuple(shape), int(z_dim))
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(
            f"{fn}(shape={tuple(shape)}, z_dim={z_dim}) in {path} raised {described(e)}"
        ) from None
    if not (
        isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(m, nn.Module) for m in pair)
    ):
        raise UsageError(f"{fn}(shape, z_dim) in {path} must return (G, D), two torch nn.Modules")
    return pair[0], pair[1]
