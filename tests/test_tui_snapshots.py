"""Layout snapshots (pytest-textual-snapshot), driven by a Feed filled with fixed data: no trainer, no clock.

Update after an intended layout change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from test_tui_fixtures import fixed_app


@pytest.mark.parametrize("size", [(80, 24), (160, 50), (100, 30)])
@pytest.mark.parametrize("kind", ["images", "points"])
def test_train_layout(snap_compare, kind, size):
    assert snap_compare(fixed_app(kind), terminal_size=size)


def test_chart_options_toggled(snap_compare):
    # smoothing 0.9, symlog, gradient norms, last 200 steps
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["s", "y", "g", "w", "w"])


def test_browsing_an_older_frame(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["left_square_bracket"])


def test_help_screen(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["question_mark"])


def test_loss_picker(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["l"])


def test_small_terminal(snap_compare):
    assert snap_compare(fixed_app(), terminal_size=(40, 12))


def test_help_screen_scrolls_to_the_last_key(snap_compare):
    """At 80x24 the help is longer than the screen: `end` scrolls it down to `q` (issue 23)."""
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["question_mark", "end"])


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_view_of_a_finished_run(snap_compare, tmp_path_factory, size):
    """`ganterm view RUN` on a finished run: y numbers on the chart, a footer that fits, no toasts of
    its past checkpoints; `home` shows its first grid (issue 23)."""
    import time

    from test_scrub_history import finished_run

    from ganterm.tui.app import view_app

    # the same folder name every time: the path does not show, but keep it stable anyway
    app = view_app(finished_run(tmp_path_factory.mktemp(f"view{size[0]}", numbered=False)), "truecolor")

    async def read(pilot) -> None:
        deadline = time.monotonic() + 60
        while app.monitor.reader.checkpoints is None or not app.monitor.feed.frames():
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.press("home")
        while any(w.name == "grid" and not w.is_finished for w in app.monitor.workers):
            await pilot.pause(0.02)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=read)
