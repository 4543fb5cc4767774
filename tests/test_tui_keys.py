"""Pilot tests: every key of the train monitor, polling, caching, quitting."""

from __future__ import annotations

import numpy as np
import pytest
from test_tui_fixtures import FakeTrainer, filled_feed, fixed_app, metric_rows, sync

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.errors import DataError
from ganterm.tui.app import GantermApp
from ganterm.tui.dialogs import HelpScreen, LossPicker
from ganterm.tui.screens.train import TrainScreen
from ganterm.tui.widgets.charts import ChartView
from ganterm.tui.widgets.config_panel import config_text
from ganterm.tui.widgets.events import EventLog
from ganterm.tui.widgets.samples import SamplePanel
from ganterm.tui.widgets.status import StatusLine, status_text

SIZE = (100, 30)


def commands(app: GantermApp) -> list[tuple[str, dict]]:
    return [(c.name, c.args) for c in app.monitor.control.drain()]


def status(app: GantermApp) -> str:
    return status_text(app.monitor.feed.snapshot, app.monitor.state_label()).plain


@sync
async def test_layout_shows_feed_contents():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.screen.query_one(StatusLine).render().plain
        assert "RUNNING" in line and "shapes · mlp · hinge" in line and "step 600/3,000" in line
        log = [t.plain for t in app.screen.query_one(EventLog).lines]
        assert any("ckpt" in t and "ckpt_0000500.pt" in t for t in log)
        assert any("swap" in t for t in log) and any("ALERT" in t for t in log)
        loss = app.screen.query_one("#loss-chart", ChartView)
        assert loss.renders == 1 and set(loss.markers) == {(300.0, "→hinge"), (500.0, "ckpt")}
        samples = app.screen.query_one(SamplePanel)
        assert samples.frame is app.monitor.feed.frames()[-1]
        _, img_w, cols, _, scale = samples.layout_used
        assert cols * (img_w * scale + 1) - 1 <= samples.content_size.width  # never wider than the widget


@pytest.mark.parametrize("key", ["p", "space"])
@sync
async def test_pause_key(key):
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        assert commands(app) == [("toggle_pause", {})]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("c", ("checkpoint", {"reason": "manual"})),
        ("r", ("resample", {"seed": None})),
        ("b", ("rollback", {"lr_scale": 1.0, "loss": None})),
    ],
)
@sync
async def test_control_keys(key, expected):
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        assert commands(app) == [expected]


@sync
async def test_loss_picker_swaps_and_cancels():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert isinstance(app.screen, LossPicker)
        await pilot.press("escape")
        assert not isinstance(app.screen, LossPicker) and commands(app) == []
        await pilot.press("l")
        # the current loss (hinge) is highlighted; one up is wgan-gp
        await pilot.press("up", "enter")
        assert commands(app) == [("swap_loss", {"name": "wgan-gp"})]
        await pilot.press("l", "enter")  # picking the current loss is no swap
        assert commands(app) == []


@sync
async def test_chart_keys_change_options_and_redraw():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        loss = app.screen.query_one("#loss-chart", ChartView)
        aux = app.screen.query_one("#aux-chart", ChartView)
        await pilot.pause()
        before = loss.renders
        await pilot.press("s")
        await pilot.pause()
        assert loss.options.smoothing == 0.9 and loss.renders == before + 1
        await pilot.press("s", "s")
        assert loss.options.smoothing == 0.0
        await pilot.press("y")
        assert loss.options.log and "symlog" in str(loss.border_title)
        await pilot.press("w")
        assert loss.options.window == 1000
        assert aux.columns()[0][0] == "d_real"
        await pilot.press("g")
        await pilot.pause()
        assert aux.columns()[0][0] == "grad_d" and "grad" in str(aux.border_title)
        await pilot.press("g")
        assert aux.columns()[0][0] == "d_real"


@sync
async def test_chart_cache_redraws_only_on_change():
    app = fixed_app(chart_interval=0.0)
    async with app.run_test(size=SIZE) as pilot:
        loss = app.screen.query_one("#loss-chart", ChartView)
        await pilot.pause()
        drawn, built = loss.renders, loss.strip_builds
        loss.refresh()
        await pilot.pause()
        assert loss.renders == drawn  # same size, data and options: the cached chart
        assert loss.strip_builds == built  # ... and its Strips are reused, not converted again
        feed = app.monitor.feed
        feed.publish(np.arange(600, 610), metric_rows(np.arange(600, 610)), step=610)
        app.monitor.poll_feed()
        await pilot.pause()
        assert loss.renders == drawn + 1 and loss.strip_builds == built + 1
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert loss.renders == drawn + 2


@sync
async def test_idle_polls_do_no_work():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.monitor
        await pilot.pause()
        work = screen.polls_with_work
        for _ in range(5):
            screen.poll_feed()
        assert screen.polls_with_work == work
        screen.feed.update(step=601)
        screen.poll_feed()
        assert screen.polls_with_work == work + 1
        assert "step 601/" in screen.query_one(StatusLine).render().plain


@sync
async def test_frame_browsing():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(SamplePanel)
        frames = app.monitor.feed.frames()
        assert panel.frame is frames[2]
        await pilot.press("left_square_bracket")
        assert panel.frame is frames[1] and "frame 2/3" in panel.caption
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert panel.frame is frames[0] and f"step {frames[0].step}" in panel.caption
        await pilot.press("right_square_bracket")
        assert panel.frame is frames[1]
        await pilot.press("right_square_bracket")
        assert panel.frame is frames[2] and "frame" not in panel.caption  # back to live


@sync
async def test_help_screen_lists_keys():
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        for key in ("p", "l", "c", "r", "b", "s", "y", "w", "g", "[", "]", "q"):
            assert key in keys, key
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
@sync
async def test_quit_without_trainer(key):
    app = fixed_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
    assert app.return_code == 0


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
@sync
async def test_quit_waits_for_final_checkpoint(key):
    feed, control = Feed(), Control()
    fake = FakeTrainer(feed, control)
    screen = TrainScreen(feed, control, fake, color_system="truecolor")
    app = GantermApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        while feed.snapshot.step < 50:
            await pilot.pause(0.02)
        await pilot.press("p")
        while feed.snapshot.state != "paused":
            await pilot.pause(0.02)
        await pilot.pause(0.2)
        assert "PAUSED" in screen.query_one(StatusLine).render().plain
        await pilot.press("c")
        while not any(e.kind == "checkpoint" for e in feed.events()):
            await pilot.pause(0.02)
        await pilot.press(key)
        assert screen.stopping
    assert app.return_code == 0
    assert screen.worker.is_finished
    assert [e.data.get("reason") for e in feed.events() if e.kind == "checkpoint"][-1] == "final"


@sync
async def test_trainer_error_exits_with_it():
    def broken() -> None:
        raise DataError("dataset 'nope' not found; run `ganterm datasets`")

    screen = TrainScreen(Feed(), Control(), broken, color_system="truecolor")
    app = GantermApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
    assert app.return_code == 1
    assert isinstance(screen.error, DataError)


@pytest.mark.parametrize("size", [(40, 12), (24, 8), (80, 24), (200, 60)])
@sync
async def test_small_and_large_terminals(size):
    for kind in ("images", "points"):
        app = fixed_app(kind)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press("s", "y", "g", "w", "left_square_bracket")
            await pilot.resize_terminal(size[0] + 13, size[1] + 5)
            await pilot.pause()
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.press("q")
        assert app.return_code == 0


@sync
async def test_short_terminal_keeps_one_chart_and_the_samples():
    app = fixed_app("images")
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-short")
        assert not screen.query_one("#aux-chart").display and not screen.query_one("#events").display
        assert screen.query_one("#loss-chart").size.height >= 6  # a readable chart, not one line
        assert screen.query_one(SamplePanel).layout_used is not None  # images, not "(enlarge)"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not screen.has_class("-short") and screen.query_one("#aux-chart").display


@sync
async def test_starting_state_before_any_data():
    feed = Feed()
    feed.update(state="starting", dataset="mnist", message="loading torch …")
    app = GantermApp(TrainScreen(feed, Control(), None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.screen.query_one(StatusLine).render().plain
        assert "STARTING" in line and "loading torch" in line
        assert "waiting" in app.screen.query_one(SamplePanel).render().plain


def test_config_text_skips_unset_fields():
    text = config_text({"dataset": "ring", "model": None, "betas": [0.5, 0.999]}).plain
    assert "dataset ring" in text and "model" not in text and "0.5, 0.999" in text


def test_filled_feed_is_deterministic():
    a, b = filled_feed(), filled_feed()
    assert np.array_equal(a.series("d_loss").mean, b.series("d_loss").mean)
    assert np.array_equal(a.frames()[-1].data, b.frames()[-1].data)


def test_header_shows_gpu_memory_on_cuda():
    from ganterm.channel.feed import Snapshot

    snap = Snapshot(state="running", dataset="mnist", device="cuda:0", gpu_mem_bytes=int(3.5 * 2**30))
    assert "cuda:0 3.5G" in status_text(snap).plain
    assert status_text(Snapshot(state="running", device="cpu")).plain.endswith("cpu")
