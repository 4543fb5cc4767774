"""Networks from the user's own file: `--model path/models.py:build`, where `build(shape, z_dim)` returns
`(G, D)`; and which such file may run at all.

A run records the file's absolute path and the function's name as its model (config.json and the
checkpoint), but a recorded name never runs code: a checkpoint or run directory can come from anyone,
and editing one line of its config would otherwise make `ganterm view` execute any file on the machine.
Code runs only from a `TrustedModelFile`, which only `trust_model_file` makes, and which only the command
line calls for a `--model FILE.py:FN` typed in this command (`train`, and `sample|eval|view ... --model`).
What runs is exactly the bytes that were hashed when the user named the file. Torch-free on import, so
the CLI can decide before torch loads.
"""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganterm.errors import UsageError, described
from ganterm.models.spec import parse_model_file

if TYPE_CHECKING:
    from torch import nn

    Pair = tuple[nn.Module, nn.Module]


class ModelFileNotTrusted(UsageError):
    """A run that records a model file the command line did not name; `recorded` is its spec."""

    def __init__(self, message: str, recorded: str) -> None:
        super().__init__(message)
        self.recorded = recorded


@dataclass(frozen=True)
class TrustedModelFile:
    """A model file the user named in this command: its resolved path, the function, and the bytes that
    were read (and hashed) then, which are what runs."""

    path: Path
    fn: str
    sha256: str
    source: bytes = field(repr=False, compare=False)

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.fn}"


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


def trust_model_file(spec: str) -> TrustedModelFile:
    """The file a `--model FILE.py:FN` on this command line names, read now: the only way to trust one."""
    path, fn = _file_and_function(absolute_spec(spec))
    try:
        source = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"--model {spec}: cannot read {path}: {e.strerror or e}") from None
    return TrustedModelFile(Path(path), fn, hashlib.sha256(source).hexdigest(), source)


def is_model_file(model: object) -> bool:
    return isinstance(model, str) and parse_model_file(model) is not None


def trusted_for(
    recorded: object, trusted: TrustedModelFile | None, source: str, command: str = "ganterm sample CKPT"
) -> TrustedModelFile | None:
    """The file that may build a recorded run's networks: the one the user named when the run records a
    model file (the user's copy wins over the recorded path: a checkpoint from a colleague names their
    path), None for a built-in model. Raises ModelFileNotTrusted (one line naming the recorded file and
    the flag) when the run records a file and none was named; UsageError for a file named for a run of a
    built-in model."""
    if not is_model_file(recorded):
        if trusted is not None:
            raise UsageError(
                f"--model {trusted.spec}: {source} was trained with the built-in model {str(recorded)!r}, "
                "which needs no file; drop --model"
            )
        return None
    if trusted is None:
        raise ModelFileNotTrusted(
            f"{source} was trained with the model file {recorded}; ganterm runs no code that a checkpoint or "
            f"run directory names: to trust that file, name it: {command} --model {recorded}",
            str(recorded),
        )
    return trusted


def not_rebuilt_note(recorded: str, command: str) -> str:
    """The view's status line for a run whose model file was not named."""
    return f"G not rebuilt: add --model {recorded} to trust its code ({command} --model FILE.py:FN)"


def check_resumed_model(recorded: object, given: object) -> None:
    """`train --resume` of a run that records a model file: the command line must name one (`--model`),
    which is then the code that runs (cli/resume.py asks before the checkpoint's settings fill in)."""
    if is_model_file(recorded) and not is_model_file(given):
        raise UsageError(
            f"--resume: the checkpoint was trained with the model file {recorded}; ganterm runs no code a "
            f"checkpoint names: pass --model {recorded} to trust it"
        )


def _load_module(trusted: TrustedModelFile) -> types.ModuleType:
    # A private module name per file and content, so two model files called models.py never collide.
    digest = hashlib.sha256(f"{trusted.path}:{trusted.sha256}".encode()).hexdigest()[:12]
    name = "ganterm_user_models_" + digest
    module = types.ModuleType(name)
    module.__file__ = str(trusted.path)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name while it loads
    try:
        code = compile(trusted.source, str(trusted.path), "exec")
        exec(code, module.__dict__)  # the bytes the user trusted, not whatever the file holds now
    except Exception as e:
        sys.modules.pop(name, None)
        raise UsageError(f"--model {trusted.path}: loading the file raised {described(e)}") from None
    return module


def load_builder(trusted: TrustedModelFile) -> Callable[..., object]:
    """The function the trusted file names, with a one-line error for a missing one."""
    module = _load_module(trusted)
    builder = getattr(module, trusted.fn, None)
    if not callable(builder):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        found = [n for n in found if getattr(vars(module)[n], "__module__", None) == module.__name__]
        hint = f"; it defines: {', '.join(found)}" if found else ""
        raise UsageError(f"model file {trusted.path} has no function {trusted.fn!r}{hint}")
    return builder


def build_from_file(spec: str, shape: tuple[int, ...], z_dim: int, trusted: Any = None) -> Pair:
    """(G, D) from `build(shape, z_dim)` in the user's file; `z_dim` is the width of G's input (noise,
    plus the one-hot label under cGAN or the codes under InfoGAN). Only a file the command line named
    (`trusted`, for exactly this spec) is executed."""
    from torch import nn

    if not isinstance(trusted, TrustedModelFile) or trusted.spec != spec:
        raise ModelFileNotTrusted(
            f"the model file {spec} was not named on the command line; ganterm runs no code a run records: "
            f"pass --model {spec} to trust it",
            spec,
        )
    builder = load_builder(trusted)
    try:
        pair = builder(tuple(shape), int(z_dim))
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(
            f"{trusted.fn}(shape={tuple(shape)}, z_dim={z_dim}) in {trusted.path} raised {described(e)}"
        ) from None
    if not (
        isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(m, nn.Module) for m in pair)
    ):
        raise UsageError(
            f"{trusted.fn}(shape, z_dim) in {trusted.path} must return (G, D), two torch nn.Modules"
        )
    return pair[0], pair[1]
