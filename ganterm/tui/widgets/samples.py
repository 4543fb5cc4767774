"""The sample panel: the fixed-noise grid in half-block cells, or real vs generated points for 2-D data.

A terminal cell is one pixel wide and two tall, so an 80x24 terminal has room for about one 28x28 image at
full size. The panel's density (`d` cycles it; see `grid.density_layout`) starts pooled: 2x2 area averaging
shows 16 digits at 140x45 where full size shows 4, and a grid of small samples says more about mode
collapse than one large sample does. "full" (1:1) and "single" (one sample enlarged) follow.
"""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.text import Text

from ganterm.channel.feed import SampleFrame
from ganterm.render import chart, grid
from ganterm.render.ansi import AnsiLines
from ganterm.render.grid import DENSITIES, NO_LAYOUT, Density, GridLayout
from ganterm.render.halfblock import HalfBlockImage
from ganterm.render.terminal import ascii_only
from ganterm.tui.widgets.cached_lines import CachedLinesWidget

MIN_WIDTH, MIN_HEIGHT = 8, 3
TITLE_MARGIN = 4  # the border's corners and the spaces around its title


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


class SamplePanel(CachedLinesWidget):
    """Shows one SampleFrame fitted to the widget at a density; the drawing is cached per (frame, size)."""

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
        self.density: Density = DENSITIES[0]
        self.renders = 0
        self.layout_used: GridLayout | None = None  # the last drawn images' layout (None: none drawn)
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
        density: Density | None = None,
    ) -> None:
        """`cols_hint`: keep rows of this many images together (an interpolation strip)."""
        self.frame, self.caption, self.cols_hint = frame, caption, cols_hint
        if color_system is not None:
            self.color_system = color_system
        if density is not None:
            self.density = density
        self._update_title()
        if self._cache_key() != self._key:
            self.refresh()

    def on_resize(self) -> None:
        self._update_title()  # how many fit changes with the size

    def fit(self, width: int, height: int) -> tuple[GridLayout, np.ndarray]:
        """The current image frame at this density in width x height cells: the layout and which images
        fill it, row by row (a frame with meaningful rows keeps one of its rows per grid row)."""
        frame = self.frame
        if frame is None or frame.kind != "images" or width < MIN_WIDTH or height < MIN_HEIGHT:
            return NO_LAYOUT, np.arange(0)
        n, h, w = frame.data.shape[:3]
        hint = self.cols_hint if self.density != "single" else None
        layout = grid.density_layout(self.density, n, h, w, width, height, row_len=hint)
        return grid.arrange(layout, n, hint)

    def _update_title(self) -> None:
        """The caption and, for images, how many are shown at which density (the title names the level).

        A narrow panel drops the caption's last parts (the note, the frame number) and then uses the
        short label, so the step and the density always show.
        """
        frame = self.frame
        title = self.caption
        if frame is not None and frame.kind == "images":
            size = self.content_size
            layout, index = self.fit(size.width, size.height)
            n, h = frame.data.shape[:2]
            labels = [
                grid.density_label(self.density, layout, len(index), n, h, short=short)
                for short in (False, True)
            ]
            parts = self.caption.split(" · ")
            heads = [" · ".join(parts[:k]) for k in range(len(parts), 0, -1)]
            room = self.size.width - TITLE_MARGIN
            options = [f"{head} · {label}" for head in heads for label in labels]
            title = next((t for t in options if len(t) <= room), options[-1])
        if title != self.border_title:
            # Text, not markup: a compare caption holds a run's folder name, which may hold "[/]"
            self.border_title = Text(title)

    def _cache_key(self) -> tuple:
        size = self.content_size
        density = self.density if self.frame is not None and self.frame.kind == "images" else None
        return (size.width, size.height, id(self.frame), self.cols_hint, self.color_system, density)

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
        layout, index = self.fit(width, height)
        if layout.cols == 0:
            return Text("(enlarge, or d for another density)", "dim")
        self.layout_used = layout
        shown = area_resize(frame.data[index], layout.img_h, layout.img_w)
        tiled = grid.tile(shown, layout.cols, layout.rows, pad=1, scale=layout.scale)
        return HalfBlockImage(tiled, color_system=self.color_system)
