"""Layout snapshots (pytest-textual-snapshot), driven by a Feed filled with fixed data: no trainer, no clock.

Update after an intended layout change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from test_tui_fixtures import fixed_app


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
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
