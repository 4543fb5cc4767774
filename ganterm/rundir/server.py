"""RUN/commands/ -> a run's Control, and its state -> RUN/status.json: how `ganterm view RUN` steers a run
it did not start, whatever started it (the monitor, headless, `ganterm.fit`). Torch- and Textual-free."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.rundir.commands import BUILTIN_COMMANDS, CommandReceiver, exposure_warnings, write_status

# What the trainer accepts beyond the built-ins (listed in status.json, so the viewer's `:` offers them).
TRAINER_COMMANDS = (
    {"name": "swap_loss", "help": "swap the loss: minimax, ns, lsgan, wgan, wgan-gp, hinge", "arg": "str"},
    {"name": "rollback", "help": "restore the last good state, learning rates times VALUE", "arg": "float"},
)
STATUS_EVERY_S = 2.0
POLL_S = 0.25


def serve_commands(feed: Feed, control: Control, source: str = "ganterm train") -> Callable[[], None]:
    """A daemon thread that waits for the run directory (the feed names it once the trainer made it),
    then forwards each command file to `control` and keeps status.json fresh. Returns the function that
    stops it after a last status saying how the run ended. The trainer's own events (pause, resume,
    checkpoint, end) are the acknowledgements the viewer sees. What the channel ignores (another user's
    command file, a link) and a run directory others can write into are warning events."""
    done = threading.Event()

    def status(run_dir: Path) -> None:
        snap = feed.snapshot
        record = {
            "source": source,
            "state": snap.state,
            "step": snap.step,
            "commands": [*BUILTIN_COMMANDS, *TRAINER_COMMANDS],
        }
        # The run directory may be gone for now; the trainer recreates it at its next checkpoint.
        with contextlib.suppress(OSError):
            write_status(run_dir, record)

    def serve() -> None:
        while not feed.snapshot.run_dir:
            if done.wait(0.2):
                return
        run_dir = Path(feed.snapshot.run_dir)
        for line in exposure_warnings(run_dir):
            feed.event("warning", line)
        try:
            receiver = CommandReceiver(run_dir)
        except OSError as e:
            feed.event(
                "warning", f"RUN/commands cannot be used ({e.strerror or e}); the run takes no commands"
            )
            return
        shown, beat = None, 0.0
        while True:
            for cmd in receiver.poll():
                control.submit(cmd.name, cmd.args)
            for line in receiver.take_warnings():
                feed.event("warning", line)
            now = time.monotonic()
            if feed.snapshot.state != shown or now - beat >= STATUS_EVERY_S:
                shown, beat = feed.snapshot.state, now
                status(run_dir)
            if done.wait(POLL_S):
                status(run_dir)  # the last word: finished, stopped or error
                return

    thread = threading.Thread(target=serve, name="run-commands", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(timeout=5)

    return stop
