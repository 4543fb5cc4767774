"""Sample grids: pick how many images fit a widget, then tile them into one uint8 mosaic.

A terminal cell shows one pixel across and two down (see halfblock.py), so a widget of `cells_w` x `cells_h`
cells holds `cells_w` x `2 * cells_h` pixels. Padding sits between images only, never around the mosaic.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np

# How densely the sample panel packs a frame; `d` cycles them in this order and the first is the default.
Density = Literal["pooled", "full", "single"]
DENSITIES: tuple[Density, ...] = ("pooled", "full", "single")
DENSE_TARGET = 16  # the pooled level pools more than 2x2 only when 2x2 shows fewer than this (or than all)
MIN_POOLED_SIDE = 7  # 28x28 pooled 4x4: smaller and a digit stops being a digit


def to_uint8_images(x: np.ndarray) -> np.ndarray:
    """Generator output, float in [-1, 1] shaped (N, C, H, W), as uint8 (N, H, W, C); values outside clip."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"to_uint8_images needs (N, C, H, W), got shape {x.shape}")
    scaled = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(scaled.transpose(0, 2, 3, 1))


def mosaic_size(
    cols: int, rows: int, img_h: int, img_w: int, pad: int = 1, scale: int = 1
) -> tuple[int, int]:
    """(height, width) in pixels of the mosaic that `tile` builds for these arguments."""
    if cols <= 0 or rows <= 0:
        return 0, 0
    return rows * img_h * scale + (rows - 1) * pad, cols * img_w * scale + (cols - 1) * pad


def tile(
    images: np.ndarray, cols: int, rows: int, pad: int = 1, scale: int = 1, pad_value: int = 0
) -> np.ndarray:
    """The first cols*rows of (N, H, W, C) (or (N, H, W)) uint8 images as one (H', W', C) mosaic, row by row.

    Slots past N stay `pad_value`; `scale` repeats every pixel scale x scale times (nearest neighbour).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"tile needs (N, H, W, C) images, got shape {images.shape}")
    if cols < 1 or rows < 1 or scale < 1 or pad < 0:
        raise ValueError(
            f"tile needs cols, rows, scale >= 1 and pad >= 0, got {cols}, {rows}, {scale}, {pad}"
        )
    _, h, w, c = images.shape
    shown = images[: cols * rows]
    if scale > 1:
        shown = shown.repeat(scale, axis=1).repeat(scale, axis=2)
    sh, sw = h * scale, w * scale
    # lay slots out as (rows, cols, slot_h, slot_w, C) with the padding inside each slot, then flatten
    slots = np.full((rows * cols, sh + pad, sw + pad, c), pad_value, dtype=images.dtype)
    slots[: len(shown), :sh, :sw] = shown
    mosaic = slots.reshape(rows, cols, sh + pad, sw + pad, c).transpose(0, 2, 1, 3, 4)
    mosaic = mosaic.reshape(rows * (sh + pad), cols * (sw + pad), c)
    return mosaic[: mosaic.shape[0] - pad, : mosaic.shape[1] - pad]


def fit_grid(
    n: int,
    img_h: int,
    img_w: int,
    cells_w: int,
    cells_h: int,
    pad: int = 1,
    max_scale: int | None = None,
) -> tuple[int, int, int]:
    """(cols, rows, scale) of the mosaic to show in a widget of cells_w x cells_h terminal cells.

    The mosaic is never wider than cells_w pixels nor taller than 2 * cells_h. It shows as many of the n
    images as fit, then uses the largest integer scale (up to `max_scale`) that still shows that many; among
    layouts with equal count and scale it leaves the fewest empty slots, then is the squarest. (0, 0, 0)
    when nothing fits.
    """
    max_w, max_h = cells_w, 2 * cells_h
    best: tuple[int, int] = (0, 0)  # (shown, scale)
    scale = 1
    while (
        n > 0
        and img_w * scale <= max_w
        and img_h * scale <= max_h
        and (max_scale is None or scale <= max_scale)
    ):
        cols = (max_w + pad) // (img_w * scale + pad)
        rows = (max_h + pad) // (img_h * scale + pad)
        best = max(best, (min(n, cols * rows), scale))
        scale += 1
    shown, scale = best
    if shown == 0:
        return 0, 0, 0
    max_cols = (max_w + pad) // (img_w * scale + pad)
    max_rows = (max_h + pad) // (img_h * scale + pad)
    candidates = [
        (c * r - shown, abs(c * img_w - r * img_h), -c, c, r)
        for c in range(1, max_cols + 1)
        for r in range(1, max_rows + 1)
        if c * r >= shown and (c - 1) * r < shown and c * (r - 1) < shown
    ]
    *_, cols, rows = min(candidates)
    return cols, rows, scale


class GridLayout(NamedTuple):
    """How a frame is drawn: images resized to img_h x img_w, tiled cols x rows, each pixel shown scale x."""

    img_h: int
    img_w: int
    cols: int
    rows: int
    scale: int


NO_LAYOUT = GridLayout(0, 0, 0, 0, 0)


def next_density(density: Density) -> Density:
    return DENSITIES[(DENSITIES.index(density) + 1) % len(DENSITIES)]


def pooled_size(h: int, w: int, k: int) -> tuple[int, int]:
    """The size of an h x w image after k x k pooling (area averaging; a partial block counts by overlap)."""
    return max(1, round(h / k)), max(1, round(w / k))


def _pooled_layout(
    n: int, h: int, w: int, cells_w: int, cells_h: int, target: int, row_len: int | None
) -> GridLayout:
    """2x2 pooling, or the least pooling that shows `target` images (all of them if fewer), with whole rows
    of `row_len` when some pooling gives them; failing that, the pooling that shows the most, never below
    MIN_POOLED_SIDE. Images too small to pool stay 1:1."""
    want = min(n, target)
    factors = [k for k in range(2, min(h, w) // MIN_POOLED_SIDE + 1)] or [1]
    layouts = []
    for k in factors:
        ph, pw = pooled_size(h, w, k)
        cols, rows, _ = fit_grid(n, ph, pw, cells_w, cells_h, max_scale=1)
        layouts.append(GridLayout(ph, pw, cols, rows, 1))
    enough = [lay for lay in layouts if min(n, lay.cols * lay.rows) >= want]
    whole = [lay for lay in enough if row_len is None or lay.cols >= min(row_len, n)]
    if whole or enough:
        return (whole or enough)[0]
    return max(layouts, key=lambda lay: (min(n, lay.cols * lay.rows), -layouts.index(lay)))


def _single_layout(h: int, w: int, cells_w: int, cells_h: int) -> GridLayout:
    """One image as large as fits at an integer scale; shrunk (keeping its shape) if even 1:1 does not."""
    cols, _, scale = fit_grid(1, h, w, cells_w, cells_h)
    if cols:
        return GridLayout(h, w, 1, 1, scale)
    shrink = min(cells_w / w, 2 * cells_h / h)
    th, tw = math.floor(h * shrink), math.floor(w * shrink)
    return GridLayout(th, tw, 1, 1, 1) if th >= 1 and tw >= 1 else NO_LAYOUT


def density_layout(
    density: Density,
    n: int,
    h: int,
    w: int,
    cells_w: int,
    cells_h: int,
    target: int = DENSE_TARGET,
    row_len: int | None = None,
) -> GridLayout:
    """The layout of n images of h x w pixels at `density` in cells_w x cells_h cells (NO_LAYOUT: none fit).

    "full": as many as fit at one terminal pixel per image pixel; "pooled": the same after k x k pooling
    (28x28 shown as 14x14, so a 60x40 panel holds 4x5 = 20); "single": the first image, enlarged.
    `row_len`: the frame's rows mean something (a class, a sweep); pooling then prefers whole rows.
    """
    if n <= 0 or cells_w <= 0 or cells_h <= 0:
        return NO_LAYOUT
    if density == "single":
        return _single_layout(h, w, cells_w, cells_h)
    if density == "pooled":
        layout = _pooled_layout(n, h, w, cells_w, cells_h, target, row_len)
    else:
        cols, rows, _ = fit_grid(n, h, w, cells_w, cells_h, max_scale=1)
        layout = GridLayout(h, w, cols, rows, 1)
    return layout if layout.cols else NO_LAYOUT


def arrange(layout: GridLayout, n: int, row_len: int | None = None) -> tuple[GridLayout, np.ndarray]:
    """Which of n images go where: the layout trimmed to what is shown, and their indices row by row.

    Without `row_len` the first cols x rows images fill the grid. With it, a grid row holds whole rows of
    the frame (cols rounded down to a multiple), or, when a frame row is wider than the grid, its first
    `cols` images, so a grid row is still one class (one code value) and never wraps into the next.
    """
    cols, rows = layout.cols, layout.rows
    if cols == 0 or n == 0:
        return NO_LAYOUT, np.arange(0)
    if row_len and row_len > 1 and cols < row_len:
        frame_rows = min(rows, -(-n // row_len))
        index = np.arange(frame_rows)[:, None] * row_len + np.arange(cols)[None]
        index = index[index < n]
        return layout._replace(rows=frame_rows), index
    if row_len and cols >= row_len:
        cols -= cols % row_len
    shown = min(n, cols * rows)
    return layout._replace(cols=cols, rows=-(-shown // cols)), np.arange(shown)


def density_label(
    density: Density, layout: GridLayout, shown: int, n: int, h: int, *, short: bool = False
) -> str:
    """What the title says: `shown` of the frame's n images (h pixels tall), and at what density.

    `short` is the form for a narrow panel: "12/64 4x4" instead of "12 of 64, pooled 4x4".
    """
    if layout.cols == 0:
        return "too small"
    if density == "single":
        how = f"{layout.scale}x" if layout.scale > 1 else "1:1" if layout.img_h == h else "shrunk"
        how = how if short else f"one sample {how}"
    else:
        k = round(h / layout.img_h)
        how = "1:1" if k == 1 else f"{k}x{k}" if short else f"pooled {k}x{k}"
    return f"{shown}/{n} {how}" if short else f"{shown} of {n}, {how}"
