"""Images as terminal text: a cell shows two stacked pixels with "▀" (foreground top, background bottom).

`HalfBlockImage` is a plain Rich renderable, shaped like rich's `bar.py`: the constructor stores,
`__rich_console__` yields Segments, `__rich_measure__` reports the width. All per-pixel work is numpy;
Python only touches one object per run of equal cells. A frame must cost a few ms even for noise (early
GAN samples are noise), so:

- colours become small integer palette indices (grey value, xterm-256 index, ANSI-16 index) and a cell is the
  integer key `top * (P + 1) + bottom`, index P meaning "terminal background" (the pad row of an odd height);
- consecutive equal keys on a row merge into one Segment;
- a process-wide lookup table maps a key to its Style and to its ready-made one-cell Segment, so a noisy frame
  is one numpy `take` instead of 27 000 Segment constructions. Rich's Styles and Segments are immutable,
  which makes sharing them safe. Full-RGB images (key space 2**48) use a bounded dict instead.

The caches are not locked: render from one thread (Textual renders on its main thread).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from itertools import repeat

import numpy as np
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from ganterm.render.terminal import supports_unicode

HALF_BLOCK = "▀"
SHADE_RAMP = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"
COLOR_SYSTEMS = ("truecolor", "256", "16", "none")

# Rich's names for its console colour systems, mapped onto ours.
_RICH_SYSTEMS = {"truecolor": "truecolor", "256": "256", "standard": "16", "windows": "16"}

# xterm's defaults for the 16 ANSI colours: the nearest-colour search needs some RGB for them.
ANSI16_RGB = np.array(
    [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
        (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
        (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ],
    np.int32,
)  # fmt: skip
_CUBE_LEVELS = np.array([0, 95, 135, 175, 215, 255], np.int32)
# Segment is a NamedTuple: building it through the C-level tuple constructor avoids a Python frame per run.
_make_segment = functools.partial(tuple.__new__, Segment)
_NEWLINE = Segment.line()
_NEWLINE_SCALAR = np.empty((), object)  # a 0-d holder, so numpy broadcasts the Segment instead of its fields
_NEWLINE_SCALAR[()] = _NEWLINE


# -- colour quantisation (vectorised) -------------------------------------------------------------
def quantize_256(rgb: np.ndarray) -> np.ndarray:
    """xterm-256 index (16..255) of each (..., 3) uint8 colour: the nearer of 6x6x6 cube and grey ramp."""
    c = rgb.astype(np.int32)
    # nearest cube level per channel: levels are not evenly spaced, so search between midpoints
    level = np.searchsorted((_CUBE_LEVELS[1:] + _CUBE_LEVELS[:-1]) / 2, c)
    cube = _CUBE_LEVELS[level]
    cube_idx = 16 + 36 * level[..., 0] + 6 * level[..., 1] + level[..., 2]
    grey_step = np.clip(np.rint((c.sum(-1) / 3 - 8) / 10), 0, 23).astype(np.int32)
    grey = (8 + 10 * grey_step)[..., None]
    use_grey = ((c - grey) ** 2).sum(-1) < ((c - cube) ** 2).sum(-1)
    return np.where(use_grey, 232 + grey_step, cube_idx)


def quantize_16(rgb: np.ndarray) -> np.ndarray:
    """ANSI-16 index (0..15) of each (..., 3) uint8 colour: the nearest of xterm's defaults."""
    c = rgb.astype(np.int32)[..., None, :]
    return ((c - ANSI16_RGB) ** 2).sum(-1).argmin(-1)


def _rgb_256(index: int) -> tuple[int, int, int]:
    if index < 16:
        return tuple(int(v) for v in ANSI16_RGB[index])
    if index >= 232:
        v = 8 + 10 * (index - 232)
        return v, v, v
    i = index - 16
    return int(_CUBE_LEVELS[i // 36]), int(_CUBE_LEVELS[i // 6 % 6]), int(_CUBE_LEVELS[i % 6])


# Grey images skip per-pixel quantisation: one 256-entry table per colour system.
_GREY_LUT = {
    "truecolor": np.arange(256, dtype=np.int64),
    "256": quantize_256(np.repeat(np.arange(256)[:, None], 3, 1)).astype(np.int64),
    "16": quantize_16(np.repeat(np.arange(256)[:, None], 3, 1)).astype(np.int64),
}


# -- style/segment caches -----------------------------------------------------------------------
class _PaletteCache:
    """Style and one-cell Segment for every (top, bottom) pair of a small palette, filled on first use."""

    def __init__(self, colors: list[Color]) -> None:
        self.size = size = len(colors)
        self._colors = [*colors, None]  # index `size`: no colour, the terminal's own background
        n = size * (size + 1)
        self.known = np.zeros(n, bool)
        self.styles = np.empty(n, object)
        self.cells = np.empty(n, object)

    def fill(self, keys: np.ndarray) -> None:
        missing = np.unique(keys[~self.known[keys]])
        for key in missing.tolist():
            top, bottom = divmod(key, self.size + 1)
            style = Style.from_color(self._colors[top], self._colors[bottom])
            self.styles[key] = style
            self.cells[key] = Segment(HALF_BLOCK, style)
        self.known[missing] = True


class _RGBCache:
    """The same for 24-bit colour pairs, in a dict cleared when it grows past `limit` entries."""

    DEFAULT = 1 << 24

    def __init__(self, limit: int = 1 << 17) -> None:
        self.limit = limit
        self.entries: dict[int, tuple[Style, Segment]] = {}

    def lookup(self, keys: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        if len(self.entries) > self.limit:
            self.entries.clear()
        styles, cells = [], []
        for key in keys:
            entry = self.entries.get(key)
            if entry is None:
                top, bottom = divmod(key, self.DEFAULT + 1)
                style = Style.from_color(
                    _rgb_color(top), None if bottom == self.DEFAULT else _rgb_color(bottom)
                )
                entry = self.entries[key] = (style, Segment(HALF_BLOCK, style))
            styles.append(entry[0])
            cells.append(entry[1])
        return _objects(styles), _objects(cells)


def _rgb_color(code: int) -> Color:
    return Color.from_rgb(code >> 16, (code >> 8) & 255, code & 255)


def _objects(items: list) -> np.ndarray:
    # fromiter keeps tuples (Segments) whole where np.array would unpack them
    return np.fromiter(items, dtype=object, count=len(items))


_CACHES = {
    "truecolor": _PaletteCache([Color.from_rgb(v, v, v) for v in range(256)]),
    "256": _PaletteCache([Color.from_ansi(i) for i in range(256)]),
    "16": _PaletteCache([Color.from_ansi(i) for i in range(16)]),
}
_RGB_CACHE = _RGBCache()


@functools.lru_cache(maxsize=16)
def _run_texts(width: int) -> np.ndarray:
    return _objects([HALF_BLOCK * k for k in range(width + 1)])


# -- the renderable -------------------------------------------------------------------------------
class HalfBlockImage:
    """A uint8 image as a Rich renderable, two pixel rows per terminal row.

    Args:
        pixels: (H, W), (H, W, 1) or (H, W, 3) uint8. An odd H leaves the last row's lower half in the
            terminal's background colour.
        color_system: "truecolor", "256", "16" or "none" (a shade ramp " ░▒▓█" of luminance, no colour);
            Rich's "standard"/"windows" mean "16"; None takes the console's (a console with NO_COLOR set,
            or no colour, gives "none").
        ascii_fallback: True draws an ASCII ramp " .:-=+*#%@" of luminance; None does so only when the console
            is ASCII-only or its encoding cannot encode "▀"; False never does.

    The rendered width is W cells and the height ceil(H / 2) lines, each ending in a newline; columns beyond
    the console's max width are cropped rather than wrapped.
    """

    def __init__(
        self, pixels: np.ndarray, *, color_system: str | None = None, ascii_fallback: bool | None = None
    ) -> None:
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8:
            raise TypeError(f"HalfBlockImage needs uint8 pixels, got {pixels.dtype}")
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
            raise ValueError(
                f"HalfBlockImage needs (H, W), (H, W, 1) or (H, W, 3) pixels, got {pixels.shape}"
            )
        color_system = _RICH_SYSTEMS.get(color_system, color_system)  # accept Rich's names too
        if color_system is not None and color_system not in COLOR_SYSTEMS:
            raise ValueError(f"color_system must be one of {COLOR_SYSTEMS}, got {color_system!r}")
        self.pixels = pixels
        self.color_system = color_system
        self.ascii_fallback = ascii_fallback

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        """Terminal rows: two pixel rows each."""
        return (self.pixels.shape[0] + 1) // 2

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        pixels = self.pixels[:, : max(0, options.max_width)]
        if pixels.size == 0:
            return
        ascii_only = self.ascii_fallback
        if ascii_only is None:
            ascii_only = options.ascii_only or not supports_unicode(options.encoding)
        system = self.color_system or _console_system(console)
        if ascii_only:
            yield from ramp_segments(pixels, ASCII_RAMP)
        elif system == "none":
            yield from ramp_segments(pixels, SHADE_RAMP)
        else:
            yield from halfblock_segments(pixels, system)


def _console_system(console: Console) -> str:
    if console.no_color or console.color_system is None:
        return "none"
    return _RICH_SYSTEMS.get(console.color_system, "16")


def _is_grey(pixels: np.ndarray) -> bool:
    return pixels.ndim == 2 or (
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    )


def _pair_keys(pixels: np.ndarray, system: str) -> tuple[np.ndarray, int]:
    """Per-cell (rows, W) int64 keys top * (P + 1) + bottom, and the palette size P."""
    if _is_grey(pixels):
        index = _GREY_LUT[system][pixels if pixels.ndim == 2 else pixels[..., 0]]
        size = _CACHES[system].size
    elif system == "truecolor":
        c = pixels.astype(np.int64)
        index = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
        size = _RGBCache.DEFAULT
    else:
        index = (quantize_256 if system == "256" else quantize_16)(pixels).astype(np.int64)
        size = _CACHES[system].size
    top = index[0::2]
    bottom = np.full_like(top, size)  # an odd height's pad row shows the terminal background
    bottom[: index.shape[0] // 2] = index[1::2]
    return top * (size + 1) + bottom, size


def halfblock_segments(pixels: np.ndarray, system: str) -> list[Segment]:
    """Segments of a (H, W[, 3]) uint8 image in "truecolor", "256" or "16": merged runs, newline per row."""
    keys, size = _pair_keys(pixels, system)
    rows, width = keys.shape
    flat = keys.ravel()
    # a run starts at every row start and wherever the key changes
    change = np.empty(flat.size, bool)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    change[::width] = True
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=flat.size)
    run_keys = flat[starts]

    if size == _RGBCache.DEFAULT:
        unique, inverse = np.unique(run_keys, return_inverse=True)
        styles, cells = _RGB_CACHE.lookup(unique.tolist())
        styles, cells = styles[inverse], cells[inverse]
    else:
        cache = _CACHES[system]
        cache.fill(run_keys)
        styles, cells = cache.styles[run_keys], cache.cells[run_keys]

    # one-cell runs reuse the cached Segment; only longer runs are built here
    long = np.flatnonzero(lengths > 1)
    if long.size:
        texts = _run_texts(width)[lengths[long]]
        cells[long] = _objects(list(map(_make_segment, zip(texts, styles[long], repeat(None)))))

    # interleave a newline after each row's last run
    out = np.empty(len(starts) + rows, object)
    slots = np.arange(len(starts)) + starts // width
    out[slots] = cells
    newline = np.ones(len(out), bool)
    newline[slots] = False
    out[newline] = _NEWLINE_SCALAR
    return out.tolist()


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma, 0..255 float, of (H, W) grey or (H, W, 3) RGB uint8 pixels."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def ramp_segments(pixels: np.ndarray, ramp: str) -> list[Segment]:
    """Unstyled Segments: one ramp character per cell from the mean luminance of its two pixels."""
    lum = luminance(pixels)
    height = lum.shape[0]
    top = lum[0::2]
    cell = top.copy()
    cell[: height // 2] = (top[: height // 2] + lum[1::2]) / 2  # the pad row has only its top pixel
    index = np.minimum((cell * len(ramp) / 256).astype(np.int64), len(ramp) - 1)
    chars = np.array(list(ramp), dtype=object)[index]
    segments = []
    for row in chars:
        segments.append(Segment("".join(row.tolist())))
        segments.append(_NEWLINE)
    return segments
