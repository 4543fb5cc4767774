"""The sample panel: the fixed-noise grid in half-block cells, or real vs generated points for 2-D data.

A terminal cell is one pixel wide and two tall, so an 80x24 terminal has room for about one 28x28 image at
full size. When full size shows fewer than MIN_SHOWN images, the images are shrunk (area averaging, down
to MIN_SIDE pixels) until that many fit: a grid of small samples says more about mode collapse than one
large sample does.
"""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.text import Text

from ganterm.gan.feed import SampleFrame
from ganterm.render import chart, grid
from ganterm.render.ansi import AnsiLines
from ganterm.render.halfblock import HalfBlockImage
from ganterm.render.terminal import ascii_only
from ganterm.tui.widgets.cached_lines import CachedLinesWidget

MIN_WIDTH, MIN_HEIGHT = 8, 3
MIN_SHOWN = 6  # 3x2 of ~11 px at 80x24: enough to see variety, large enough to read
MIN_SIDE = 8


def _area_weights(src: int, dst: int) -> np.ndarray:
    """(dst, src) matrix: row i averages the source pixels under output pixel i, by overlap."""
    edges = np.linspace(0.0, src, dst + 1)
    k = np.arange(src)
    overlap = np.minimum(edges[1:, None], k[None] + 1) - np.maximum(edges[:-1, None], k[None])
    return np.clip(overlap, 0.0, None) * (dst / src)


def area_resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, height, width, C) uint8 by area averaging (for shrinking)."""
    h, w = images.shape[1:3]
    if (h, w) == (height, width):
        return images
    x = np.einsum("ih,nhwc->niwc", _area_weights(h, height).astype(np.float32), images.astype(np.float32))
    x = np.einsum("jw,niwc->nijc", _area_weights(w, width).astype(np.float32), x)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def choose_layout(n: int, h: int, w: int, cells_w: int, cells_h: int) -> tuple[int, int, int, int, int]:
    """(img_h, img_w, cols, rows, scale): full size if that shows enough images, else the largest
    shrink that does; cols == 0 when not even a MIN_SIDE image fits.
    """
    want = min(n, MIN_SHOWN)
    cols, rows, scale = grid.fit_grid(n, h, w, cells_w, cells_h)
    best = (min(n, cols * rows), h, w, cols, rows, scale)
    if best[0] >= want:
        return best[1:]
    longest = max(h, w)
    for side in range(longest - 1, MIN_SIDE - 1, -1):
        th, tw = max(1, round(h * side / longest)), max(1, round(w * side / longest))
        cols, rows, scale = grid.fit_grid(n, th, tw, cells_w, cells_h)
        shown = min(n, cols * rows)
        if shown >= want:
            return th, tw, cols, rows, scale
        if shown > best[0]:
            best = (shown, th, tw, cols, rows, scale)
    return best[1:]


class SamplePanel(CachedLinesWidget):
    """Shows one SampleFrame fitted to the widget; the fitted image is cached per (frame, size)."""

    DEFAULT_CSS = """
    SamplePanel {
        height: 1fr;
        border-top: round $panel-lighten-2;
        border-title-color: $text-muted;
        content-align: center middle;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.frame: SampleFrame | None = None
        self.caption = "samples"
        self.cols_hint: int | None = None
        self.color_system: str | None = "truecolor"
        self.renders = 0
        self.layout_used: tuple[int, int, int, int, int] | None = None  # (img_h, img_w, cols, rows, scale)
        self._key: tuple | None = None
        self._renderable: RenderableType = Text("")
        self.border_title = self.caption

    def show(
        self,
        frame: SampleFrame | None,
        caption: str,
        *,
        cols_hint: int | None = None,
        color_system: str | None = None,
    ) -> None:
        """`cols_hint`: keep rows of this many images together (an interpolation strip)."""
        self.frame, self.caption, self.cols_hint = frame, caption, cols_hint
        if color_system is not None:
            self.color_system = color_system
        self.border_title = caption
        if self._cache_key() != self._key:
            self.refresh()

    def _cache_key(self) -> tuple:
        size = self.content_size
        return (size.width, size.height, id(self.frame), self.cols_hint, self.color_system)

    def render(self) -> RenderableType:
        key = self._cache_key()
        if key != self._key:
            self._renderable = self._draw(key[0], key[1])
            self._key = key
        return self._renderable

    def _draw(self, width: int, height: int) -> RenderableType:
        frame = self.frame
        if frame is None:
            return Text("waiting for samples…", "dim")
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return Text("(enlarge)", "dim")
        self.renders += 1
        if frame.kind == "points":
            real = frame.real if frame.real is not None else frame.data[:0]
            ansi = chart.render_scatter(
                real,
                frame.data,
                width,
                height,
                colors=self.color_system != "none",
                ascii_only=ascii_only(self.app.console),
            )
            return AnsiLines(ansi)
        images = frame.data
        img_h, img_w, cols, rows, scale = choose_layout(len(images), *images.shape[1:3], width, height)
        if cols == 0:
            return Text("(enlarge)", "dim")
        if self.cols_hint and cols >= self.cols_hint:
            cols -= cols % self.cols_hint  # whole strips per row, so each row reads left to right
        self.layout_used = (img_h, img_w, cols, rows, scale)
        shown = area_resize(images[: cols * rows], img_h, img_w)
        tiled = grid.tile(shown, cols, rows, pad=1, scale=scale)
        return HalfBlockImage(tiled, color_system=self.color_system)
