"""User-facing errors: the CLI prints their message as one line and exits non-zero, never a traceback.

Exit codes (the README's table; `ganterm.cli.main` holds them): 0 a run that finished, or stopped by a
key or a signal after its final checkpoint; 2 refused: what was asked cannot be done as given and nothing
was trained (a bad option, data or a file that is missing, unreadable, unsafe or does not match, a device
that is not there, a failed download); 1 a run that started and then failed (`RunError`, out of memory,
an internal error); 130 interrupted before the run started.
"""

from __future__ import annotations


class GantermError(Exception):
    """A problem the user can fix; `str(err)` is one line that says what to do. Exit code 2: the command
    was refused before anything was trained (see `RunError` for a run that failed once started)."""

    exit_code = 2


class UsageError(GantermError):
    """A bad name or value on the command line (exit code 2, like typer's own usage errors)."""


class DataError(GantermError):
    """A dataset that cannot be found, downloaded, verified or decoded."""


class CheckpointError(GantermError):
    """A checkpoint that cannot be read safely: missing, truncated, foreign, unsafe or too new."""


class RunError(GantermError):
    """The run itself failed after it had started (a network raised mid-run): exit code 1. The trainer
    has already written what it had; the message names the last checkpoint."""

    exit_code = 1


class RankLostError(RunError):
    """Another process of a DDP run stopped answering (it died, or a collective timed out).

    Every surviving rank says so; other errors are said once, by rank 0."""

    every_rank = True


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when it has none), cut to `limit`."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:limit]


def described(e: BaseException, limit: int = 200) -> str:
    """'TypeName: first line of the message', or the type's name alone when there is no message."""
    text = (str(e).strip().splitlines() or [""])[0][:limit]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def choices_message(what: str, value: object, choices: list[str] | tuple[str, ...]) -> str:
    """The one line for an unknown name: what was asked and what exists."""
    return f"unknown {what} {value!r}; choose one of: {', '.join(choices)}"


def is_out_of_memory(e: BaseException) -> bool:
    """torch.OutOfMemoryError, recognised without importing torch when nothing did."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return False
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return oom is not None and isinstance(e, oom)
