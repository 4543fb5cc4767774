"""`python -m ganterm ...` in a real terminal: a private tmux server per session, driven with send-keys.

The pattern of tests/test_tmux.py as a helper, for the viewer cases of issue 22 (hostile run directories,
untrusted model files). The exit code is written to a file by the shell that ran the command.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 120  # a safety net for a hung viewer, not a timing assertion


class TmuxSession:
    """One command in a detached tmux session on its own socket; `screen()` is what the pane shows."""

    def __init__(self, tmp: Path, *args: str, size: tuple[int, int] = (140, 45), env: str = "") -> None:
        self.socket = f"ganterm-{os.getpid()}-{time.monotonic_ns()}"
        self.rc_file = tmp / f"rc-{self.socket}"
        cmd = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "ganterm", *args))
        # pytest's environment carries COLUMNS=80 LINES=24, which would override the pane's real size
        shell = f"unset COLUMNS LINES; cd {REPO} && {env} {cmd}; echo $? > {self.rc_file}; sleep 60"
        self.tmux("new-session", "-d", "-s", "gt", "-x", str(size[0]), "-y", str(size[1]), shell)

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "gt")

    def title(self) -> str:
        """The pane's title: what an OSC 0/2 escape that reached the terminal would have set."""
        return self.tmux("display-message", "-p", "-t", "gt", "#{pane_title}").strip()

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "gt", *keys)

    def wait(self, condition, what: str):
        deadline = time.monotonic() + DEADLINE_S
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}; the screen:\n{self.screen()}")
            time.sleep(0.2)

    def wait_for_text(self, text: str) -> str:
        def shown() -> str:
            screen = self.screen()
            return screen if text in screen else ""

        return self.wait(shown, repr(text))

    def quit(self) -> int:
        """Press q and return the command's exit code."""
        self.keys("q")
        self.wait(self.rc_file.exists, "the viewer to exit")
        return int(self.rc_file.read_text().strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    def __enter__(self) -> TmuxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
