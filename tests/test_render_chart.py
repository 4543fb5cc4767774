"""Chart helpers (downsampling, smoothing, symlog) and the plotext-built strings."""

from __future__ import annotations

import numpy as np
import pytest
from plotext import uncolorize

from ganterm.channel.history import MetricHistory
from ganterm.render.chart import (
    ChartSeries,
    downsample_mean,
    downsample_minmax,
    ema,
    format_number,
    nice_ticks,
    render_line_chart,
    render_scatter,
    symlog,
    symlog_inverse,
    symlog_ticks,
)


def ema_reference(values, weight):
    """TensorBoard's loop, written out plainly."""
    last, n, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n))
    return np.array(out)


def test_downsample_minmax_keeps_extremes():
    rng = np.random.default_rng(0)
    x = np.arange(10_000, dtype=float)
    lo = rng.standard_normal(10_000)
    hi = lo + 1
    lo[1234], hi[8765] = -50.0, 80.0
    xo, loo, hio = downsample_minmax(x, lo, hi, 100)
    assert len(xo) == 100 and np.all(np.diff(xo) > 0)
    assert loo.min() == -50.0 and hio.max() == 80.0
    assert loo[12] == -50.0  # in the bucket that holds x = 1234
    assert loo[0] == lo[:100].min() and xo[0] == pytest.approx(49.5)


def test_downsample_minmax_is_nan_safe_and_sorts():
    x = np.array([3.0, 0.0, 1.0, 2.0, np.nan])
    lo = np.array([np.nan, 1.0, np.nan, np.nan, 0.0])
    xo, loo, _ = downsample_minmax(x, lo, lo.copy(), 2)
    assert xo.tolist() == [0.5, 2.5]  # NaN x dropped, the rest sorted, then [0, 1.5) and [1.5, 3]
    assert loo[0] == 1.0 and np.isnan(loo[1])
    short = downsample_minmax(np.arange(3.0), np.ones(3), np.ones(3), 10)
    assert [len(a) for a in short] == [3, 3, 3]


def test_downsample_mean():
    x = np.arange(8, dtype=float)
    y = np.array([1, 3, np.nan, np.nan, 5, np.nan, 7, 9], float)
    xo, yo = downsample_mean(x, y, 4)
    assert xo.tolist() == [0.5, 2.5, 4.5, 6.5]
    assert yo[0] == 2 and np.isnan(yo[1]) and yo[2] == 5 and yo[3] == 8


def test_ema_matches_tensorboard_loop():
    rng = np.random.default_rng(1)
    values = rng.standard_normal(3000).cumsum()
    values[[5, 700, 1999]] = [np.nan, np.inf, np.nan]
    for weight in (0.0, 0.3, 0.6, 0.95, 0.999):
        np.testing.assert_allclose(ema(values, weight), ema_reference(values, weight), rtol=1e-9, atol=1e-9)
    assert ema(np.array([4.0]), 0.6).tolist() == [4.0]  # debiased: the first value is itself
    with pytest.raises(ValueError):
        ema(values, 1.0)


def test_symlog_round_trip_and_sign():
    y = np.array([-1000.0, -1.0, 0.0, 0.5, 9.0])
    s = symlog(y)
    assert s.tolist() == pytest.approx([-np.log10(1001), -np.log10(2), 0.0, np.log10(1.5), 1.0])
    np.testing.assert_allclose(symlog_inverse(s), y)
    assert symlog(-90.0, linthresh=10.0) == pytest.approx(-1.0)


def test_symlog_ticks():
    positions, labels = symlog_ticks(-500.0, 20.0)
    assert labels == ["-100", "-10", "-1", "0", "1", "10"]
    np.testing.assert_allclose(symlog_inverse(positions), [float(v) for v in (-100, -10, -1, 0, 1, 10)])
    _, narrow = symlog_ticks(0.62, 0.71)  # no power of ten inside: linear values instead
    assert len(narrow) >= 2 and all(0.62 <= float(v) <= 0.71 for v in narrow)


def test_nice_ticks_and_labels():
    assert nice_ticks(0, 100, 5).tolist() == [0, 25, 50, 75, 100]
    assert nice_ticks(-0.35, 2.6, 7).tolist() == [0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert [format_number(v) for v in (0, 0.25, 12.5, 3000, 1_250_000, 0.0001, -2e9)] == [
        "0",
        "0.25",
        "12.5",
        "3k",
        "1.25M",
        "1e-04",
        "-2G",
    ]


def series(n: int, name: str = "d_loss", color: str = "red", band: bool = True) -> ChartSeries:
    history = MetricHistory()
    steps = np.arange(n)
    rng = np.random.default_rng(n)
    history.extend(steps, np.tile(1 + rng.standard_normal((n, 1)) * 0.1, (1, 6)))
    return ChartSeries.from_buckets(history.series("d_loss"), name, color, band=band)


def lines_of(text: str) -> list[str]:
    return uncolorize(text).split("\n")


@pytest.mark.parametrize(("width", "height"), [(120, 30), (60, 12), (20, 5), (9, 3), (5, 2), (1, 1)])
def test_line_chart_has_the_requested_size(width, height):
    out = render_line_chart([series(5000)], width, height, title="losses", markers=[(2500, "swap")])
    assert len(lines_of(out)) == height
    assert {len(line) for line in lines_of(out)} == {width}


def test_line_chart_content():
    out = render_line_chart(
        [series(5000, "D", "blue"), series(4000, "G", "#ff8800", band=False)],
        100,
        24,
        title="losses",
        markers=[(2500, "swap"), (10**9, "outside")],
        colors=False,
    )
    lines = out.split("\n")
    assert "losses" in lines[0] and "━ D" in lines[0] and "━ G" in lines[0]
    assert "swap" in out and "outside" not in out
    assert "\x1b[" not in out
    assert "step" in lines[-1] and "2k" in out  # compact x tick labels
    assert any(ch in out for ch in "⠁⠂⠄⡀⠈⠐⠠⢀")  # braille dots were drawn
    colored = render_line_chart([series(500, "D", "blue")], 60, 12)
    assert "\x1b[" in colored


def test_line_chart_log_view_handles_negative_losses():
    x = np.arange(1000.0)
    critic = ChartSeries("critic", x, -np.logspace(0, 3, 1000), "red")
    out = render_line_chart([critic], 60, 16, log=True, colors=False)
    assert "-100" in out and "-10" in out


def test_line_chart_waits_for_data():
    empty = ChartSeries("d", np.zeros(0), np.zeros(0), "red")
    nan = ChartSeries("d", np.arange(3.0), np.full(3, np.nan), "red")
    for chart in ([], [empty], [nan]):
        out = render_line_chart(chart, 40, 8, title="losses")
        assert "waiting for data" in out and len(out.split("\n")) == 8
    assert render_line_chart([series(10)], 0, 0) == ""


def test_line_chart_skips_non_finite_points():
    # plotext 6 aborts the process on NaN coordinates: they must never reach it
    y = np.array([1.0, np.nan, 2.0, np.inf, 3.0, -np.inf])
    out = render_line_chart([ChartSeries("d", np.arange(6.0), y, "red", y, y)], 40, 10, colors=False)
    assert len(out.split("\n")) == 10


def test_line_chart_single_point_and_constant():
    one = ChartSeries("d", np.array([7.0]), np.array([0.5]), "red")
    flat = ChartSeries("g", np.arange(100.0), np.full(100, 2.0), "blue")
    for chart in ([one], [flat]):
        assert len(render_line_chart(chart, 50, 10).split("\n")) == 10


def test_line_chart_cost_does_not_depend_on_history_length(monkeypatch):
    seen = []
    import ganterm.render.chart as chart

    real = chart._draw_signal

    def counting(fig, x, y, *args, **kwargs):
        seen.append(len(x))
        real(fig, x, y, *args, **kwargs)

    monkeypatch.setattr(chart, "_draw_signal", counting)
    render_line_chart([series(200_000)], 120, 30)
    assert seen and max(seen) <= 2 * 120


def test_scatter():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((5000, 2))
    fake = real * 0.5 + 3
    out = render_scatter(real, fake, 60, 20, colors=False)
    lines = out.split("\n")
    assert len(lines) == 20 and {len(line) for line in lines} == {60}
    assert "━ real" in lines[0] and "━ fake" in lines[0]
    assert "waiting for data" in render_scatter(None, np.zeros((0, 2)), 30, 6)
    nan_points = np.array([[np.nan, 1.0], [0.0, 0.0], [1.0, 1.0]])
    assert len(render_scatter(nan_points, None, 30, 8).split("\n")) == 8


def test_ascii_fallback_keeps_the_shape_and_the_colours():
    x = np.arange(400.0)
    series = [ChartSeries("D", x, np.sin(x / 40), "red"), ChartSeries("G", x, np.cos(x / 40), "cyan")]
    unicode = render_line_chart(series, 60, 14, markers=[(200.0, "→ns")])
    ascii_ = render_line_chart(series, 60, 14, markers=[(200.0, "→ns")], ascii_only=True)
    assert ascii_.isascii() and not unicode.isascii()
    plain_u, plain_a = uncolorize(unicode).splitlines(), uncolorize(ascii_).splitlines()
    assert [len(line) for line in plain_a] == [len(line) for line in plain_u]  # same cells, same layout
    for line_u, line_a in zip(plain_u, plain_a, strict=True):
        for cu, ca in zip(line_u, line_a, strict=True):
            # a lit braille cell stays lit, an empty one stays empty, plain text is untouched
            if "\u2800" < cu <= "\u28ff":
                assert ca in ".*"
            elif cu.isascii():
                assert ca == cu
    assert "\x1b[" in ascii_  # colours survive: the terminal may lack UTF-8, not colour
    assert ">ns" in uncolorize(ascii_)
    points = np.random.default_rng(0).normal(size=(200, 2))
    assert render_scatter(points, points + 1, 40, 12, ascii_only=True).isascii()


def test_to_ascii_maps_braille_by_dot_count():
    from ganterm.render.chart import to_ascii

    assert to_ascii("\u2800\u2801\u2803\u2807┌─┐│└┘é") == " ..*+-+|++?"


@pytest.mark.parametrize("raster", [False, True])
@pytest.mark.parametrize("color", ["red", "#3366ff"])
def test_markers_and_the_cursor_are_lines_without_cell_backgrounds(raster, color):
    """Issue 23: plotext drew each marker and the cursor on a white cell background, a bar through the
    chart; now they are thin lines in their own colour and no cell of a chart has a background."""
    import re

    out = render_line_chart(
        [series(600, color=color)],
        60,
        14,
        markers=[(100, "ckpt"), (300, "→ns"), (450, "ckpt")],
        cursor=200,
        raster_lines=raster,
    )
    assert not re.search(r"\x1b\[(?:[0-9;]*;)?4[0-8][;m]", out)  # no background code at all
    assert sum(line.count("│") for line in lines_of(uncolorize(out))) > 3 * 10  # the lines are still drawn


@pytest.mark.parametrize("height", [8, 10, 14])
def test_a_short_chart_still_has_two_y_numbers(height):
    """Issue 23: at 80x24 a chart is ~9 rows; asked for two ticks, a range of -1..1.5 got one (or none)."""
    x = np.arange(600.0)
    out = uncolorize(render_line_chart([ChartSeries("D", x, np.sin(x / 40) + 0.25, "red")], 44, height))
    assert sum("┤" in line for line in out.split("\n")) >= 2
