"""A run's checkpoints as a viewer sees them: the newest loadable one, and a sampler over its networks
when they may be rebuilt.

`ganterm view` (a checkpoint, or a run directory followed by rundir/reader.py) and `ganterm view A B`
use these. A run that records a model file (`--model FILE.py:FN`) is rebuilt only from the
TrustedModelFile the command line made; otherwise the view gets a note (one line: G was not rebuilt,
and how to trust the file) and shows the curves and recorded grids. A checkpoint's weights are loaded
`weights_only`, so no pickled code runs either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ganterm.errors import GantermError, first_line
from ganterm.rundir.reader import CheckpointRead
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint


def sampler_for(ckpt: dict[str, Any], trusted: Any, source: str, command: str) -> tuple[Any, str]:
    """(Sampler, "") for a checkpoint whose networks may be and can be rebuilt, else (None, why): one
    line, for the view's status line and its event log."""
    from ganterm.models.user_file import ModelFileNotTrusted, not_rebuilt_note
    from ganterm.training.sampling import Sampler

    try:
        return Sampler.from_checkpoint(ckpt, trusted, source), ""
    except ModelFileNotTrusted as e:
        return None, not_rebuilt_note(e.recorded, command)
    except GantermError as e:  # ganterm.fit's networks, an unknown algorithm or model
        return None, str(e)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        return None, f"G not rebuilt: the checkpoint's contents do not fit its model ({first_line(e, 120)})"


def _is_plain_file(path: Path) -> bool:
    """A regular file, not a link (out of the run) or a FIFO (torch.load would wait on it for ever)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


class CheckpointFrames:
    """The RunDirReader's `checkpoints` source: each newer loadable checkpoint, with its fixed grid when
    its networks may be rebuilt (only from `trusted` for a run that records a model file)."""

    def __init__(self, trusted: Any = None, command: str = "ganterm view RUN") -> None:
        self.trusted = trusted
        self.command = command
        self._seen: tuple[str, int] | None = None

    def newest(self, run_dir: Path) -> CheckpointRead | None:
        for p in reversed(checkpoint_files(run_dir)):
            if not _is_plain_file(p):
                continue
            try:
                key = (str(p), p.stat().st_mtime_ns)
            except OSError:
                continue
            if key == self._seen:
                return None
            try:
                ckpt = load_checkpoint(p)
            except GantermError:
                continue  # a file mid-rename, damaged or hostile: try the previous one
            self._seen = key
            sampler, note = sampler_for(ckpt, self.trusted, str(run_dir), self.command)
            frame = None
            if sampler is not None:
                try:
                    frame = sampler.fixed()
                except (RuntimeError, ValueError, TypeError) as e:
                    note = f"G could not sample ({first_line(e, 120)})"
            return CheckpointRead(p, ckpt, frame, note)
        return None
