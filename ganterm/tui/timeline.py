"""The step scrubber's positions: a run's older recorded grids (on disk, decoded only when shown) before
the frames the feed holds in memory, oldest first."""

from __future__ import annotations

import math

from ganterm.channel.feed import Feed, SampleFrame

Entry = int | SampleFrame  # an archived grid's step, or a frame in the feed


def timeline(feed: Feed) -> list[Entry]:
    """Every position `[ ] { } home end` can reach, oldest first."""
    frames: list[Entry] = list(feed.frames())
    archive = feed.archive
    if archive is None:
        return frames
    first = frames[0].step if frames else math.inf  # type: ignore[union-attr]
    return [*archive.steps_before(first), *frames]


def position(entries: list[Entry], entry: Entry) -> int | None:
    """Where `entry` is (an archived step by value, a frame by identity), or None when it is gone."""
    if isinstance(entry, int):
        return next((i for i, e in enumerate(entries) if isinstance(e, int) and e == entry), None)
    return next((i for i, e in enumerate(entries) if e is entry), None)


def step_of(entry: Entry) -> int:
    return entry if isinstance(entry, int) else entry.step
