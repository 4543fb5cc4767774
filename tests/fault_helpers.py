"""Helpers for the fault tests: the real CLI in a subprocess, waiting on a run directory, hashing files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# A ring run that trains until stopped: no periodic checkpoint, sample or evaluation in the way.
ENDLESS_RING = (
    "train",
    "ring",
    "--steps",
    "1000000",
    "--headless",
    "--ckpt-every",
    "1000000",
    "--sample-every",
    "1000000",
    "--eval-every",
    "0",
)


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ganterm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env or cli_env(),
        stdin=subprocess.DEVNULL,
    )


def start_cli(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganterm", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(),
        **kwargs,
    )


def wait_for(
    what: str,
    predicate: Callable[[], bool],
    proc: subprocess.Popen | None = None,
    timeout: float = 120,
    poll: float = 0.02,
) -> None:
    """Poll until `predicate()`; fail early (with its stderr) if `proc` died first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


def metric_steps(run: Path) -> list[int]:
    """Steps of the complete lines of metrics.jsonl (a torn last line is skipped, as the reader does)."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().split("\n"):
        try:
            steps.append(int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):
            continue
    return steps


def events(run: Path) -> list[dict]:
    out = []
    for line in (run / "events.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def tree_hashes(root: Path) -> dict[str, tuple[str, float]]:
    """Content hash and mtime of every file under `root`, to prove nothing was touched."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
    return out


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """Assert the failure contract (non-zero exit, one stderr line, no traceback); return the line."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, f"exit 0 for a bad input; stdout={r.stdout!r}"
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {r.stderr!r}"
    return lines[0]
