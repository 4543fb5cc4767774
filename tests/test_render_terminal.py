"""Colour depth and Unicode support from the environment only."""

from __future__ import annotations

import pytest

from ganterm.errors import UsageError
from ganterm.render.terminal import detect_color_system, supports_unicode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, "truecolor"),
        ({"COLORTERM": "24bit"}, "truecolor"),
        ({"TERM": "xterm-256color"}, "256"),
        ({"TERM": "tmux-256color"}, "256"),
        ({"TERM": "screen-256color"}, "256"),
        ({"TERM": "xterm"}, "16"),
        ({"TERM": "linux"}, "16"),
        ({}, "16"),
        ({"TERM": "dumb"}, "none"),
        ({"NO_COLOR": "1", "COLORTERM": "truecolor"}, "none"),
        ({"NO_COLOR": "", "TERM": "xterm-256color"}, "256"),  # an empty NO_COLOR does not count
        ({"COLORTERM": "yes", "TERM": "xterm"}, "16"),
    ],
)
def test_detect_color_system_rules(env, expected):
    assert detect_color_system(env) == expected


def test_forced_wins_and_is_checked():
    assert detect_color_system({"NO_COLOR": "1"}, forced="truecolor") == "truecolor"
    assert detect_color_system({"COLORTERM": "truecolor"}, forced="none") == "none"
    with pytest.raises(UsageError, match="choose one of: truecolor, 256, 16, none"):
        detect_color_system({}, forced="lots")


def test_supports_unicode_by_encoding():
    assert supports_unicode("utf-8")
    assert supports_unicode("UTF8")
    assert not supports_unicode("ascii")
    assert not supports_unicode("latin-1")
    assert not supports_unicode("no-such-codec")


def test_supports_unicode_reads_stdout(monkeypatch):
    class Stream:
        encoding = "ascii"

    monkeypatch.setattr("sys.stdout", Stream())
    assert not supports_unicode()
