"""End to end in a real terminal: `python -m ganterm view RUN_A RUN_B` under tmux sees both runs' legends.

As tests/test_tmux.py: a private tmux socket, the exit code written to a file by the shell. The quick test
writes the two run directories in the run-dir format; the slow one trains them with the real CLI first
(headless: no TTY), so the viewer also rebuilds samples from their checkpoints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_compare import write_run
from test_tmux import REPO, wait_until

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def view_in_tmux(tmp_path: Path, runs: list[Path], legends: list[str]) -> None:
    socket = f"ganterm-compare-{os.getpid()}"
    rc_file = tmp_path / "exit_code"
    paths = " ".join(str(p) for p in runs)
    # pytest's environment carries COLUMNS=80 LINES=24, which would override the pane's real size
    command = (
        f"unset COLUMNS LINES; cd {REPO} && {sys.executable} -m ganterm view {paths}; "
        f"echo $? > {rc_file}; sleep 60"
    )

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "gt")

    def chart_legend_has_all() -> bool:
        # a chart's first line lists every run drawn in it: "━ hinge  ━ ns"
        return any(all(f"━ {name}" in line for name in legends) for line in screen().splitlines())

    tmux("new-session", "-d", "-s", "gt", "-x", "160", "-y", "50", command)
    try:
        wait_until(chart_legend_has_all, "both runs in a chart's legend", screen)
        assert f"▸1 ━ {legends[0]}" in screen()  # the run legend, the first run selected
        tmux("send-keys", "-t", "gt", "v")
        wait_until(lambda: f"▸2 ━ {legends[1]}" in screen(), "the second run selected", screen)
        tmux("send-keys", "-t", "gt", "q")
        wait_until(rc_file.exists, "the process to exit")
        assert rc_file.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def test_two_written_runs_show_both_legends(tmp_path: Path):
    runs = [write_run(tmp_path, "ring-hinge-s0", level=1.0), write_run(tmp_path, "ring-ns-s0", level=2.0)]
    view_in_tmux(tmp_path, runs, ["hinge", "ns"])


@pytest.mark.slow
def test_two_trained_runs_show_both_legends(tmp_path: Path):
    runs = []
    for loss in ("hinge", "ns"):
        out = tmp_path / f"ring-{loss}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ganterm",
                "train",
                "ring",
                "--steps",
                "60",
                "--loss",
                loss,
                "--out",
                str(out),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        runs.append(out)
    view_in_tmux(tmp_path, [tmp_path], ["hinge", "ns"])  # the parent folder opens both
