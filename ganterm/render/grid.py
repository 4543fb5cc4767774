"""Sample grids: pick how many images fit a widget, then tile them into one uint8 mosaic.

A terminal cell shows one pixel across and two down (see halfblock.py), so a widget of `cells_w` x `cells_h`
cells holds `cells_w` x `2 * cells_h` pixels. Padding sits between images only, never around the mosaic.
"""

from __future__ import annotations

import numpy as np


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
    n: int, img_h: int, img_w: int, cells_w: int, cells_h: int, pad: int = 1
) -> tuple[int, int, int]:
    """(cols, rows, scale) of the mosaic to show in a widget of cells_w x cells_h terminal cells.

    The mosaic is never wider than cells_w pixels nor taller than 2 * cells_h. It shows as many of the n
    images as fit, then uses the largest integer scale that still shows that many; among layouts with equal
    count and scale it leaves the fewest empty slots, then is the squarest. (0, 0, 0) when nothing fits.
    """
    max_w, max_h = cells_w, 2 * cells_h
    best: tuple[int, int] = (0, 0)  # (shown, scale)
    scale = 1
    while n > 0 and img_w * scale <= max_w and img_h * scale <= max_h:
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
