"""The sample grid's density (`d`), the full-screen samples (`f`) and the step scrubber ([ ] { } home end).

Layout arithmetic is tested on `grid.density_layout` directly; the keys through Pilot on the train layout
over a filled feed; the look through snapshots (update with `--snapshot-update` after checking the SVGs).
"""

from __future__ import annotations

import pytest
from test_tui_fixtures import digit_grid, filled_feed, fixed_app, image_frame, sync

from ganterm.channel.control import Control
from ganterm.render.grid import (
    DENSITIES,
    MIN_POOLED_SIDE,
    GridLayout,
    arrange,
    density_label,
    density_layout,
    fit_grid,
    next_density,
)
from ganterm.tui.app import GantermApp
from ganterm.tui.screens.samples_full import SamplesFullScreen
from ganterm.tui.screens.train import TrainScreen
from ganterm.tui.screens.view import ViewScreen
from ganterm.tui.widgets.charts import ChartView
from ganterm.tui.widgets.samples import SamplePanel

FRAME_IMAGES = 64  # the trainer's fixed grid (TrainConfig.n_samples)


def shown(layout: GridLayout, n: int = FRAME_IMAGES) -> int:
    return min(n, layout.cols * layout.rows)


# -- layout arithmetic ------------------------------------------------------------------------------
def test_pooled_60x40_panel_holds_4x5_digits_at_14x14():
    layout = density_layout("pooled", FRAME_IMAGES, 28, 28, 60, 40)
    assert layout == GridLayout(14, 14, 4, 5, 1)
    assert density_label("pooled", layout, 20, FRAME_IMAGES, 28) == "20 of 64, pooled 2x2"


@pytest.mark.parametrize(
    ("cells", "full", "pooled"),
    [
        ((63, 35), 4, 16),  # what the train screen's panel gets at 140x45
        ((72, 40), 4, 20),  # 160x50
        ((140, 42), 8, 45),  # the full screen at 140x45
    ],
)
def test_how_many_fit_per_level(cells, full, pooled):
    assert shown(density_layout("full", FRAME_IMAGES, 28, 28, *cells)) == full
    assert shown(density_layout("pooled", FRAME_IMAGES, 28, 28, *cells)) == pooled
    assert shown(density_layout("single", FRAME_IMAGES, 28, 28, *cells)) == 1


def test_full_is_one_terminal_pixel_per_image_pixel_even_with_room_to_spare():
    layout = density_layout("full", 4, 28, 28, 160, 50)
    assert layout == GridLayout(28, 28, 2, 2, 1)  # fit_grid alone would enlarge four images
    assert fit_grid(4, 28, 28, 160, 50, max_scale=1) == (2, 2, 1)
    assert density_layout("full", FRAME_IMAGES, 28, 28, 18, 9).cols == 0  # 28 px do not fit in 18


def test_single_is_enlarged_by_an_integer_scale_or_shrunk_to_fit():
    assert density_layout("single", FRAME_IMAGES, 28, 28, 72, 40) == GridLayout(28, 28, 1, 1, 2)
    small = density_layout("single", FRAME_IMAGES, 28, 28, 18, 9)
    assert small == GridLayout(18, 18, 1, 1, 1)
    assert density_label("single", small, 1, FRAME_IMAGES, 28) == "1 of 64, one sample shrunk"


def test_pooled_pools_more_where_2x2_shows_too_few():
    # 80x24's panel (36x14 cells, 36x28 px): 2x2 shows two digits, 4x4 (7x7 px) shows twelve
    layout = density_layout("pooled", FRAME_IMAGES, 28, 28, 36, 14)
    assert layout == GridLayout(7, 7, 4, 3, 1)
    assert density_label("pooled", layout, 12, FRAME_IMAGES, 28, short=True) == "12/64 4x4"
    # 64x64 colour images at 140x45: 2x2 (32 px) shows two, 5x5 (13 px) the sixteen wanted
    big = density_layout("pooled", FRAME_IMAGES, 64, 64, 63, 35)
    assert big.img_h == 13 and shown(big) >= 16


def test_pooled_never_goes_below_the_smallest_legible_side():
    for cells in [(8, 3), (20, 6), (36, 14), (200, 60)]:
        layout = density_layout("pooled", FRAME_IMAGES, 28, 28, *cells)
        assert layout.cols == 0 or layout.img_h >= MIN_POOLED_SIDE
    # images already too small to pool are shown 1:1
    assert density_layout("pooled", 64, 8, 8, 36, 14).img_h == 8


def test_a_frame_with_fewer_images_than_fit_shows_what_there_is():
    layout = density_layout("pooled", 6, 28, 28, 140, 42)
    assert shown(layout, 6) == 6 and layout.cols * layout.rows < 12  # no rows of empty slots
    assert density_layout("pooled", 0, 28, 28, 140, 42).cols == 0


def test_rows_that_mean_something_stay_whole_or_are_cut_never_wrapped():
    # a cGAN grid (10 classes x 6) in a 54x30 panel: 3x3 pooling fits 5 across, 4x4 the whole row of 6
    layout = density_layout("pooled", 60, 28, 28, 54, 30, row_len=6)
    assert layout.img_h == 7 and layout.cols >= 6
    trimmed, index = arrange(layout, 60, 6)
    assert trimmed.cols == 6 and index.tolist()[:7] == [0, 1, 2, 3, 4, 5, 6]
    # a row wider than the grid: each grid row shows the first `cols` of one frame row
    cut, index = arrange(GridLayout(14, 14, 4, 3, 1), 60, 6)
    assert (cut.cols, cut.rows) == (4, 3) and index.tolist() == [0, 1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15]
    # ten rows of eight in room for 3 x 12: only the ten rows there are
    few, index = arrange(GridLayout(14, 14, 3, 12, 1), 80, 8)
    assert few.rows == 10 and len(index) == 30
    # no meaning in the rows: the first images, rows of empty slots trimmed
    plain, index = arrange(GridLayout(14, 14, 4, 5, 1), 6)
    assert (plain.cols, plain.rows) == (4, 2) and index.tolist() == list(range(6))


def test_d_cycles_pooled_full_single():
    assert DENSITIES[0] == "pooled"
    assert [next_density(d) for d in DENSITIES] == ["full", "single", "pooled"]


# -- the panel in the screens -----------------------------------------------------------------------
def panel_of(app: GantermApp) -> SamplePanel:
    return app.monitor.query_one("#samples", SamplePanel)


@sync
async def test_default_at_140x45_shows_at_least_16_in_train_and_view(tmp_path):
    train = fixed_app()
    async with train.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        panel = panel_of(train)
        assert shown(panel.layout_used) >= 16
        assert "16 of 64, pooled 2x2" in panel.border_title
    (tmp_path / "config.json").write_text('{"dataset": "mnist", "model": "dcgan", "steps": 100}')
    view = GantermApp(ViewScreen(tmp_path, color_system="truecolor"))
    async with view.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        size = panel_of(view).content_size
        assert shown(density_layout("pooled", FRAME_IMAGES, 28, 28, size.width, size.height)) >= 16
        await pilot.press("q")


@sync
async def test_80x24_keeps_a_usable_grid_and_names_the_density():
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = panel_of(app)
        assert shown(panel.layout_used) >= 6
        assert panel.border_title.startswith("samples · step 600 · ") and "4x4" in panel.border_title


@sync
async def test_d_cycles_the_density_and_the_title_follows():
    app = fixed_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        panel = panel_of(app)
        assert panel.density == "pooled" and shown(panel.layout_used) == 20
        await pilot.press("d")
        await pilot.pause()
        assert panel.density == "full" and panel.layout_used == GridLayout(28, 28, 2, 2, 1)
        assert "4 of 64, 1:1" in panel.border_title
        await pilot.press("d")
        await pilot.pause()
        assert panel.density == "single" and panel.layout_used == GridLayout(28, 28, 1, 1, 2)
        assert "one sample 2x" in panel.border_title
        await pilot.press("d")
        await pilot.pause()
        assert panel.density == "pooled"


@sync
async def test_d_leaves_a_points_frame_as_it_is():
    app = fixed_app("points")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        panel = panel_of(app)
        before = panel.render()
        await pilot.press("d")
        await pilot.pause()
        assert panel.density == "full" and panel.render() is before and "1:1" not in panel.border_title


@sync
async def test_f_opens_the_samples_full_screen_which_follows_new_frames():
    feed = filled_feed()
    app = GantermApp(TrainScreen(feed, Control(), None, color_system="truecolor", poll_hz=50))
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, SamplesFullScreen)
        full = app.screen.query_one(SamplePanel)
        assert full.frame is feed.frames()[-1] and shown(full.layout_used) == 45
        new = image_frame(700, phase=5.0)
        feed.publish_samples(new)
        await pilot.pause(0.1)
        assert full.frame is new and "step 700" in full.border_title
        assert panel_of(app).frame is new  # the monitor underneath follows too
        await pilot.press("d")  # the same density key, for both panels
        await pilot.pause()
        assert full.density == panel_of(app).density == "full"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.monitor
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, SamplesFullScreen)
        assert app.screen.query_one(SamplePanel).density == "full"
        await pilot.press("f")  # f closes it too
        await pilot.pause()
        assert app.screen is app.monitor


def cursor_calls(app: GantermApp) -> list[tuple[str, int | None]]:
    """Stand in for the charts' set_cursor (the monitor calls it when the charts have one)."""
    calls: list[tuple[str, int | None]] = []
    for chart in app.monitor.query(ChartView):
        chart.set_cursor = lambda step, name=chart.id: calls.append((name, step))  # type: ignore[method-assign]
    return calls


@sync
async def test_scrubbing_moves_the_samples_and_the_charts_cursor_to_one_step():
    feed = filled_feed(frames=15)  # frames at steps 40, 80, ..., 600
    app = GantermApp(TrainScreen(feed, Control(), None, color_system="truecolor"))
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        calls = cursor_calls(app)
        panel, frames = panel_of(app), feed.frames()
        steps = [f.step for f in frames]
        await pilot.press("left_square_bracket")
        assert panel.frame is frames[13] and "frame 14/15" in panel.caption
        assert calls == [("loss-chart", steps[13]), ("aux-chart", steps[13])]
        assert f"step {steps[13]}" in panel.border_title
        await pilot.press("left_curly_bracket")
        assert panel.frame is frames[3] and calls[-1] == ("aux-chart", steps[3])
        await pilot.press("left_curly_bracket")
        assert panel.frame is frames[0]  # clamped at the first
        await pilot.press("right_curly_bracket")
        assert panel.frame is frames[10] and calls[-1][1] == steps[10]
        await pilot.press("right_curly_bracket")
        assert panel.frame is frames[14] and "frame" not in panel.caption  # back to live
        assert calls[-1] == ("aux-chart", None)
        await pilot.press("home")
        assert panel.frame is frames[0] and calls[-1][1] == steps[0]
        await pilot.press("end")
        assert panel.frame is frames[14] and calls[-1][1] is None


@sync
async def test_the_full_screen_scrubs_the_same_step():
    feed = filled_feed(frames=3)
    app = GantermApp(TrainScreen(feed, Control(), None, color_system="truecolor"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        calls = cursor_calls(app)
        await pilot.press("f", "left_square_bracket")
        await pilot.pause()
        full = app.screen.query_one(SamplePanel)
        frames = feed.frames()
        assert full.frame is panel_of(app).frame is frames[1] and "frame 2/3" in full.caption
        assert calls[-1] == ("aux-chart", frames[1].step)
        await pilot.press("end")
        assert full.frame is frames[2]


@sync
async def test_rows_of_a_class_grid_stay_whole_when_they_fit():
    feed = filled_feed()
    feed.publish_samples(digit_grid(700, 10, 6))  # one row per class, six samples each
    app = GantermApp(TrainScreen(feed, Control(), None, color_system="truecolor"))
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        layout = app.screen.query_one(SamplePanel).layout_used
        assert layout.cols == 6 and layout.rows == 5  # nine would fit across: whole rows of six instead


# -- snapshots --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.parametrize("presses", [[], ["d"], ["d", "d"]], ids=["pooled", "full", "single"])
def test_density_levels(snap_compare, presses, size):
    assert snap_compare(fixed_app(), terminal_size=size, press=presses)


@pytest.mark.parametrize("size", [(80, 24), (140, 45)])
def test_full_screen_samples(snap_compare, size):
    assert snap_compare(fixed_app(), terminal_size=size, press=["f"])
