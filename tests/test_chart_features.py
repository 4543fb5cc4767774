"""Issue 12's chart features in render/chart.py: raw points behind the EMA, y limits that follow the
visible window, the scrubber's cursor; and the EMA's debiasing at the start, as TensorBoard does it."""

from __future__ import annotations

import numpy as np
from test_tui_fixtures import fixed_app, sync

from ganterm.render.chart import ChartSeries, ema, render_line_chart
from ganterm.tui.widgets.charts import ChartView

W, H = 60, 14


def lit_cells(chart: str) -> int:
    """Braille cells with any dot lit: what the plot draws."""
    return sum(1 for c in chart if 0x2801 <= ord(c) <= 0x28FF)


def y_labels(chart: str) -> list[str]:
    """The y tick labels: what stands left of the plot's frame on each line."""
    labels = []
    for line in chart.splitlines()[1:]:
        head = line.split("┤", 1)
        if len(head) == 2 and head[0].strip():
            labels.append(head[0].strip())
    return labels


def noisy() -> ChartSeries:
    x = np.arange(2000.0)
    rng = np.random.default_rng(0)
    return ChartSeries("d", x, 1.0 + 0.5 * rng.standard_normal(x.size), "red")


def test_raw_points_add_dots_behind_a_smoothed_line():
    smoothed = render_line_chart([noisy()], W, H, colors=False, smoothing=0.9)
    with_raw = render_line_chart([noisy()], W, H, colors=False, smoothing=0.9, raw=True)
    assert lit_cells(with_raw) > lit_cells(smoothed) * 1.2
    # the raw points reach beyond the smoothed line: the plot's top row only has dots with them
    assert lit_cells(with_raw.splitlines()[2]) > 0 and lit_cells(smoothed.splitlines()[2]) <= 2


def test_raw_points_are_nothing_extra_without_smoothing():
    plain = render_line_chart([noisy()], W, H, colors=False, smoothing=0.0)
    assert render_line_chart([noisy()], W, H, colors=False, smoothing=0.0, raw=True) == plain


def test_y_limits_follow_the_visible_window():
    x = np.arange(2000.0)
    y = np.where(x < 500, 1000.0, 1.0 + 0.1 * np.sin(x / 10))  # a huge start, then small values
    series = [ChartSeries("g", x, y, "cyan")]
    whole = render_line_chart(series, W, H, colors=False)
    window = render_line_chart(series, W, H, colors=False, x_window=(1000.0, 2000.0))
    assert "1k" in y_labels(whole)
    labels = [float(v) for v in y_labels(window)]
    assert labels and max(labels) < 2  # the spike outside the window no longer sets the scale
    x_ticks = window.splitlines()[-2]  # the last line is the axis label
    assert "1.5k" in x_ticks and "500" not in x_ticks  # the x axis is the window's too


def test_the_cursor_is_a_line_inside_the_data_only():
    series = [ChartSeries("d", np.arange(100.0), np.linspace(0, 1, 100), "red")]
    base = render_line_chart(series, W, H, colors=False)
    cursor = render_line_chart(series, W, H, colors=False, cursor=50.0)
    assert cursor.count("│") > base.count("│") + H // 2  # a vertical line down the plot
    assert render_line_chart(series, W, H, colors=False, cursor=5000.0) == base


def test_the_ema_is_debiased_at_the_start():
    # TensorBoard divides by 1 - w^t: a constant series stays that constant from its first point on,
    # where a plain EMA started at 0 would begin at (1 - w) of it.
    values = np.full(50, 3.0)
    assert np.allclose(ema(values, 0.99), 3.0)
    v = np.array([1.0, 2.0, 3.0])
    w = 0.6
    biased = [(1 - w) * 1.0]
    biased.append(w * biased[0] + (1 - w) * 2.0)
    biased.append(w * biased[1] + (1 - w) * 3.0)
    expected = np.array(biased) / (1 - w ** np.arange(1, 4))
    assert np.allclose(ema(v, w), expected)


@sync
async def test_key_x_toggles_raw_points_on_every_chart():
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        charts = list(app.screen.query(ChartView))
        drawn = [c.renders for c in charts]
        await pilot.press("x")
        await pilot.pause()
        assert all(c.options.raw for c in charts)
        assert all("EMA 0.6 + raw" in str(c.border_title) for c in charts)
        assert [c.renders for c in charts] == [n + 1 for n in drawn]  # redrawn once, with the dots
        await pilot.press("x")
        assert not any(c.options.raw for c in charts)


# -- lines drawn by numpy into plotext's frame (the compare charts') -----------------------------------
def canvas(chart: str) -> list[str]:
    """The rows inside the plot's frame, without the frame."""
    rows = chart.splitlines()
    top = next(i for i, row in enumerate(rows) if "┌" in row)
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    left = rows[top].index("┌") + 1
    right = rows[top].index("┐")
    return [row[left:right] for row in rows[top + 1 : bottom]]


def test_raster_lines_draw_the_same_diagonal_as_plotext():
    series = [ChartSeries("d", np.array([0.0, 100.0]), np.array([0.0, 1.0]), "red")]
    ours = canvas(render_line_chart(series, W, H, colors=False, raster_lines=True))
    theirs = canvas(render_line_chart(series, W, H, colors=False))
    assert len(ours) == len(theirs)
    assert ours[0].rstrip()[-1] != " " and ours[-1][0] != " "  # from the bottom left to the top right
    # every canvas row holds part of the line, in the same columns as plotext's, give or take two cells
    for mine, plotext in zip(ours, theirs, strict=True):
        lit = [i for i, c in enumerate(mine) if c != " "]
        their_lit = [i for i, c in enumerate(plotext) if c != " "]
        assert lit and their_lit and abs(lit[0] - their_lit[0]) <= 2 and abs(lit[-1] - their_lit[-1]) <= 2


def test_raster_lines_take_the_series_colours_and_keep_marker_labels():
    flat = np.full(50, 0.5)
    series = [
        ChartSeries("a", np.arange(50.0), flat, "#ff0000"),
        ChartSeries("b", np.arange(50.0), flat + np.linspace(0, 1, 50), "#00ff00"),
    ]
    coloured = render_line_chart(series, W, H, raster_lines=True, markers=[(25.0, "ckpt")])
    assert "\x1b[38;2;255;0;0m" in coloured and "\x1b[38;2;0;255;0m" in coloured
    assert "ckpt" in coloured
    plain = render_line_chart(series, W, H, colors=False, raster_lines=True)
    assert "\x1b" not in plain and lit_cells(plain) > 40


def test_raster_lines_fall_back_to_plotext_when_there_is_no_frame():
    series = [ChartSeries("d", np.arange(10.0), np.arange(10.0), "red")]
    for size in ((4, 3), (6, 4)):
        assert render_line_chart(series, *size, colors=False, raster_lines=True) == render_line_chart(
            series, *size, colors=False
        )
