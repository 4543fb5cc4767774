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

The channel answers only its owner: commands/ and done/ are made 0700 and command files 0600, and the
training side ignores (with a warning) a command file that is a symbolic link or belongs to another
user, and a commands/ folder that is either. `exposure_warnings` says at start when another user can
write into the run directory or a folder above it (a shared /tmp/runs without the sticky bit).

Standard library only: the viewer imports it without torch or the logger.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import stat
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
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # the channel is the run's owner's alone
MAX_COMMAND_BYTES = 1 << 16
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


def _write_atomic(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.{next(_seq)}.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(tmp, flags, mode), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, default=str) + "\n")
        os.replace(tmp, path)  # no fsync: a command lost to a power cut is re-sent by hand
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# -- viewer side ---------------------------------------------------------------------------------------
def send_command(run_dir: str | Path, name: str, args: dict[str, Any] | None = None) -> Path:
    """Queue `name` for the training process of `run_dir`; the path of the command file."""
    folder = commands_dir(run_dir)
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    now = time.time_ns()
    path = folder / f"{now:020d}-{os.getpid()}-{next(_seq):06d}.json"
    record = {"name": name, "args": dict(args or {}), "time": now / 1e9, "sender": _sender()}
    _write_atomic(path, record, PRIVATE_FILE)
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
    if status.get("host") == socket.gethostname() and pid > 0 and not pid_alive(pid):
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
    """Takes new command files in name order; each file is moved to done/ before it is read. Only files
    of `owner` (this process's user) are read; the others, and links, are set aside with a warning
    (`take_warnings`), and so is the whole channel when commands/ itself is a link or someone else's."""

    def __init__(self, run_dir: str | Path, owner: int | None = None) -> None:
        self.folder = commands_dir(run_dir)
        self.done = self.folder / DONE_DIR
        self.owner = os.getuid() if owner is None else owner
        self._warnings: list[str] = []
        self.folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        self.usable = self._private(self.folder)
        if self.usable:
            self.done.mkdir(mode=PRIVATE_DIR, exist_ok=True)
            self.usable = self._private(self.done)

    def _private(self, folder: Path) -> bool:
        """The folder is a real directory of the owner, made 0700 (an older run's may be 0755)."""
        st = os.lstat(folder)
        rel = f"{COMMANDS_DIR}/" if folder == self.folder else f"{COMMANDS_DIR}/{DONE_DIR}/"
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            self._warnings.append(f"{rel} is not a plain folder (a link?); commands are not read")
            return False
        if st.st_uid != self.owner:
            self._warnings.append(
                f"{rel} belongs to uid {st.st_uid}, not this run's user; commands are not read"
            )
            return False
        if stat.S_IMODE(st.st_mode) != PRIVATE_DIR:
            os.chmod(folder, PRIVATE_DIR)
        return True

    def take_warnings(self) -> list[str]:
        """What was ignored since the last call, one line each (the caller makes them warning events)."""
        out, self._warnings = self._warnings, []
        return out

    def poll(self) -> list[ChannelCommand]:
        if not self.usable:
            return []
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
            if not self._from_owner(entry):
                continue
            taken = self.done / entry.name
            try:
                os.replace(entry.path, taken)
            except OSError:
                continue  # another process took it first
            cmd = _read_command(taken, self.owner)
            if cmd is not None:
                out.append(cmd)
            elif taken.with_suffix(".ignored").exists():
                self._warnings.append(f"ignored command file {entry.name}: replaced after it was checked")
        if out:
            self._prune_done()
        return out

    def _from_owner(self, entry: os.DirEntry[str]) -> bool:
        """A regular file of the owner; anything else is moved aside as NAME.ignored, with a warning."""
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            why = "a symbolic link"
        elif not stat.S_ISREG(st.st_mode):
            why = "not a regular file"
        elif st.st_uid != self.owner:
            why = f"written by uid {st.st_uid}, not this run's user"
        else:
            return True
        self._warnings.append(f"ignored command file {entry.name}: {why}")
        with contextlib.suppress(OSError):
            os.replace(entry.path, self.done / (entry.name[: -len(".json")] + ".ignored"))
        return False

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


def _read_command(path: Path, owner: int) -> ChannelCommand | None:
    try:
        # Opened without following a link, and checked again on the open file: swapped for a link or
        # another user's file between the check and the rename, it is still never read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != owner:
                raise PermissionError("not the owner's file")
            data = json.loads(fh.read(MAX_COMMAND_BYTES).decode("utf-8"))
        name, args = data["name"], data.get("args") or {}
        if not isinstance(name, str) or not isinstance(args, dict):
            raise ValueError("bad command")
        return ChannelCommand(name=name, args=args, time=float(data.get("time") or 0.0), id=path.stem)
    except PermissionError:
        with contextlib.suppress(OSError):
            path.rename(path.with_suffix(".ignored"))
        return None
    except (OSError, ValueError, KeyError, TypeError):
        with contextlib.suppress(OSError):
            path.rename(path.with_suffix(".bad"))  # kept for a human; never delivered
        return None


def _is_command(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def _sender() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def exposure_warnings(run_dir: str | Path) -> list[str]:
    """One line per folder, from the run directory up, that lets another user replace or add to the run:
    writable by others (or by a group not the user's own) without the sticky bit, or owned by someone
    else. The run directory itself must not be writable by others even with the sticky bit. /tmp
    itself (sticky, root's) is fine; /tmp/runs made 0777 is not."""
    me, out = os.getuid(), []
    path = Path(run_dir).absolute()
    for folder in (path, *path.parents):
        try:
            st = os.stat(folder)
        except OSError:
            continue
        others = st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != os.getgid())
        sticky = st.st_mode & stat.S_ISVTX
        if st.st_uid not in (me, 0):
            out.append(f"{folder} belongs to uid {st.st_uid}: that user can replace this run's files")
        elif others and (folder == path or not sticky):
            out.append(
                f"{folder} can be written by other users (mode {stat.S_IMODE(st.st_mode):o}): they could "
                "replace this run's files; use a private --out"
            )
    return out
