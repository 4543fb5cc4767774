"""Widgets that hand Textual ready-made Strips, converted once per rendered frame.

Textual's default `render_line` turns the widget's renderable into Strips through its Visual pipeline
on every refresh. For the charts, the sample grid and the header that conversion cost more than drawing
them (measured at 160x50: about 55 % of the UI thread's time while training), and every millisecond on
the UI thread is GIL the trainer thread waits for. Here `render()` stays the one source of what is shown
(tests read it) and the Strips are rebuilt only when it returns a different object, or the size or
base style changes: Textual's Line API, as toolong uses it. The widget's base style is added to each
distinct segment style once per build (Rich's `Style.__add__` per segment was the next cost), and
`content-align` is honoured by padding, as Visual would.
"""

from __future__ import annotations

from itertools import islice

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class CachedLinesWidget(Widget):
    """Subclasses implement `render()`; return the same object while nothing changed to skip the work."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._strip_source: object = None
        self._strip_key: tuple[int, int, Style] | None = None
        self._strips: list[Strip] = []
        self._pass_style: Style | None = None
        self.strip_builds = 0  # how many times the renderable was converted (tests check the cache)

    def render(self) -> RenderableType:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def render_lines(self, crop: Region) -> list[Strip]:
        # One base style per pass: `rich_style` walks every ancestor's CSS and costs as much as a line.
        self._pass_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._pass_style = None

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        base = self._pass_style or self.rich_style
        source = self.render()
        key = (width, height, base)
        if source is not self._strip_source or key != self._strip_key:
            self._strips = self._to_strips(source, width, height, base)
            # Keeping the source alive also keeps its id from being reused by a new object.
            self._strip_source, self._strip_key = source, key
            self.strip_builds += 1
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

    def _to_strips(self, renderable: RenderableType, width: int, height: int, base: Style) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        console = self.app.console
        options = console.options.update(width=width, height=height, no_wrap=True)
        lines = list(islice(Segment.split_lines(console.render(renderable, options)), height))
        widths = [Segment.get_line_length(line) for line in lines]
        content_width = min(max(widths, default=0), width)
        h_align, v_align = self.styles.content_align_horizontal, self.styles.content_align_vertical
        left = {"center": (width - content_width) // 2, "right": width - content_width}.get(h_align, 0)
        top = {"middle": (height - len(lines)) // 2, "bottom": height - len(lines)}.get(v_align, 0)
        pad = [Segment(" " * left, base)] if left else []
        combined: dict[Style | None, Style] = {}
        strips = [Strip.blank(width, base)] * top
        for line, line_width in zip(lines, widths, strict=True):
            segments = list(pad)
            for text, style, control in line:
                full = combined.get(style)
                if full is None:
                    full = combined[style] = base + style if style else base
                segments.append(Segment(text, full, control))
            strips.append(Strip(segments, left + line_width).adjust_cell_length(width, base))
        return strips
