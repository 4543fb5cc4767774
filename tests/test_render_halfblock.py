"""HalfBlockImage: colours of a known pixel pair, run merging, odd heights, fallbacks, exact output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console
from rich.segment import Segment

from ganterm.render.halfblock import HalfBlockImage, quantize_16, quantize_256

RED, BLUE = (255, 0, 0), (0, 0, 255)


def console(color_system: str | None = "truecolor", width: int = 20, **kw) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=color_system, legacy_windows=False, **kw)


def segments(pixels: np.ndarray, **kw) -> list[Segment]:
    c = console(kw.pop("console_system", "truecolor"))
    return list(HalfBlockImage(pixels, **kw).__rich_console__(c, c.options))


def rendered(image: HalfBlockImage, c: Console) -> str:
    c.print(image)
    return c.file.getvalue()


def test_pixel_pair_truecolor():
    px = np.array([[RED], [BLUE]], np.uint8)  # (2, 1, 3): red on top, blue below
    first, newline = segments(px)
    assert first.text == "▀"
    assert first.style.color.triplet == RED and first.style.bgcolor.triplet == BLUE
    assert newline == Segment.line()
    assert rendered(HalfBlockImage(px), console()) == "\x1b[38;2;255;0;0;48;2;0;0;255m▀\x1b[0m\n"


def test_pixel_pair_256_and_16():
    px = np.array([[RED], [BLUE]], np.uint8)
    cell = segments(px, color_system="256")[0]
    assert (cell.style.color.number, cell.style.bgcolor.number) == (196, 21)
    cell = segments(px, color_system="16")[0]
    assert (cell.style.color.number, cell.style.bgcolor.number) == (9, 4)  # xterm's blue is (0, 0, 238)
    assert rendered(HalfBlockImage(px, color_system="256"), console()) == "\x1b[38;5;196;48;5;21m▀\x1b[0m\n"


def test_quantize_256_cube_and_grey():
    colors = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [95, 135, 175], [8, 8, 8], [128, 128, 128]])
    assert quantize_256(colors).tolist() == [16, 231, 196, 16 + 36 * 1 + 6 * 2 + 3, 232, 244]


def test_grey_images_use_the_grey_ramp_where_nearer():
    grey = np.arange(256, dtype=np.uint8).reshape(2, 128)
    numbers = {s.style.color.number for s in segments(grey, color_system="256") if s.style}
    assert numbers & set(range(232, 256))
    assert quantize_256(np.array([[100, 100, 100]]))[0] == 232 + 9  # 98 is nearer than the cube's 95


def test_quantize_16_nearest():
    colors = np.array([[250, 5, 5], [0, 0, 0], [240, 240, 240], [250, 250, 250], [120, 130, 125]])
    assert quantize_16(colors).tolist() == [9, 0, 7, 15, 8]


def test_equal_cells_merge_into_one_segment_per_run():
    px = np.zeros((2, 6), np.uint8)
    px[:, 4:] = 200
    cells = segments(px)
    assert [s.text for s in cells] == ["▀▀▀▀", "▀▀", "\n"]
    assert [s.style.color.triplet for s in cells[:2]] == [(0, 0, 0), (200, 200, 200)]


def test_noise_gives_one_segment_per_cell_and_rows_end_in_newlines():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, (6, 9), dtype=np.uint8)
    px[:, 1::2] = px[:, 0:-1:2] ^ 1  # neighbours always differ
    cells = segments(px)
    assert len(cells) == 3 * 9 + 3
    assert [i for i, s in enumerate(cells) if s.text == "\n"] == [9, 19, 29]
    top, bottom = px[2, 4], px[3, 4]
    assert cells[10 + 4].style.color.triplet == (top,) * 3
    assert cells[10 + 4].style.bgcolor.triplet == (bottom,) * 3


def test_runs_do_not_cross_rows():
    cells = segments(np.zeros((4, 3), np.uint8))
    assert [s.text for s in cells] == ["▀▀▀", "\n", "▀▀▀", "\n"]


def test_odd_height_pads_with_the_terminal_background():
    px = np.array([[RED], [BLUE], [RED]], np.uint8)
    cells = segments(px)
    assert cells[2].style.color.triplet == RED and cells[2].style.bgcolor is None
    assert HalfBlockImage(px).height == 2
    out = rendered(HalfBlockImage(px), console())
    assert out.endswith("\x1b[38;2;255;0;0m▀\x1b[0m\n")


def test_rgb_and_grey_agree_on_grey_content():
    grey = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    assert segments(grey) == segments(np.repeat(grey[..., None], 3, axis=2))
    assert segments(grey) == segments(grey[..., None])


def test_full_rgb_colours():
    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    cells = [s for s in segments(px) if s.text != "\n"]
    assert sum(len(s.text) for s in cells) == 10
    assert cells[0].style.color.triplet == tuple(px[0, 0]) and cells[0].style.bgcolor.triplet == tuple(
        px[1, 0]
    )


def test_no_color_uses_the_shade_ramp():
    px = np.array([[0, 255, 255, 128], [0, 255, 0, 128]], np.uint8)
    # black, white, the mean of 255 and 0, grey 128: " ░▒▓█" has 5 steps of 51.2
    assert rendered(HalfBlockImage(px, color_system="none"), console()) == " █▒▒\n"
    assert rendered(HalfBlockImage(px), console(None)) == " █▒▒\n"
    assert rendered(HalfBlockImage(px), console(no_color=True)) == " █▒▒\n"


def test_ascii_fallback_forced_and_from_encoding():
    px = np.array([[0, 255, 100], [0, 255, 100]], np.uint8)
    assert rendered(HalfBlockImage(px, ascii_fallback=True), console()) == " @-\n"
    raw = io.BytesIO()
    ascii_file = io.TextIOWrapper(raw, encoding="ascii")  # a non-UTF-8 terminal
    c = Console(file=ascii_file, width=20, color_system="truecolor")
    assert c.options.ascii_only
    c.print(HalfBlockImage(px))
    ascii_file.flush()
    assert raw.getvalue() == b" @-\n"


def test_measure_and_crop():
    px = np.zeros((3, 7), np.uint8)
    c = console(width=5)
    assert HalfBlockImage(px).__rich_measure__(c, c.options).maximum == 7
    lines = rendered(HalfBlockImage(px), c).splitlines()
    assert len(lines) == 2 and all(line.count("▀") == 5 for line in lines)


def test_bad_input_is_refused():
    with pytest.raises(TypeError):
        HalfBlockImage(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        HalfBlockImage(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError):
        HalfBlockImage(np.zeros((2, 2), np.uint8), color_system="sepia")
