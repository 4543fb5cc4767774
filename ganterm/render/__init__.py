"""Pure numpy + Rich + plotext renderers, usable and testable without Textual.

- `HalfBlockImage`: a Rich renderable for uint8 images (two pixels per cell with "▀").
- `tile`, `fit_grid`, `to_uint8_images`: sample mosaics sized to a widget.
- `render_line_chart`, `render_scatter`: ANSI strings from plotext, after numpy downsampling.
- `detect_color_system`, `supports_unicode`: what the terminal can show, from the environment only.
"""

from ganterm.render.chart import ChartSeries, ema, render_line_chart, render_scatter, symlog
from ganterm.render.grid import fit_grid, tile, to_uint8_images
from ganterm.render.halfblock import HalfBlockImage
from ganterm.render.terminal import detect_color_system, supports_unicode

__all__ = [
    "ChartSeries",
    "HalfBlockImage",
    "detect_color_system",
    "ema",
    "fit_grid",
    "render_line_chart",
    "render_scatter",
    "supports_unicode",
    "symlog",
    "tile",
    "to_uint8_images",
]
