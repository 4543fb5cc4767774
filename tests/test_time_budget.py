"""--time: the wall-clock budget, its step-total estimate, pauses, and a real run that ends on it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, parse_duration, resolve
from ganterm.errors import UsageError
from ganterm.training.budget import TimeBudget
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.trainer import Trainer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "text,seconds",
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("1.5h", 5400), ("45", 45), (" 2 m ", 120)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "-3m", "0s", "5m3", "soon", "1e400"])
def test_bad_durations_say_what_to_give(text):
    with pytest.raises(UsageError, match="--time"):
        parse_duration(text)


def test_budget_estimates_from_the_speed_after_warm_up_and_skips_pauses():
    clock = FakeClock()
    b = TimeBudget(100.0, clock)  # warm-up: 5 s
    assert b.estimate_total(0) is None and not b.expired()
    b.start(0)
    clock.now += 2.0
    assert b.estimate_total(10) == 10 + (5 * 98)  # warm-up guess: 5 steps/s so far
    clock.now += 3.0
    b.estimate_total(400)  # the warm-up ends here; the speed is measured from this point on
    clock.now += 10.0
    assert b.estimate_total(1400) == 1400 + (100 * 85)  # 100 steps/s for the 85 s left
    b.pause()
    clock.now += 1000.0  # a long pause spends nothing
    assert b.left() == pytest.approx(85.0)
    b.resume()
    clock.now += 84.0
    assert not b.expired() and b.left() == pytest.approx(1.0)
    clock.now += 1.0
    assert b.expired() and b.estimate_total(9900) == 9900


def test_time_replaces_the_recipe_steps_but_an_explicit_cap_stays():
    assert resolve(TrainConfig(dataset="shapes", time_limit=60)).steps is None
    assert resolve(TrainConfig(dataset="shapes", time_limit=60, steps=7)).steps == 7
    assert resolve(TrainConfig(dataset="shapes")).steps == 1500


class StepClock:
    """A perf_counter that moves 10 ms on every look: the run's length is then independent of the load."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.01
        return self.now


def test_a_timed_run_finishes_with_a_final_checkpoint_and_a_decayed_rate(tmp_path, monkeypatch):
    import ganterm.training.budget as budget

    monkeypatch.setattr(budget, "time", StepClock())
    cfg = resolve(
        TrainConfig(
            dataset="shapes",
            time_limit=0.6,
            out=str(tmp_path / "run"),
            lr_decay="linear",
            lr_decay_start=0.5,
            batch_size=8,
            publish_every=5,
        )
    )
    feed = Feed()
    t = Trainer(cfg, feed, Control())
    t.run()
    assert 20 < t.step < 80 and t.total_steps == t.step
    assert feed.snapshot.state == "finished" and feed.snapshot.eta_s == 0.0
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / f"ckpt_{t.step:07d}.pt")
    assert ckpt["total_steps"] == t.step
    # The schedule ran on the estimated total: by the end the rate has nearly decayed away.
    assert ckpt["lr_factor"] < 0.25
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["kind"] == "end" and "finished" in events[-1]["message"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["time_limit"] == 0.6


def test_a_step_cap_ends_a_timed_run_first(tmp_path):
    cfg = resolve(TrainConfig(dataset="shapes", time_limit=600, steps=5, out=str(tmp_path / "run")))
    t = Trainer(cfg)
    t.run()
    assert t.step == 5


def test_cli_time_headless_and_bad_time(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "ganterm", "train", "shapes", "--time", "2s", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "finished at step" in ok.stdout + ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "ganterm", "train", "shapes", "--time", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--time" in bad.stderr
