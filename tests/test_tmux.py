"""End to end in a real terminal: `python -m ganterm train ring` under tmux, driven with send-keys.

Uses a private tmux socket so it never touches the user's sessions. The exit code is written to a file by
the shell that ran the command.
"""

from __future__ import annotations

import json
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


def test_dropped_terminal_saves_and_exits(tmp_path):
    """Killing the tmux session hangs up the pty, as a dropped SSH connection does: SIGHUP must end the
    run with a final checkpoint of the last step."""
    from ganterm.training.checkpoint import newest_loadable

    socket = f"ganterm-hup-{os.getpid()}"
    out, pid_file = tmp_path / "run", tmp_path / "pid"
    command = (
        f"unset COLUMNS LINES; cd {REPO} && echo $$ > {pid_file} && "
        f"exec {sys.executable} -m ganterm train ring --out {out} --steps 100000"
    )
    subprocess.run(
        ["tmux", "-L", socket, "new-session", "-d", "-s", "gt", "-x", "100", "-y", "30", command], check=True
    )
    try:
        wait_until(
            lambda: (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").stat().st_size > 0,
            "training to start",
        )
        pid = int(pid_file.read_text())
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=True)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, "the process to exit after the hang-up")
        events = (out / "events.jsonl").read_text()
        assert '"kind": "end"' in events and "stopped" in events
        found = newest_loadable(out)
        assert found is not None
        last_step = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
        assert found[1]["step"] == last_step
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
