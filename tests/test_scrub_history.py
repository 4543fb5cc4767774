"""Issue 23, parts 1 and 5: the scrubber reaches every recorded grid of a run, and a finished run's past
events are never toasted.

`[ ] { } home end` walk the run's whole history (samples/step_*.png listed by name, decoded only when
shown, off the UI thread), live or finished: the reader publishes only the newest grid into the feed, and
rundir/grids.py's listing stands behind it. Driven under Pilot on the app `ganterm view RUN` runs, and
once under tmux; the 10 vs 10,000 grids timing is `test_listing_ten_thousand_grids_is_cheap`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from test_tui_fixtures import sync
from tmux_helpers import TmuxSession

from ganterm.channel.feed import Event, SampleFrame
from ganterm.rundir.grids import CACHED, RecordedGrids
from ganterm.rundir.reader import RunDirReader
from ganterm.rundir.writer import RunDirWriter
from ganterm.tui.app import view_app
from ganterm.tui.widgets.samples import SamplePanel

GRIDS = 30
EVERY = 10


def finished_run(root: Path, grids: int = GRIDS, checkpoints: int = 5) -> Path:
    """A run that ended: metrics to step (grids-1)*EVERY, a grid every EVERY steps (each a different
    shade, so a test can tell them apart), `checkpoints` checkpoint events and an end event."""
    path = root / "run"
    writer = RunDirWriter(path, {"dataset": "digits", "model": "mlp", "loss": "bce", "steps": 1000})
    last = (grids - 1) * EVERY
    steps = np.arange(1, last + 1, dtype=np.int64)
    values = np.column_stack([np.sin(steps / 40.0), np.cos(steps / 40.0)]).astype(np.float32)
    writer.write_metrics(steps, values, 0.0, ("d_loss", "g_loss"))
    for i in range(grids):
        data = np.full((4, 8, 8, 1), 8 * i, np.uint8)
        writer.write_samples(SampleFrame(i * EVERY, "images", data))
    for k in range(checkpoints):
        step = (k + 1) * last // checkpoints
        path_k = f"checkpoints/ckpt_{step:07d}.pt"
        writer.write_event(Event(0, step, 0.0, "checkpoint", f"saved {path_k}", {"path": path_k}))
    writer.write_event(Event(0, last, 0.0, "end", "finished"))
    writer.close()
    return path


# -- the listing --------------------------------------------------------------------------------------
def test_recorded_grids_list_by_name_and_decode_on_demand(tmp_path):
    run = finished_run(tmp_path)
    (run / "samples" / "step_0000999.png").write_bytes(b"not a png")  # a broken one: None, no raise
    grids = RecordedGrids(run)
    assert grids.steps() == [] and grids.refresh()
    assert grids.steps() == [*range(0, GRIDS * EVERY, EVERY), 999]
    assert not grids.refresh()  # unchanged: one stat()
    assert grids.steps_before(25) == [0, 10, 20]
    assert not grids.is_cached(0)
    frame = grids.load(0)
    assert frame is not None and frame.step == 0 and int(frame.data.max()) == 0
    assert grids.is_cached(0) and grids.load(0) is frame
    assert grids.load(999) is None and grids.load(12345) is None
    for step in range(0, (CACHED + 2) * EVERY, EVERY):
        grids.load(step)
    assert not grids.is_cached(0)  # the oldest decoded left the cache


def test_a_symlinked_samples_folder_lists_nothing(tmp_path):
    run = finished_run(tmp_path / "a")
    other = tmp_path / "b"
    other.mkdir()
    shutil.move(run / "samples", other / "samples")
    (run / "samples").symlink_to(other / "samples")
    grids = RecordedGrids(run)
    grids.refresh()
    assert grids.steps() == []


def time_first_poll(run: Path) -> float:
    t0 = time.perf_counter()
    reader = RunDirReader(run)
    reader.poll()
    took = time.perf_counter() - t0
    assert reader.feed.frames()[-1].step == reader.grids.steps()[-1]  # only the newest is decoded
    return took


def test_listing_ten_thousand_grids_is_cheap(tmp_path):
    """The reader's first poll over 10,000 grids is not 1,000 times one over 10: names only."""
    small, big = tmp_path / "small", tmp_path / "big"
    for run, n in ((small, 10), (big, 10_000)):
        finished_run(run, grids=1, checkpoints=0)
        src = run / "run" / "samples" / "step_0000000.png"
        for i in range(1, n):
            (src.parent / f"step_{i * EVERY:07d}.png").write_bytes(src.read_bytes())
    t_small = min(time_first_poll(small / "run") for _ in range(3))
    t_big = min(time_first_poll(big / "run") for _ in range(3))
    print(f"first poll: 10 grids {t_small * 1e3:.1f} ms, 10,000 grids {t_big * 1e3:.1f} ms")
    assert t_big < 1.0


# -- the scrubber, under Pilot ------------------------------------------------------------------------
async def opened(pilot, app) -> None:
    """Until the view's follow thread has read the run (its grids listed, the newest frame in)."""
    screen = app.monitor
    deadline = time.monotonic() + 60
    while screen.reader.checkpoints is None or not screen.feed.frames():
        assert time.monotonic() < deadline, "the reader never polled"
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def settled(pilot, app) -> None:
    """Until the grid decodes the keys started are done (the follow thread's worker never is)."""
    await pilot.pause()
    deadline = time.monotonic() + 30
    while any(w.name == "grid" and not w.is_finished for w in app.monitor.workers):
        assert time.monotonic() < deadline, "a grid never decoded"
        await pilot.pause(0.02)
    await pilot.pause()


@sync
async def test_home_reaches_the_first_grid_of_a_finished_run(tmp_path):
    run = finished_run(tmp_path)
    app = view_app(run, "truecolor")
    async with app.run_test(size=(140, 45)) as pilot:
        await opened(pilot, app)
        panel = app.monitor.query_one("#samples", SamplePanel)
        last = (GRIDS - 1) * EVERY
        assert panel.frame is not None and panel.frame.step == last
        await pilot.press("home")
        await settled(pilot, app)
        assert panel.frame is not None and panel.frame.step == 0 and int(panel.frame.data.max()) == 0
        assert "step 0 ·" in panel.caption and f"frame 1/{GRIDS}" in panel.caption
        await pilot.press("right_square_bracket")
        await settled(pilot, app)
        assert panel.frame.step == EVERY and int(panel.frame.data.max()) == 8
        await pilot.press("right_curly_bracket")
        await settled(pilot, app)
        assert panel.frame.step == 11 * EVERY and f"frame 12/{GRIDS}" in panel.caption
        await pilot.press("end")
        await settled(pilot, app)
        assert panel.frame.step == last and "frame" not in panel.caption
        await pilot.press("home", "left_square_bracket")  # clamped at the first
        await settled(pilot, app)
        assert panel.frame.step == 0
        await pilot.press("q")


@sync
async def test_the_charts_cursor_follows_an_archived_grid(tmp_path):
    run = finished_run(tmp_path)
    app = view_app(run, "truecolor")
    async with app.run_test(size=(140, 45)) as pilot:
        await opened(pilot, app)
        calls: list[int | None] = []
        for chart in app.monitor.query("ChartView"):
            chart.set_cursor = calls.append  # type: ignore[attr-defined]
        await pilot.press("home", "right_curly_bracket")
        await settled(pilot, app)
        assert calls[-2:] == [10 * EVERY, 10 * EVERY]
        await pilot.press("q")


@sync
async def test_the_train_monitor_scrubs_back_past_the_feeds_frames_to_step_0(tmp_path):
    """Live: the feed holds the newest frames only; `home` reaches the run directory's first grid."""
    from ganterm.channel.control import Control
    from ganterm.channel.feed import Feed
    from ganterm.tui.app import GantermApp
    from ganterm.tui.screens.train import TrainScreen

    run = finished_run(tmp_path)
    feed = Feed()
    steps = [(GRIDS - 3 + i) * EVERY for i in range(3)]
    for step in steps:  # what the trainer still holds in memory
        feed.publish_samples(SampleFrame(step, "images", np.full((4, 8, 8, 1), 200, np.uint8)))
    feed.update(run_dir=str(run), state="running")
    app = GantermApp(TrainScreen(feed, Control(), None, color_system="truecolor"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        panel = app.monitor.query_one("#samples", SamplePanel)
        await pilot.press("left_square_bracket")
        await settled(pilot, app)
        assert panel.frame is feed.frames()[1] and f"frame {GRIDS - 1}/{GRIDS}" in panel.caption
        await pilot.press("home")
        await settled(pilot, app)
        assert panel.frame is not None and panel.frame.step == 0 and int(panel.frame.data.max()) == 0
        await pilot.press("right_curly_bracket")
        await settled(pilot, app)
        assert panel.frame.step == 10 * EVERY
        await pilot.press("end")
        await settled(pilot, app)
        assert panel.frame is feed.frames()[-1]


# -- past events --------------------------------------------------------------------------------------
@sync
async def test_a_finished_runs_past_events_are_not_toasted(tmp_path):
    run = finished_run(tmp_path)
    app = view_app(run, "truecolor")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.monitor
        toasts: list[str] = []
        screen.notify = lambda message, **kw: toasts.append(str(message))  # type: ignore[method-assign]
        await opened(pilot, app)
        await pilot.pause(0.6)
        kinds = [e.kind for e in screen.feed.events()]
        assert kinds.count("checkpoint") == 5 and all(e.past for e in screen.feed.events())
        assert not any("checkpoint saved" in t for t in toasts), toasts
        # one that arrives while the viewer is open is toasted
        with (run / "events.jsonl").open("a") as fh:
            rec = {"step": 300, "time": 0.0, "kind": "checkpoint", "message": "saved", "path": "ckpt_new.pt"}
            fh.write(json.dumps(rec) + "\n")
        deadline = time.monotonic() + 30
        while not any("ckpt_new.pt" in t for t in toasts):
            assert time.monotonic() < deadline, "the new checkpoint was never toasted"
            await pilot.pause(0.1)
        assert sum("checkpoint saved" in t for t in toasts) == 1
        await pilot.press("q")


# -- in a real terminal -------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_view_of_a_finished_run_reaches_step_0_in_tmux(tmp_path):
    run = finished_run(tmp_path)
    with TmuxSession(tmp_path, "view", str(run), size=(140, 45)) as tmux:
        tmux.wait_for_text(f"step {(GRIDS - 1) * EVERY}")
        time.sleep(1.0)  # the follow thread's checkpoint source in place
        tmux.keys("Home")
        screen = tmux.wait_for_text("step 0 ·")
        assert f"frame 1/{GRIDS}" in screen
        assert "checkpoint saved" not in screen  # the past checkpoints were not toasted
        assert tmux.quit() == 0


# -- 80x24 --------------------------------------------------------------------------------------------
@sync
async def test_at_80x24_the_help_scrolls_down_to_q():
    from test_tui_fixtures import fixed_app
    from textual.containers import VerticalScroll

    from ganterm.tui.dialogs import HelpScreen

    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one(VerticalScroll)
        assert box.max_scroll_y > 0 and box.scroll_y == 0  # longer than the screen
        assert any(k == "q" for k, _ in app.screen.keys)
        await pilot.press("end")
        await pilot.pause(0.3)
        assert box.scroll_y == box.max_scroll_y  # the last lines (q, ^c) in view
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
