"""tile, fit_grid and to_uint8_images."""

from __future__ import annotations

import numpy as np
import pytest

from ganterm.render.grid import fit_grid, mosaic_size, tile, to_uint8_images


def numbered(n: int, h: int = 2, w: int = 3, c: int = 1) -> np.ndarray:
    """Image i is filled with i + 1, so the mosaic shows where each one landed."""
    return np.broadcast_to(np.arange(1, n + 1, dtype=np.uint8)[:, None, None, None], (n, h, w, c)).copy()


def test_tile_layout_padding_and_blank_slots():
    mosaic = tile(numbered(5), cols=3, rows=2, pad=1, pad_value=0)
    assert mosaic.shape == (2 * 2 + 1, 3 * 3 + 2, 1) == (*mosaic_size(3, 2, 2, 3), 1)
    grid = mosaic[..., 0]
    assert grid[0].tolist() == [1, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3]
    assert grid[2].tolist() == [0] * 11  # the padding row
    assert grid[3].tolist() == [4, 4, 4, 0, 5, 5, 5, 0, 0, 0, 0]  # slot 6 stays blank


def test_tile_takes_the_first_images_and_scales_by_repeat():
    imgs = numbered(10, h=1, w=1, c=3)
    imgs[0, 0, 0] = (7, 8, 9)
    mosaic = tile(imgs, cols=2, rows=1, pad=0, scale=3)
    assert mosaic.shape == (3, 6, 3)
    assert (mosaic[:, :3] == (7, 8, 9)).all() and (mosaic[:, 3:] == 2).all()


def test_tile_accepts_channelless_images_and_pad_value():
    mosaic = tile(np.zeros((1, 2, 2), np.uint8), cols=2, rows=1, pad=2, pad_value=255)
    assert mosaic.shape == (2, 6, 1)
    assert mosaic[..., 0].tolist() == [[0, 0, 255, 255, 255, 255]] * 2


def test_tile_refuses_bad_arguments():
    with pytest.raises(ValueError):
        tile(np.zeros((2, 2), np.uint8), 1, 1)
    with pytest.raises(ValueError):
        tile(numbered(1), 0, 1)


@pytest.mark.parametrize(
    ("n", "img", "cells", "expected"),
    [
        (64, (28, 28), (20, 5), (0, 0, 0)),  # too narrow for one digit
        (64, (28, 28), (28, 14), (1, 1, 1)),  # exactly one
        (64, (28, 28), (160, 50), (5, 3, 1)),  # 100 px tall: 3 rows of 29
        (1, (28, 28), (160, 50), (1, 1, 3)),  # one image, as large as fits: 84 <= 100
        (64, (32, 32), (80, 24), (2, 1, 1)),  # 48 px tall: one row of two
        (0, (28, 28), (160, 50), (0, 0, 0)),
        (9, (2, 2), (20, 5), (3, 3, 1)),  # 9 tiny images: a square 3x3
    ],
)
def test_fit_grid_cases(n, img, cells, expected):
    assert fit_grid(n, *img, *cells) == expected


def test_fit_grid_four_images_prefers_count_then_scale():
    # 4 fit at scale 1 (5x3 slots); at scale 2 only 2x1 fit. Count wins, then the squarest layout.
    assert fit_grid(4, 28, 28, 160, 50) == (2, 2, 1)


@pytest.mark.parametrize("cells", [(20, 5), (40, 12), (80, 24), (120, 30), (160, 50), (300, 80)])
@pytest.mark.parametrize("n", [1, 7, 16, 64])
def test_fit_grid_always_fits_and_maximises(n, cells):
    cols, rows, scale = fit_grid(n, 28, 28, *cells)
    if scale == 0:
        assert cells[0] < 28 or 2 * cells[1] < 28
        return
    h, w = mosaic_size(cols, rows, 28, 28, 1, scale)
    assert w <= cells[0] and h <= 2 * cells[1]
    assert (cols - 1) * rows < n and cols * (rows - 1) < n  # no empty column or row
    shown = min(n, cols * rows)

    def capacity(s: int) -> int:
        return ((cells[0] + 1) // (28 * s + 1)) * ((2 * cells[1] + 1) // (28 * s + 1))

    assert shown == min(n, capacity(1))  # as many images as fit at all
    assert min(n, capacity(scale + 1)) < shown  # one scale up would show fewer


def test_to_uint8_images():
    x = np.array([-1.0, 0.0, 1.0, 2.0, -3.0, 0.5], np.float32).reshape(1, 1, 2, 3)
    out = to_uint8_images(x)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3, 1)
    assert out[0, :, :, 0].tolist() == [[0, 128, 255], [255, 0, 191]]
    rgb = to_uint8_images(np.stack([np.full((2, 2), v) for v in (-1.0, 0.0, 1.0)])[None])
    assert rgb[0, 0, 0].tolist() == [0, 128, 255]
    with pytest.raises(ValueError):
        to_uint8_images(np.zeros((2, 2)))
