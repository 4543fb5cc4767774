"""A run's recorded grids (samples/step_*.png) as a scrubber sees them: every step listed, few decoded.

Listing is names only (one scandir when samples/ changed), so a run with 10,000 grids opens as fast as
one with 10; a grid is decoded through rundir/untrusted.py only when it is shown, and the last few
decoded are kept. Thread-safe: the reader's thread lists, the UI's worker loads.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from bisect import bisect_left
from collections import OrderedDict
from pathlib import Path

from ganterm.channel.feed import SampleFrame
from ganterm.rundir.untrusted import grid_array

FRAME_NAME = re.compile(r"^step_(\d{1,18})\.png$")
CACHED = 16  # decoded grids kept (a digits grid is ~200 KB)


class RecordedGrids:
    """The steps of samples/step_*.png, oldest first; `load(step)` decodes one (None when it cannot)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir) / "samples"
        self._lock = threading.Lock()
        self._steps: list[int] = []
        self._names: dict[int, str] = {}
        self._key: int | None = None
        self._cache: OrderedDict[int, SampleFrame | None] = OrderedDict()

    def refresh(self) -> bool:
        """List samples/ again when it changed (one stat() otherwise); True when the listing moved.
        A symbolic link or a non-directory lists nothing."""
        try:
            st = os.stat(self.dir, follow_symlinks=False)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or st.st_mtime_ns == self._key:
            return False
        try:
            with os.scandir(self.dir) as it:
                names = {int(m[1]): e.name for e in it if (m := FRAME_NAME.match(e.name))}
        except OSError:
            return False
        with self._lock:
            self._key = st.st_mtime_ns
            changed = names != self._names
            self._names, self._steps = names, sorted(names)
            for step in [s for s in self._cache if s not in names]:
                del self._cache[step]
        return changed

    def steps(self) -> list[int]:
        """Every recorded step, oldest first (a copy)."""
        with self._lock:
            return list(self._steps)

    def steps_before(self, step: float) -> list[int]:
        """The recorded steps older than `step`, oldest first (listed again first if samples/ changed)."""
        self.refresh()
        with self._lock:
            return self._steps[: bisect_left(self._steps, step)]

    def is_cached(self, step: int) -> bool:
        """Whether `load(step)` answers from memory (no disk)."""
        with self._lock:
            return step in self._cache

    def load(self, step: int) -> SampleFrame | None:
        """The grid at `step`, decoded safely (links, non-files, bombs and broken files give None)."""
        with self._lock:
            if step in self._cache:
                self._cache.move_to_end(step)
                return self._cache[step]
            name = self._names.get(step)
        if name is None:
            return None
        try:
            frame: SampleFrame | None = SampleFrame(
                step, "images", grid_array(self.dir / name), note="recorded grid"
            )
        except Exception:  # Pillow on a crafted file: see RunDirReader's grid warnings
            frame = None
        with self._lock:
            self._cache[step] = frame
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return frame
