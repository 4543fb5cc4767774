"""End to end in a real terminal: `python -m ganterm train ring` under tmux, driven with send-keys.

Uses a private tmux socket so it never touches the user's sessions. The exit code is written to a file by
the shell that ran the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 120  # a safety net for a hung run, not a timing assertion


def wait_until(condition, what: str, screen=None):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = f"; the screen:\n{screen()}" if screen else ""
            raise AssertionError(f"gave up waiting for {what}{shown}")
        time.sleep(0.2)


def test_train_ring_in_tmux(tmp_path):
    socket = f"ganterm-test-{os.getpid()}"
    out, rc_file = tmp_path / "run", tmp_path / "exit_code"
    # pytest's environment carries COLUMNS=80 LINES=24, which would override the pane's real size
    command = (
        f"unset COLUMNS LINES; cd {REPO} && "
        f"{sys.executable} -m ganterm train ring --out {out} --steps 100000 --batch-size 64; "
        f"echo $? > {rc_file}; sleep 60"
    )

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "gt")

    tmux("new-session", "-d", "-s", "gt", "-x", "120", "-y", "40", command)
    try:
        wait_until(lambda: "RUNNING" in screen(), "RUNNING in the header")
        assert "ring · toy · ns" in screen()
        tmux("send-keys", "-t", "gt", "p")
        wait_until(lambda: "PAUSED" in screen(), "PAUSED in the header", screen)
        tmux("send-keys", "-t", "gt", "c")
        ckpt = wait_until(lambda: sorted((out / "checkpoints").glob("ckpt_*.pt")), "a checkpoint file")
        wait_until(lambda: ckpt[-1].name in screen(), "the checkpoint's name on screen", screen)
        tmux("send-keys", "-t", "gt", "q")
        wait_until(rc_file.exists, "the process to exit")
        assert rc_file.read_text().strip() == "0"
        events = (out / "events.jsonl").read_text()
        assert '"kind": "end"' in events
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
