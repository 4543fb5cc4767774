"""Disk trouble while saving: the run goes on, a warning event says what failed, earlier checkpoints stay.

Tests run as root, so chmod cannot make a directory unwritable: the faults are a FILE put where the
checkpoints directory was, a disk that fills up in the middle of a write, and the run directory
deleted while training.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch
from fault_helpers import metric_steps, wait_for

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint
from ganterm.training.trainer import Trainer


class Running:
    """A ring Trainer in a background thread, checkpointing every 5 steps until stopped."""

    def __init__(self, out: Path) -> None:
        cfg = resolve(
            TrainConfig(
                dataset="ring", steps=10**6, ckpt_every=5, sample_every=10**6, eval_every=0, out=str(out)
            )
        )
        self.feed, self.control = Feed(), Control()
        self.trainer = Trainer(cfg, self.feed, self.control)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.trainer.run()
        except BaseException as e:
            self.error = e

    def alive(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"training died: {self.error!r}")
        return self.thread.is_alive()

    def warnings(self) -> list[str]:
        return [e.message for e in self.feed.events() if e.kind == "warning"]

    def step(self) -> int:
        return self.trainer.step

    def wait_steps(self, n: int) -> None:
        target = self.step() + n
        wait_for(f"step {target}", lambda: self.alive() and self.step() >= target)

    def stop(self) -> None:
        self.control.stop("test")
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()
        assert self.error is None, repr(self.error)


@pytest.fixture(autouse=True)
def _one_thread():
    """Ring's tiny matmuls only lose from a second intra-op thread on a shared 2-core machine."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def running(tmp_path):
    runs: list[Running] = []

    def start(out: Path) -> Running:
        runs.append(Running(out))
        return runs[-1]

    yield start
    for r in runs:  # never leave a trainer thread behind a failed test
        r.control.stop("teardown")
        r.thread.join(timeout=120)


def _digests(files: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_checkpoints_dir_replaced_by_a_file(tmp_path, running):
    run = tmp_path / "run"
    r = running(run)
    ckdir = run / "checkpoints"
    wait_for("a first checkpoint", lambda: r.alive() and bool(checkpoint_files(run)))
    aside = tmp_path / "aside"
    os.rename(ckdir, aside)
    ckdir.write_text("not a directory")
    kept = _digests(sorted(aside.glob("ckpt_*.pt")))

    wait_for("a failure warning", lambda: r.alive() and any("FAILED" in w for w in r.warnings()))
    r.wait_steps(12)  # the run goes on through more failed saves
    assert any("previous one kept" in w for w in r.warnings())

    ckdir.unlink()
    os.rename(aside, ckdir)
    before = set(checkpoint_files(run))
    wait_for("saving again", lambda: r.alive() and bool(set(checkpoint_files(run)) - before))
    r.stop()
    assert _digests([ckdir / n for n in kept]) == kept, "an earlier checkpoint changed"
    for f in checkpoint_files(run):
        load_checkpoint(f)
    assert load_checkpoint(checkpoint_files(run)[-1])["step"] == r.step()


def test_disk_full_in_the_middle_of_a_write(tmp_path, running, monkeypatch):
    run = tmp_path / "run"
    real_save = torch.save
    full = threading.Event()

    def save_until_full(obj, f, *args, **kwargs):
        if not full.is_set():
            return real_save(obj, f, *args, **kwargs)
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save_until_full)
    r = running(run)
    wait_for("a first checkpoint", lambda: r.alive() and bool(checkpoint_files(run)))
    full.set()
    kept = _digests(checkpoint_files(run))
    wait_for("a disk-full warning", lambda: r.alive() and any("No space left" in w for w in r.warnings()))
    r.wait_steps(12)
    assert _digests(checkpoint_files(run)) == kept, "a failed save touched or added a ckpt_*.pt"
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")], "temp file left"

    full.clear()  # space freed: saving resumes by itself
    wait_for("saving again", lambda: r.alive() and len(checkpoint_files(run)) > len(kept))
    r.stop()
    for f in checkpoint_files(run):
        load_checkpoint(f)


def test_run_dir_deleted_mid_run(tmp_path, running):
    run = tmp_path / "run"
    r = running(run)
    wait_for("a first checkpoint", lambda: r.alive() and bool(checkpoint_files(run)))
    shutil.rmtree(run)
    wait_for("a warning", lambda: r.alive() and any("was deleted" in w for w in r.warnings()))
    wait_for(
        "a checkpoint in the recreated directory",
        lambda: r.alive() and (run / "checkpoints").is_dir() and bool(checkpoint_files(run)),
    )
    r.wait_steps(12)
    r.stop()
    assert (run / "config.json").exists()
    steps = metric_steps(run)
    assert steps and steps[-1] == r.step(), "metrics written after the deletion were lost"
    assert load_checkpoint(checkpoint_files(run)[-1])["step"] == r.step()
    events = (run / "events.jsonl").read_text()
    assert "was deleted" in events and '"kind": "end"' in events
