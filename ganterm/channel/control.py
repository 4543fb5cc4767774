"""The one-way channel from UI to trainer: commands queued by anyone, applied between steps."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Literal

CommandName = Literal[
    "pause", "resume", "toggle_pause", "swap_loss", "checkpoint", "resample", "rollback", "stop", "view"
]


@dataclass(frozen=True)
class Command:
    name: CommandName
    args: dict[str, Any]


class Control:
    """Thread-safe; `stop_event` is also set directly so a paused or sleeping trainer wakes at once."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.stop_event = threading.Event()

    def _put(self, command: CommandName, **args: Any) -> None:
        self._queue.put(Command(command, args))

    def pause(self) -> None:
        self._put("pause")

    def resume(self) -> None:
        self._put("resume")

    def toggle_pause(self) -> None:
        self._put("toggle_pause")

    def swap_loss(self, name: str) -> None:
        self._put("swap_loss", name=name)

    def checkpoint(self, reason: str = "manual") -> None:
        self._put("checkpoint", reason=reason)

    def resample(self, seed: int | None = None) -> None:
        self._put("resample", seed=seed)

    def show_view(self, spec: dict[str, Any] | None) -> None:
        """Publish an extra sample view with every grid ({"view": "traversal", "code": 1}; None: off)."""
        self._put("view", spec=spec)

    def rollback(self, lr_scale: float = 1.0, loss: str | None = None) -> None:
        self._put("rollback", lr_scale=lr_scale, loss=loss)

    def stop(self, reason: str = "user") -> None:
        self.stop_event.set()
        self._put("stop", reason=reason)

    def submit(self, name: str, args: dict[str, Any]) -> bool:
        """A command by name from outside the process (a RUN/commands file, a `:` line): the one place
        such names map to the calls above. False for a name or argument the trainer does not take."""
        if name in ("pause", "resume", "toggle_pause"):
            getattr(self, name)()
        elif name == "checkpoint":
            self.checkpoint("manual")
        elif name == "stop":
            self.stop(reason=str(args.get("reason", "viewer")))
        elif name == "swap_loss" and (args.get("value") or args.get("name")):
            self.swap_loss(str(args.get("value") or args.get("name")))
        elif name == "rollback":
            try:
                lr_scale = float(args.get("value", args.get("lr_scale", 1.0)))
            except (TypeError, ValueError):
                return False
            self.rollback(lr_scale=lr_scale, loss=args.get("loss"))
        else:
            return False
        return True

    def drain(self) -> list[Command]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float) -> Command | None:
        """Block up to `timeout` for the next command (used while paused)."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
