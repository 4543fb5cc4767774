"""User-facing errors: the CLI prints their message as one line and exits non-zero, never a traceback."""

from __future__ import annotations


class GantermError(Exception):
    """A problem the user can fix; `str(err)` is one line that says what to do."""

    exit_code = 1


class UsageError(GantermError):
    """A bad name or value on the command line (exit code 2, like typer's own usage errors)."""

    exit_code = 2


class DataError(GantermError):
    """A dataset that cannot be found, downloaded, verified or decoded."""


class CheckpointError(GantermError):
    """A checkpoint that cannot be read safely: missing, truncated, foreign, unsafe or too new."""


class RankLostError(GantermError):
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
