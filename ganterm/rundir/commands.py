"""A file-based command channel in a run directory: the viewer steers a training process it did not start.

    RUN/commands/<time_ns>-<pid>-<seq>.json   one command per file: {"name", "args", "time", "sender"}
    RUN/commands/done/                        commands the training side has taken (the newest kept)
    RUN/status.json                           the training side: pid, state, step, heartbeat, commands

Files, not a socket or a pipe, so either side can restart without the other noticing: a command sent while
no script runs waits in commands/ for the next one, and a restarted viewer reads status.json again. Every
file is written to a hidden temp name and renamed into place (os.replace is atomic on one filesystem), so
a reader never sees half a command or half a status. Names sort in the order they were sent (the time is
zero-padded). The training side claims a command by renaming it into done/ before reading it: if two
processes poll the same directory, each command is delivered once.

Standard library only: the viewer imports it without torch or the logger.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMMANDS_DIR = "commands"
DONE_DIR = "done"
STATUS_FILE = "status.json"
KEEP_DONE = 100  # consumed commands kept in done/ (the newest), for a human looking at what happened
STALE_TMP_S = 60.0  # a temp file this old belongs to a sender that died mid-write
LIVE_HEARTBEAT_S = 15.0  # a status older than this says nothing about whether its process still runs

# What every process on the channel understands; registered commands come after these in status.json.
BUILTIN_COMMANDS: tuple[dict[str, Any], ...] = (
    {"name": "pause", "help": "pause training", "arg": None},
    {"name": "resume", "help": "resume training", "arg": None},
    {"name": "checkpoint", "help": "write a checkpoint now", "arg": None},
    {"name": "stop", "help": "stop after this step (the script's final checkpoint)", "arg": None},
)
BUILTIN_NAMES = frozenset(c["name"] for c in BUILTIN_COMMANDS)

_seq = itertools.count()


@dataclass(frozen=True)
class ChannelCommand:
    """One command as the training side receives it; `id` is its file's name without `.json`."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0
    id: str = ""

    @property
    def arg(self) -> Any:
        """The single argument of a registered command (`args["value"]`), or None."""
        return self.args.get("value")


def commands_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / COMMANDS_DIR


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.{next(_seq)}.tmp"
    try:
        tmp.write_text(json.dumps(data, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # no fsync: a command lost to a power cut is re-sent by hand
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# -- viewer side ---------------------------------------------------------------------------------------
def send_command(run_dir: str | Path, name: str, args: dict[str, Any] | None = None) -> Path:
    """Queue `name` for the training process of `run_dir`; the path of the command file."""
    folder = commands_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time_ns()
    path = folder / f"{now:020d}-{os.getpid()}-{next(_seq):06d}.json"
    record = {"name": name, "args": dict(args or {}), "time": now / 1e9, "sender": _sender()}
    _write_atomic(path, record)
    return path


def pending_commands(run_dir: str | Path) -> list[str]:
    """Names of the command files not yet taken by a training process, oldest first."""
    try:
        return sorted(e.name for e in os.scandir(commands_dir(run_dir)) if _is_command(e.name))
    except OSError:
        return []


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    """The training side's status.json, or None when there is none (yet) or it cannot be read."""
    try:
        data = json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status_is_live(status: dict[str, Any] | None, now: float | None = None) -> bool:
    """Whether a process still serves the channel: a recent heartbeat, and on this host a live pid."""
    if not status or status.get("state") in ("finished", "stopped", "closed", "error"):
        return False
    try:
        beat = float(status.get("heartbeat", 0))
        pid = int(status.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if status.get("host") == socket.gethostname() and pid > 0 and not _pid_alive(pid):
        return False  # killed (kill -9, OOM) without writing a last status
    return (time.time() if now is None else now) - beat < LIVE_HEARTBEAT_S


def registered_commands(status: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The commands a status publishes beyond the built-ins: [{"name", "help", "arg"}, ...]."""
    out = []
    for c in (status or {}).get("commands") or []:
        if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] not in BUILTIN_NAMES:
            out.append(c)
    return out


def parse_command_line(text: str, status: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """`lr 0.001` -> ("lr", {"value": 0.001}), typed by what the status publishes for `lr`.

    Raises ValueError with a message for the user (unknown name, missing or malformed argument).
    """
    parts = text.strip().split(None, 1)
    if not parts:
        raise ValueError("type a command name, e.g. lr 0.001")
    name, raw = parts[0], (parts[1].strip() if len(parts) > 1 else None)
    known = {c["name"]: c for c in (*BUILTIN_COMMANDS, *registered_commands(status))}
    if status is not None and name not in known:
        names = ", ".join(known) or "none"
        raise ValueError(f"unknown command {name!r}; the script accepts: {names}")
    spec = known.get(name, {"arg": "str" if raw is not None else None})
    kind = spec.get("arg")
    if kind is None:
        if raw is not None and name in BUILTIN_NAMES:
            raise ValueError(f"{name} takes no argument")
        return name, ({} if raw is None else {"value": raw})
    if raw is None:
        raise ValueError(f"{name} needs a {kind} argument, e.g. {name} {_EXAMPLES.get(kind, 'VALUE')}")
    return name, {"value": convert_arg(kind, raw)}


_EXAMPLES = {"float": "0.001", "int": "10", "bool": "true", "str": "text"}


def convert_arg(kind: str | None, value: Any) -> Any:
    """A value converted to the type a command was registered with ("float", "int", "bool", "str")."""
    if kind is None or kind not in _CONVERTERS:
        return value  # a type the viewer does not know: the script converts it
    try:
        return _CONVERTERS[kind](value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a {kind}, got {value!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value) if not isinstance(value, str) else int(value.strip(), 0)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {"float": float, "int": _to_int, "bool": _to_bool, "str": str}


# -- training side -------------------------------------------------------------------------------------
class CommandReceiver:
    """Takes new command files in name order; each file is moved to done/ before it is read."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = commands_dir(run_dir)
        self.done = self.folder / DONE_DIR
        self.done.mkdir(parents=True, exist_ok=True)

    def poll(self) -> list[ChannelCommand]:
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError:
            return []  # the run directory was removed: nothing to take, try again later
        out: list[ChannelCommand] = []
        for entry in entries:
            if entry.name.startswith("."):
                self._drop_stale_tmp(entry)
                continue
            if not _is_command(entry.name):
                continue
            taken = self.done / entry.name
            try:
                os.replace(entry.path, taken)
            except OSError:
                continue  # another process took it first
            cmd = _read_command(taken)
            if cmd is not None:
                out.append(cmd)
        if out:
            self._prune_done()
        return out

    def _drop_stale_tmp(self, entry: os.DirEntry[str]) -> None:
        with contextlib.suppress(OSError):
            if entry.name.endswith(".tmp") and time.time() - entry.stat().st_mtime > STALE_TMP_S:
                os.unlink(entry.path)

    def _prune_done(self) -> None:
        try:
            names = sorted(e.name for e in os.scandir(self.done) if _is_command(e.name))
        except OSError:
            return
        for name in names[:-KEEP_DONE]:
            with contextlib.suppress(OSError):
                (self.done / name).unlink()


def write_status(run_dir: str | Path, status: dict[str, Any]) -> None:
    """Atomically replace RUN/status.json; pid, host and heartbeat are filled in when missing."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "heartbeat": round(time.time(), 3)}
    record.update(status)
    _write_atomic(Path(run_dir) / STATUS_FILE, record)


def _read_command(path: Path) -> ChannelCommand | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        name, args = data["name"], data.get("args") or {}
        if not isinstance(name, str) or not isinstance(args, dict):
            raise ValueError("bad command")
        return ChannelCommand(name=name, args=args, time=float(data.get("time") or 0.0), id=path.stem)
    except (OSError, ValueError, KeyError, TypeError):
        with contextlib.suppress(OSError):
            path.rename(path.with_suffix(".bad"))  # kept for a human; never delivered
        return None


def _is_command(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def _sender() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
