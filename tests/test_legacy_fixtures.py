"""Run directories and checkpoints written by the code before the package restructure (tests/fixtures/legacy,
made by `ganterm train` at commit 4aa3efa) still load, sample, evaluate, export, view and resume exactly.

shapes-mlp: `ganterm train shapes --model mlp --steps 30 --ckpt-every 15 --sample-every 10 --seed 3
--precision fp32` (the step-30 checkpoint removed to keep the fixture small); ring: `ganterm train ring
--steps 40 --ckpt-every 20 --seed 3` (the step-40 checkpoint removed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import run_cli

LEGACY = Path(__file__).parent / "fixtures" / "legacy"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A writable copy: resuming writes into the run directory."""
    dst = tmp_path / "legacy"
    shutil.copytree(LEGACY, dst)
    return dst


def _rows(run: Path) -> dict[int, dict]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[int(rec["step"])] = rec
    return out


def test_legacy_checkpoint_samples_and_evaluates(legacy: Path, tmp_path: Path):
    ckpt = legacy / "shapes-mlp" / "checkpoints" / "ckpt_0000015.pt"
    out = tmp_path / "s.npy"
    r = run_cli("sample", str(ckpt), "--n", "8", "--out", str(out))
    assert r.returncode == 0, r.stderr
    x = np.load(out)
    assert x.shape[0] == 8 and np.isfinite(x).all()
    r = run_cli("sample", str(legacy / "ring"), "--n", "16", "--out", str(tmp_path / "p.npy"))
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "p.npy").shape == (16, 2)
    r = run_cli("eval", str(legacy / "ring"))
    assert r.returncode == 0, r.stderr
    assert "modes" in r.stdout


def test_legacy_run_dir_exports(legacy: Path, tmp_path: Path):
    r = run_cli("export", str(legacy / "shapes-mlp"), "--csv", str(tmp_path / "m.csv"))
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert len(lines) == 31  # a header and steps 1..30


def test_legacy_resume_is_exact(legacy: Path, tmp_path: Path):
    """Steps 21..40 from the old step-20 checkpoint match the rows the old code wrote for them, and a
    second resume from the new step-30 checkpoint repeats steps 31..40 bit for bit."""
    ckpt = legacy / "ring" / "checkpoints" / "ckpt_0000020.pt"
    one, two = tmp_path / "one", tmp_path / "two"
    args = (
        "--steps",
        "40",
        "--headless",
        "--ckpt-every",
        "10",
        "--sample-every",
        "1000",
        "--eval-every",
        "0",
    )
    r = run_cli("train", "ring", "--resume", str(ckpt), "--out", str(one), *args)
    assert r.returncode == 0, r.stderr
    mid = one / "checkpoints" / "ckpt_0000030.pt"
    r = run_cli("train", "ring", "--resume", str(mid), "--out", str(two), *args)
    assert r.returncode == 0, r.stderr
    a, b, old = _rows(one), _rows(two), _rows(legacy / "ring")
    for step in range(21, 41):
        # the old code, maybe on another CPU: the same computation, up to the float kernels it picked
        for key in ("d_loss", "g_loss"):
            assert a[step][key] == pytest.approx(old[step][key], rel=1e-3, abs=1e-4), (step, key)
    for step in range(31, 41):
        assert (a[step]["d_loss"], a[step]["g_loss"]) == (b[step]["d_loss"], b[step]["g_loss"]), step


def test_legacy_run_dir_views(legacy: Path):
    import asyncio

    from ganterm.tui.app import view_app

    async def go() -> str:
        app = view_app(legacy / "shapes-mlp", "256")
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(60):
                await pilot.pause(0.1)
                feed = app.monitor.feed
                if feed.snapshot.step == 30 and feed.frames():
                    break
            return f"{app.monitor.feed.snapshot.step} {len(app.monitor.feed.frames())}"

    step, frames = asyncio.run(go()).split()
    assert step == "30" and int(frames) >= 1
