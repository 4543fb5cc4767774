"""Several runs at once (`ganterm view RUN_A RUN_B ...`): which paths are runs, their names and colours.

Torch-free and Textual-free: the CLI checks the paths with it before any screen is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ganterm.errors import UsageError
from ganterm.rundir.tensorboard import is_tensorboard_run, tensorboard_runs

if TYPE_CHECKING:
    from ganterm.channel.feed import Feed
    from ganterm.rundir.reader import RunDirReader
    from ganterm.rundir.tensorboard import TensorBoardReader

# One colour per run, in the order given: far apart in hue and all readable on a dark background.
RUN_COLORS: tuple[str, ...] = (
    "#4e9bff",  # blue
    "#ff9f1a",  # orange
    "#3ecf6e",  # green
    "#ff5c8a",  # pink
    "#b48cff",  # violet
    "#f2e05c",  # yellow
    "#3fd6d6",  # cyan
    "#c8c8c8",  # grey
)
_SEPARATORS = re.compile(r"([-_./ ]+)")


def is_run_dir(path: Path) -> bool:
    """A ganterm run directory, or a TensorBoard run (a folder holding events files, or one such file)."""
    if path.is_dir() and ((path / "config.json").exists() or (path / "metrics.jsonl").exists()):
        return True
    return is_tensorboard_run(path)


def open_reader(path: Path, feed: Feed | None = None) -> RunDirReader | TensorBoardReader:
    """The one place a followed path gets its reader: TensorBoard events files get the TensorBoard
    reader (tensorboard package needed), anything else a RunDirReader (which refuses what is no run)."""
    if is_tensorboard_run(path) and not (path / "metrics.jsonl").exists():
        from ganterm.rundir.tensorboard import TensorBoardReader

        return TensorBoardReader(path, feed)
    from ganterm.rundir.reader import RunDirReader

    return RunDirReader(path, feed)


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """Run directories and checkpoint files, in the order given; a folder that is not a run itself stands
    for the runs directly inside it (sorted by name). Raises UsageError naming the first bad path."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise UsageError(f"no such checkpoint or run directory: {path}")
        if path.is_file() or is_run_dir(path):
            found.append(path)
            continue
        children = sorted(p for p in path.iterdir() if is_run_dir(p))
        if not children:
            children = tensorboard_runs(path)  # a TensorBoard logdir of runs, maybe nested
        if not children:
            raise UsageError(
                f"{path} is not a ganterm run directory (no config.json or metrics.jsonl) and holds none"
            )
        found.extend(children)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)  # the same run named twice is drawn once
    return list(unique.values())


def _display_name(path: Path, parts: int) -> str:
    """The last `parts` components of a run's path; a checkpoint is named after its run, then its file."""
    if path.is_file() and path.parent.name == "checkpoints":
        return "/".join([*path.parent.parent.parts[-parts:], path.stem])
    return "/".join(path.parts[-parts:]) if path.parts else str(path)


def _trim_common(names: list[str]) -> list[str]:
    """The names with the leading and trailing words they all share removed (words split at - _ . / and
    spaces); a name never becomes empty."""
    if len(names) < 2:
        return names
    tokens = [_SEPARATORS.split(n) for n in names]
    shortest = min(len(t) for t in tokens)
    head = 0
    while head < shortest - 1 and len({t[head] for t in tokens}) == 1:
        head += 1
    tail = 0
    while tail < shortest - head - 1 and len({t[-1 - tail] for t in tokens}) == 1:
        tail += 1
    out = []
    for t in tokens:
        middle = "".join(t[head : len(t) - tail]).strip("-_./ ")
        out.append(middle or "".join(t))
    return out


def short_names(paths: Sequence[Path]) -> list[str]:
    """A legend name per run: only the part of its path that differs from the others' (common prefix and
    suffix removed). Runs with the same folder name in different places get more of their path."""
    paths = [Path(p) for p in paths]
    for parts in range(1, 1 + max((len(p.parts) for p in paths), default=1)):
        names = [_display_name(p, parts) for p in paths]
        if len(set(names)) == len(names):
            break
    trimmed = _trim_common(names)
    return trimmed if len(set(trimmed)) == len(trimmed) else names


def run_color(index: int) -> str:
    """The colour of the index-th run; the palette repeats past its end."""
    return RUN_COLORS[index % len(RUN_COLORS)]
