"""Issue 22, part 2: a run directory from someone else never breaks the viewer, the export or the reader.

Each case of tests/hostile_runs.py (torn, 100 MB, non-UTF-8, NaN/inf, wrong-type and out-of-order
records in metrics.jsonl and events.jsonl; config.json that is no object, names an unknown algorithm or
carries a hostile layout; a decompression bomb, a truncated PNG, a link out of the run, an empty file
and a directory in samples/; system.jsonl garbage; FIFOs) is read by `ganterm view RUN` (the app the CLI
runs, under Pilot), by `ganterm export RUN` (the real CLI) and by the reader itself: each survives,
says what it skipped (a warning event, or one stderr line), and shows hostile strings as text. Under
tmux, a run holding several cases at once is viewed alone and beside another (`view A B`), and a run
directory that is a symlink loop is refused in one line.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fault_helpers import one_line_error, run_cli
from hostile_runs import (
    ANSI,
    CASES,
    MARKUP,
    STEPS,
    config_hostile_layout,
    events_garbage,
    hostile_run,
    metrics_wrong_types,
    samples_symlink_out,
    system_garbage,
    write_run,
)
from test_tui_fixtures import sync
from tmux_helpers import TmuxSession

from ganterm.rundir.reader import RunDirReader

UNSAFE = [chr(c) for c in range(32) if chr(c) not in "\n"] + ["\x7f", "\x9b"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile-runs")
    return {case: hostile_run(root, case) for case in CASES}


def _no_control_characters(text: str) -> bool:
    return not any(c in text for c in UNSAFE)


def _check_feed(feed, case: str) -> None:
    """What the reader put in the feed: warnings as the case expects, strings safe to show, steps that
    only go up, and never the picture a followed link would have shown."""
    want = CASES[case][1]
    warnings = [e.message for e in feed.events() if e.kind == "warning"]
    assert not want or any(want in w for w in warnings), (case, warnings)
    snap = feed.snapshot
    for text in (snap.dataset, snap.model, snap.algo, snap.loss, snap.message, *snap.views):
        assert _no_control_characters(text), (case, text)
    for ev in feed.events():
        assert _no_control_characters(ev.kind + ev.message) and len(ev.message) <= 1000, (case, ev)
    for g in snap.layout.groups:
        assert _no_control_characters(g.title + "".join(s.label for s in g.series)), (case, g)
    if "d_loss" in snap.metrics:
        x = feed.series("d_loss").x
        assert (x[1:] > x[:-1]).all(), case
    for frame in feed.frames("samples"):
        assert frame.data.shape[1:3] != (99, 99), "a link out of the run was followed"


@pytest.mark.parametrize("case", list(CASES))
def test_the_reader_survives(runs, case):
    reader = RunDirReader(runs[case])
    for _ in range(3):
        reader.poll()
    _check_feed(reader.feed, case)
    if case.startswith("metrics-") and case != "metrics-fifo":
        assert len(reader.feed.series("d_loss").x) >= STEPS  # the good rows are all there
    if case.startswith("samples-") and case != "samples-dir-link-loop":
        assert reader.feed.frames("samples")[-1].step == 20  # the newest grid that reads


@pytest.mark.parametrize("case", list(CASES))
@sync
async def test_view_survives(runs, case):
    """The app `ganterm view RUN` runs (tui.app.view_app), driven by Pilot until its follow thread has
    polled with the checkpoint source in place; it keeps running and quits cleanly."""
    from ganterm.tui.app import view_app

    app = view_app(runs[case], "truecolor")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.monitor
        deadline = time.monotonic() + 60
        while screen.reader.checkpoints is None or screen.feed.version < 2:
            assert time.monotonic() < deadline, f"{case}: the reader never polled"
            assert screen.error is None, screen.error
            await pilot.pause(0.05)
        await pilot.pause(0.6)  # one more poll, and a redraw of everything it brought
        await pilot.press("o")  # the config panel: hostile keys and values as text
        await pilot.pause(0.1)
        assert screen.error is None, screen.error
        _check_feed(screen.feed, case)
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.parametrize("case", list(CASES))
def test_export_survives(runs, case, tmp_path):
    gif, csv = tmp_path / "run.gif", tmp_path / "metrics.csv"
    r = run_cli("export", str(runs[case]), "--gif", str(gif), "--csv", str(csv), timeout=300)
    assert "Traceback" not in r.stderr and _no_control_characters(r.stderr.replace("\n", "")), r.stderr
    if r.returncode != 0:  # nothing of that kind left to export: one line, nothing written
        line = one_line_error(r)
        assert case in ("metrics-fifo", "samples-dir-link-loop"), line
        assert not gif.exists() and not csv.exists()
        return
    for line in r.stderr.splitlines():
        assert line.startswith("ganterm: warning: "), r.stderr
    if case.startswith("samples-"):
        assert "ganterm: warning: skipped" in r.stderr and "step_0000040.png" in r.stderr
    assert "2 frames" in r.stdout  # the two genuine grids
    steps = [int(row.split(",")[0]) for row in csv.read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and len(steps) >= STEPS


def test_a_run_directory_that_is_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    good = write_run(tmp_path / "good")
    for args in (["view", str(loop)], ["export", str(loop), "--csv", str(tmp_path / "m.csv")]):
        line = one_line_error(run_cli(*args))
        assert str(loop) in line, line
    r = run_cli("view", str(good), str(loop))
    assert r.returncode == 2 and "no such checkpoint or run directory" in one_line_error(r)


def _combined(root: Path) -> Path:
    """One run holding several cases at once."""
    run, outside = write_run(root / "combined"), root / "outside"
    outside.mkdir(exist_ok=True)
    for build in (
        events_garbage,
        config_hostile_layout,
        metrics_wrong_types,
        system_garbage,
        samples_symlink_out,
    ):
        build(run, outside)
    return run


def _check_terminal(tmux: TmuxSession) -> None:
    screen = tmux.screen()
    assert "[bold red]loud[/]" in screen  # Rich markup drawn as the characters it is
    assert "\\x1b" in screen  # ESC shown escaped, never sent to the terminal
    assert "pwned" not in tmux.title()  # the OSC 0 in the hostile strings never retitled the pane


def test_view_of_a_hostile_run_in_a_real_terminal(tmp_path):
    run = _combined(tmp_path)
    with TmuxSession(tmp_path, "view", str(run)) as tmux:
        # the hostile layout's chart title, drawn as text (left of the event log, which toasts may cover)
        tmux.wait_for_text("[bold red]loud[/]")
        tmux.keys("o")  # the config panel, with a 100 kB key and hostile values
        time.sleep(1.0)
        _check_terminal(tmux)
        assert tmux.quit() == 0


def test_compare_of_hostile_runs_in_a_real_terminal(tmp_path):
    a = _combined(tmp_path)
    b = hostile_run(tmp_path, "config-not-object")
    c = hostile_run(tmp_path, "samples-bomb")
    with TmuxSession(tmp_path, "view", str(a), str(b), str(c)) as tmux:
        tmux.wait_for_text("config-not-object")  # the legend names every run
        time.sleep(1.5)  # every reader polled
        _check_terminal(tmux)
        tmux.keys("v")
        time.sleep(0.5)
        tmux.keys("a")  # every run's samples side by side
        time.sleep(0.5)
        assert tmux.quit() == 0


def test_hostile_strings_are_escaped_in_the_feed(runs):
    """The values themselves: ESC becomes the four characters \\x1b, markup stays literal, 100 kB
    strings are cut."""
    reader = RunDirReader(runs["config-hostile-layout"])
    reader.poll()
    layout = reader.feed.snapshot.layout
    assert layout.groups[0].title == MARKUP
    assert layout.groups[1].title.startswith(ANSI.replace("\x1b", "\\x1b").replace("\x07", "\\x07")[:20])
    assert len(layout.groups[1].title) <= 120
    assert {s.color for g in layout.groups for s in g.series} <= {
        "red",
        "cyan",
        "green",
        "magenta",
        "yellow",
        "blue",
        "white",
    }
    assert all(h.fmt == ".4f" for h in layout.headline)  # "{0.__class__}" is no number format
    config = json.loads((runs["config-hostile-layout"] / "config.json").read_text())
    assert reader.config["model"] == config["model"]  # kept as read; only what is shown is escaped
