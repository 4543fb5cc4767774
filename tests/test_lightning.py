"""ganterm.lightning: a real `lightning.Trainer.fit` logging a run directory, paused, checkpointed, its
learning rate changed and stopped through the RUN/commands channel, as `ganterm view` sends them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from ganterm.rundir.commands import read_status, send_command
from ganterm.rundir.reader import RunDirReader

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "lightning_gan.py"


def _events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def _wait(cond, timeout: float = 90.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _rows(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_example_trains_is_steered_and_leaves_a_lightning_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "lit"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(run), "--steps", "100000", "--items", "256"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = lambda: read_status(run) or {}  # noqa: E731
        _wait(lambda: any(c["name"] == "lr" for c in status().get("commands", [])), what="the lr command")
        _wait(lambda: _rows(run) > 5, what="metric rows")
        send_command(run, "pause")
        _wait(lambda: status().get("state") == "paused", what="paused")
        time.sleep(1.5)  # rows flush at most every second: then nothing more while paused
        rows = _rows(run)
        time.sleep(1.0)
        assert _rows(run) == rows
        send_command(run, "lr", {"value": 1e-4})
        send_command(run, "checkpoint")
        send_command(run, "resume")
        _wait(lambda: any(e["kind"] == "resume" for e in _events(run)), what="resumed")
        send_command(run, "stop")
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    events = _events(run)
    kinds = [e["kind"] for e in events]
    assert "pause" in kinds and "stop" in kinds
    assert events[-1]["kind"] == "end" and events[-1]["reason"] == "stopped"
    assert any(e["kind"] == "command" and e.get("value") == 1e-4 for e in events)
    saved = [e for e in events if e["kind"] == "checkpoint" and e["message"].startswith("saved")]
    assert saved and Path(saved[0]["path"]).is_file()

    import torch

    ckpt = torch.load(saved[0]["path"], weights_only=False)  # Lightning's own format
    assert "state_dict" in ckpt and "optimizer_states" in ckpt
    assert ckpt["optimizer_states"][0]["param_groups"][0]["lr"] == 1e-4
    config = json.loads((run / "config.json").read_text())
    assert config["hparams"]["lr"] == 2e-3 and config["source"] == "ganterm.lightning"

    reader = RunDirReader(run)  # what `ganterm view RUN` follows: the GAN's charts from Lightning's names
    reader.poll()
    layout = reader.feed.snapshot.layout
    assert [g.title for g in layout.groups[:2]] == ["loss", "D(x) vs D(G(z))"]
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(reader.feed.snapshot.metrics)
    assert reader.feed.frames(), "the logged image grid"


def test_the_control_needs_the_logger(tmp_path: Path) -> None:
    import lightning as L

    from ganterm.lightning import GantermControl

    trainer = L.Trainer(
        logger=False, callbacks=[GantermControl()], max_steps=1, enable_progress_bar=False, accelerator="cpu"
    )
    with pytest.raises(ValueError, match="GantermLogger"):
        GantermControl().setup(trainer, None, "fit")  # type: ignore[arg-type]
