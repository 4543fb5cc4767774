"""Pilot tests against the real trainer and real checkpoints: `train` keys, `view CKPT`, `view RUN_DIR`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from test_tui_fixtures import sync

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve
from ganterm.errors import CheckpointError, GantermError
from ganterm.session import Session
from ganterm.tui.app import view_app
from ganterm.tui.widgets.charts import ChartView
from ganterm.tui.widgets.config_panel import ConfigPanel
from ganterm.tui.widgets.events import EventLog
from ganterm.tui.widgets.samples import SamplePanel
from ganterm.tui.widgets.status import StatusLine

SIZE = (100, 30)
DEADLINE_S = 60  # a safety net for a broken build, not a timing assertion


def ring_config(out: Path, steps: int) -> TrainConfig:
    return resolve(
        TrainConfig(
            dataset="ring",
            steps=steps,
            out=str(out),
            ckpt_every=10,
            sample_every=5,
            device="cpu",
            publish_every=5,
        )
    )


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    from ganterm.training.trainer import Trainer

    out = tmp_path_factory.mktemp("ring") / "run"
    Trainer(ring_config(out, 20)).run()
    return out


async def wait_for(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await pilot.pause(0.05)


@pytest.mark.slow  # the same path as tests/test_tmux.py, through Pilot instead of a terminal
@sync
async def test_train_keys_with_real_trainer(tmp_path):
    cfg = ring_config(tmp_path / "run", 100_000)
    app = Session(cfg).monitor_app("truecolor")
    feed = app.monitor.feed
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusLine)
        assert "STARTING" in status.render().plain  # up before torch is imported
        await wait_for(pilot, lambda: feed.snapshot.state == "running" and feed.snapshot.step > 0, "training")
        await pilot.press("p")
        await wait_for(pilot, lambda: "PAUSED" in status.render().plain, "PAUSED")
        await pilot.press("c")
        await wait_for(pilot, lambda: any(e.kind == "checkpoint" for e in feed.events()), "checkpoint event")
        path = Path(next(e for e in feed.events() if e.kind == "checkpoint").data["path"])
        assert path.exists()
        log = app.screen.query_one(EventLog)
        # the feed has the event at once; the log shows it at the UI's next poll (4 times a second)
        await wait_for(
            pilot, lambda: any(path.name in line.plain for line in log.lines), "checkpoint in the log"
        )
        await pilot.press("q")
    assert app.return_code == 0
    assert app.monitor.worker.is_finished
    assert feed.events()[-1].kind == "end"
    assert len(list((tmp_path / "run" / "checkpoints").glob("*.pt"))) >= 1


@sync
async def test_view_checkpoint(ring_run):
    ckpt = sorted((ring_run / "checkpoints").glob("*.pt"))[-1]
    app = view_app(ckpt, "truecolor")
    screen = app.monitor
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(SamplePanel)
        await wait_for(pilot, lambda: panel.frame is not None, "samples")
        line = app.screen.query_one(StatusLine).render().plain
        assert "VIEW" in line and "ring · toy · ns" in line and "step 20/20" in line
        assert len(screen.feed.series("d_loss")) == 20
        chart = app.screen.query_one("#loss-chart", ChartView)
        # drawn at the screen's next refresh, which on a loaded machine may come after the samples
        await wait_for(pilot, lambda: chart.renders >= 1, "the loss chart")
        assert any("ckpt" in t.plain for t in app.screen.query_one(EventLog).lines)
        assert panel.frame.kind == "points" and panel.frame.real is not None
        fixed = panel.frame

        await pilot.press("r")
        await wait_for(pilot, lambda: "new noise (seed 1)" in panel.caption, "new noise")
        assert panel.frame is not fixed
        await pilot.press("i")
        await wait_for(pilot, lambda: "interpolation" in panel.caption, "interpolation")
        assert panel.cols_hint == 8
        await pilot.press("n")
        await wait_for(pilot, lambda: panel.caption.endswith("fixed noise"), "fixed noise")

        config = app.screen.query_one(ConfigPanel)
        assert not config.has_class("-shown")
        await pilot.press("o")
        assert config.has_class("-shown") and config.display
        body = str(config.query_one("#config-body").render())
        assert "dataset" in body and "ring" in body
        await pilot.press("escape")  # esc closes the panel, as it closes help and the full screen
        assert not config.has_class("-shown")
        await pilot.press("o", "o", "q")
    assert app.return_code == 0


@sync
async def test_view_follows_a_growing_run_dir(tmp_path):
    from ganterm.training.trainer import Trainer

    out = tmp_path / "live"
    control = Control()
    trainer = Trainer(ring_config(out, 100_000), Feed(), control)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not (out / "config.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        app = view_app(out, "truecolor")
        feed = app.monitor.feed
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: feed.snapshot.step > 0, "first metrics")
            first = feed.snapshot.step
            await wait_for(pilot, lambda: feed.snapshot.step > first, "more metrics")
            line = app.screen.query_one(StatusLine).render().plain
            assert "RUNNING" in line and "ring" in line
            await pilot.press("q")
        assert app.return_code == 0
    finally:
        control.stop()
        thread.join()


def test_view_refuses_missing_and_foreign_paths(tmp_path):
    with pytest.raises(CheckpointError):
        view_app(tmp_path / "nope.pt")
    with pytest.raises(GantermError):
        view_app(tmp_path)  # a directory without config.json or metrics.jsonl


@sync
async def test_view_bad_checkpoint_exits_with_its_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    app = view_app(bad, "truecolor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.monitor.loader.is_finished, "loader")
        await pilot.pause(0.1)
    assert app.return_code == 1
    assert isinstance(app.monitor.error, CheckpointError)


def test_config_panel_shows_the_loss_after_swaps():
    from ganterm.tui.adapters import config_for_panel

    config = {"dataset": "shapes", "loss": "ns", "steps": 1500}
    ckpt = {
        "loss_name": "hinge",
        "swaps": [
            {"step": 300, "from": "ns", "to": "minimax"},
            {"step": 1350, "from": "minimax", "to": "hinge"},
        ],
    }
    shown = config_for_panel(config, ckpt)
    assert shown["loss"] == "hinge" and shown["loss swaps"] == "ns → minimax @300 → hinge @1,350"
    assert list(shown) == ["dataset", "loss", "loss swaps", "steps"]
    assert config["loss"] == "ns"  # the stored config itself is left as it was
    assert config_for_panel(config, {"loss_name": "ns", "swaps": []}) == config
    assert config_for_panel(config, None) == config
