"""Every way a run starts gets the same services (one `Session`): `ganterm train` headless and under the
monitor, `ganterm.fit` headless and under the monitor. Each writes RUN/system.jsonl, obeys a pause
written to RUN/commands/ (what `ganterm view RUN` sends from a second SSH session), and on SIGHUP (the
SSH connection dropped) finishes its step, writes a final checkpoint that loads, and exits 0.

The monitor entries run in a real terminal under tmux (a private socket); the headless ones in a
subprocess with no terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from fault_helpers import ENDLESS_RING, events, metric_steps, wait_for

from ganterm.rundir.commands import send_command
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint

REPO = Path(__file__).resolve().parents[1]

FIT_SCRIPT = """
import sys
import torch
from torch import nn
import ganterm

G = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2))
D = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
points = torch.randn(2000, 2) * 0.5
ganterm.fit(G, D, points, steps=10**7, out=sys.argv[1], headless=sys.argv[2] == "headless",
            ckpt_every=10**7, sample_every=10**7)
"""


def _entry_command(entry: str, run: Path, script: Path) -> list[str]:
    if entry.startswith("train"):
        args = [a for a in ENDLESS_RING if entry == "train-headless" or a != "--headless"]
        return [sys.executable, "-m", "ganterm", *args, "--out", str(run)]
    return [sys.executable, str(script), str(run), "headless" if entry == "fit-headless" else "monitor"]


class Tmux:
    """One pane running `argv` in a real terminal; the pane stays after the process ends (its status)."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.socket = f"ganterm-entry-{os.getpid()}-{time.monotonic_ns()}"
        self.rc_file = cwd / "exit_code"
        # pytest's COLUMNS/LINES would override the pane's real size; the shell records the exit code
        # (128 + N for a process killed by signal N)
        command = (
            f"unset COLUMNS LINES; {' '.join(_quote(a) for a in argv)}; echo $? > {self.rc_file}; sleep 60"
        )
        self.tmux("new-session", "-d", "-s", "e", "-x", "120", "-y", "40", "-c", str(cwd), command)
        shell = psutil.Process(int(self.tmux("display-message", "-p", "-t", "e", "#{pane_pid}").strip()))
        deadline = time.monotonic() + 30
        while not shell.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid = shell.children()[0].pid

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def exit_status(self) -> int | None:
        """The process's exit code once it ended (the shell wrote it)."""
        text = self.rc_file.read_text().strip() if self.rc_file.exists() else ""
        return int(text) if text else None

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _quote(a: str) -> str:
    import shlex

    return shlex.quote(a)


ENTRIES = ["train-headless", "train-monitor", "fit-headless", "fit-monitor"]


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_entry_point_gets_every_service(tmp_path: Path, entry: str):
    if entry.endswith("monitor") and shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    run, script = tmp_path / "run", tmp_path / "fit_script.py"
    script.write_text(FIT_SCRIPT)
    argv = _entry_command(entry, run, script)
    proc: subprocess.Popen | None = None
    pane: Tmux | None = None
    if entry.endswith("headless"):
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)},
        )
        pid = proc.pid
    else:
        pane = Tmux(argv, tmp_path)
        pid = pane.pid
    try:
        wait_for("the first metrics", lambda: len(metric_steps(run)) >= 2, proc)
        # system readings: the pane's sampler writes RUN/system.jsonl for every entry
        wait_for("RUN/system.jsonl", lambda: (run / "system.jsonl").is_file(), proc, timeout=60)
        # a pause sent through the run directory, as `ganterm view RUN` sends it
        send_command(run, "pause")
        wait_for("the pause event", lambda: any(e["kind"] == "pause" for e in events(run)), proc, timeout=60)
        paused_at = metric_steps(run)[-1]
        time.sleep(1.0)
        assert metric_steps(run)[-1] == paused_at, "training went on while paused"
        if proc is not None:
            proc.stdout.close()  # the SSH connection is gone: progress lines now hit a dead pipe
        os.kill(pid, signal.SIGHUP)
        if proc is not None:
            _, err = proc.communicate(timeout=120)
            code = proc.returncode
        else:
            assert pane is not None
            deadline = time.monotonic() + 120
            while (code := pane.exit_status()) is None:
                assert time.monotonic() < deadline, f"still running after SIGHUP:\n{pane.screen()}"
                time.sleep(0.2)
            err = pane.screen()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if pane is not None:
            pane.close()
    assert code == 0, err
    files = checkpoint_files(run)
    assert files, f"no checkpoint after SIGHUP ({entry})"
    ckpt = load_checkpoint(files[-1])
    assert ckpt["step"] == metric_steps(run)[-1] > 0
    end = [e for e in events(run) if e["kind"] == "end"]
    assert end and end[-1]["reason"] == "stopped"
