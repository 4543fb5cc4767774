"""Reading a run directory that may come from anyone: regular files only, bounded sizes, Pillow's limits.

`ganterm view RUN`, `view A B`, `export RUN` and the system pane read through these, so a hostile
directory costs a warning instead of a hang (a FIFO named metrics.jsonl), a read outside the run (a
symlinked sample), an out-of-memory (a 100 MB line, a decompression bomb) or a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np

MAX_LINE = 1 << 20  # bytes: no record ganterm writes comes near; a longer line is skipped unread
MAX_CONFIG = 8 << 20  # bytes of config.json
CHUNK = 4 << 20  # bytes read at a time from a growing log
# Pixels of a sample grid: Pillow's own decompression-bomb limit, and no grid ganterm writes comes near
# 4096x4096 (64 images of 64x64 are 530x530), which the sample panel would then have to pool.
MAX_GRID_PIXELS = 4096 * 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_regular(path: str | Path) -> IO[bytes]:
    """`path` opened for reading only if it is a regular file and not a symbolic link (OSError else):
    never a FIFO that blocks, a device that never ends, a directory, or a link out of the run."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a link
            raise OSError(errno.ELOOP, "a symbolic link (not followed)", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json_object(path: str | Path, limit: int = MAX_CONFIG) -> dict[str, Any]:
    """A JSON object from a file; ValueError saying what is wrong (too big, not UTF-8 JSON, not an
    object), OSError when it cannot be opened."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit >> 20} MB")
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(obj, dict):
        raise ValueError(f"not a JSON object (a {type(obj).__name__})")
    return obj


class LineSplitter:
    """Complete lines out of chunks of bytes; a line longer than `limit` is dropped whole (counted in
    `too_long`) without ever being held, so a 100 MB line costs one chunk of memory."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.partial = b""
        self.skipping = False  # inside an over-long line: drop bytes up to its newline
        self.too_long = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            if self.skipping:
                self.skipping = False
            elif len(self.partial) + nl - start <= self.limit:
                out.append(self.partial + chunk[start:nl])
            else:
                self.too_long += 1
            self.partial, start = b"", nl + 1
        if not self.skipping:
            self.partial += chunk[start:]
            if len(self.partial) > self.limit:
                self.partial, self.skipping = b"", True
                self.too_long += 1
        return out

    def rest(self) -> bytes:
        """The bytes after the last newline (a line still being written, or a last line without one)."""
        return b"" if self.skipping else self.partial


def parse_record(line: bytes) -> dict[str, Any] | None:
    """One JSON-lines record: a JSON object, or None for anything else (torn, non-UTF-8, a list...)."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def png_size(head: bytes) -> tuple[int, int]:
    """Width and height from a PNG's first 24 bytes (its IHDR), before Pillow decodes anything."""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", head[16:24])


def load_grid(path: str | Path, max_pixels: int = MAX_GRID_PIXELS) -> Any:
    """A recorded sample grid as a decoded Pillow image (L or RGB), the file closed; ValueError or
    OSError for a link, an empty or truncated file, something that is not a PNG, or more pixels than
    `max_pixels` or Pillow's MAX_IMAGE_PIXELS (checked on the header, before any decoding)."""
    from PIL import Image  # ~40 ms, only when there are grids to read

    with open_regular(path) as fh:
        w, h = png_size(fh.read(24))
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        if w * h > limit:
            raise ValueError(f"{w}x{h} pixels, over the {limit:,}-pixel limit (a decompression bomb?)")
        fh.seek(0)
        with Image.open(fh, formats=["PNG"]) as im:
            im.load()  # a truncated file raises here
            return im.convert("L" if im.mode in ("1", "L", "I", "P") else "RGB")


def grid_array(path: str | Path) -> np.ndarray:
    """A recorded grid as a (1, H, W, C) uint8 frame for the sample panel (C 1 for grey, else 3)."""
    arr = np.asarray(load_grid(path))
    return arr[None, :, :, None] if arr.ndim == 2 else arr[None]
