"""Where download and decode progress goes: a Rich bar on stderr (headless), or one line of text.

Loaders take `progress`: True draws Rich bars on stderr, False draws nothing, and any object with
Rich Progress's `add_task` / `update` methods receives the updates instead. Under the TUI, stderr bars
would tear the screen, so the trainer passes a `LineProgress` that puts "downloading … 42 % (4.1/9.9
MB)" into the header through the feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class ProgressSink(Protocol):
    def add_task(self, description: str, total: float | None = None, **fields: Any) -> Any: ...

    def update(self, task_id: Any, *, completed: float) -> None: ...


ProgressArg = bool | ProgressSink


def progress_context(progress: ProgressArg, make_bar: Callable[[], Any]) -> AbstractContextManager[Any]:
    """A context giving the sink to report to, or None: `make_bar()` (a Rich Progress) only for True."""
    if progress is True:
        return make_bar()
    if not progress:
        return nullcontext(None)
    return nullcontext(progress)


def format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class LineProgress:
    """Reports each task as one line of text through `say`, at most every `interval` seconds."""

    def __init__(self, say: Callable[[str], None], interval: float = 0.25) -> None:
        self.say = say
        self.interval = interval
        self._tasks: dict[int, tuple[str, float | None, str]] = {}
        self._said_at = 0.0

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        task = len(self._tasks)
        self._tasks[task] = (description, total, str(fields.get("unit", "bytes")))
        self.say(f"{description} …")
        self._said_at = time.monotonic()
        return task

    def update(self, task_id: int, *, completed: float) -> None:
        description, total, unit = self._tasks[task_id]
        done = total is not None and completed >= total
        now = time.monotonic()
        if not done and now - self._said_at < self.interval:
            return
        self._said_at = now
        self.say(f"{description} {self.describe(completed, total, unit)}")

    @staticmethod
    def describe(completed: float, total: float | None, unit: str) -> str:
        if unit == "bytes":
            amount = format_size(completed) + (f"/{format_size(total)}" if total else "")
        else:
            amount = f"{completed:,.0f}" + (f"/{total:,.0f}" if total else "") + f" {unit}"
        if total:
            return f"{100 * min(completed / total, 1.0):.0f} % ({amount})"
        return amount
