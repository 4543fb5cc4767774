"""kill -9 at random moments while a checkpoint is written every step: nothing saved is ever lost.

After each kill the run directory must hold a loadable checkpoint, every file named ckpt_*.pt must load
(temporary files are dot-prefixed and never match), and the next run resumes from the newest one.

The default test forks each trainer from a forkserver that has torch imported already, so a kill costs
milliseconds rather than a torch import; the slow test kills the real `ganterm train` process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_helpers import cli_env, run_cli, wait_for

from ganterm.rundir.reader import RunDirReader
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint, newest_loadable
from ganterm.training.checkpoint_frames import CheckpointFrames

_FOREVER = 10**6


def _train_forever(run: str) -> None:
    """The forked child: resume from the newest checkpoint (if any) and save after every step."""
    import torch

    from ganterm.config import TrainConfig, resolve
    from ganterm.training.trainer import Trainer

    torch.set_num_threads(1)  # two cores shared with the parent and the rest of the suite
    found = newest_loadable(run) if Path(run, "checkpoints").is_dir() else None
    cfg = resolve(
        TrainConfig(
            dataset="ring",
            steps=_FOREVER,
            ckpt_every=1,
            sample_every=_FOREVER,
            eval_every=0,
            out=run,
            resume=str(found[0]) if found else None,
        )
    )
    Trainer(cfg).run()


def _forked(run: Path) -> tuple[int, Callable[[], bool], Callable[[], int]]:
    ctx = multiprocessing.get_context("forkserver")
    p = ctx.Process(target=_train_forever, args=(str(run),), daemon=True)
    p.start()
    return p.pid, lambda: p.is_alive(), lambda: (p.join(), p.exitcode)[1]


def _cli(run: Path) -> tuple[int, Callable[[], bool], Callable[[], int]]:
    found = newest_loadable(run) if (run / "checkpoints").is_dir() else None
    resume = ["--resume", str(found[0])] if found else []
    args = [
        "train",
        "ring",
        "--steps",
        str(_FOREVER),
        "--headless",
        "--ckpt-every",
        "1",
        "--sample-every",
        str(_FOREVER),
        "--eval-every",
        "0",
        "--out",
        str(run),
        *resume,
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganterm", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(OMP_NUM_THREADS="1"),
    )
    return proc.pid, lambda: proc.poll() is None, proc.wait


def _temps(run: Path) -> list[str]:
    try:
        return [n for n in os.listdir(run / "checkpoints") if n.startswith(".")]
    except FileNotFoundError:
        return []


def _kill_repeatedly(run: Path, kills: int, start: Callable, seed: int) -> int:
    """Start, wait for a new checkpoint, kill -9 at a random moment (or right inside a write); repeat.

    Returns how many kills left a half-written temporary file behind (landed mid-write).
    """
    rng = random.Random(seed)
    mid_write = 0
    for i in range(kills):
        before = set(checkpoint_files(run)) if (run / "checkpoints").is_dir() else set()
        pid, alive, reap = start(run)

        def saved_one(before: set[Path] = before, alive: Callable = alive, reap: Callable = reap) -> bool:
            if not alive():
                raise AssertionError(f"trainer exited on its own (code {reap()})")
            return (run / "checkpoints").is_dir() and bool(set(checkpoint_files(run)) - before)

        wait_for("a new checkpoint", saved_one)
        if i % 2:
            deadline = time.monotonic() + 10
            while not _temps(run) and time.monotonic() < deadline:
                time.sleep(0.0005)  # catch it inside torch.save / fsync
        else:
            time.sleep(rng.uniform(0.0, 0.25))
        os.kill(pid, signal.SIGKILL)
        assert reap() == -signal.SIGKILL
        mid_write += bool(_temps(run))

        found = newest_loadable(run)
        assert found is not None, f"kill {i}: no loadable checkpoint left"
        for f in checkpoint_files(run):
            assert f.name.startswith("ckpt_")
            load_checkpoint(f)  # raises CheckpointError on a torn file
        assert found[1]["step"] >= max(int(f.stem.split("_")[1]) for f in before or [found[0]])
    return mid_write


def _check_after_kills(run: Path, tmp_path: Path) -> None:
    # metrics.jsonl is flushed every `publish_every` steps, so short-lived runs may have left no line
    # there; whatever is there must be whole lines, and the checkpoint is what view and sample use.
    # A line torn by a kill is ended on resume, so the next record never merges into it.
    for line in (run / "metrics.jsonl").read_text().splitlines():
        if line.endswith("}"):
            json.loads(line)
    reader = RunDirReader(run, checkpoints=CheckpointFrames())  # as `ganterm view RUN` follows it
    assert reader.poll()
    assert reader.checkpoint is not None and reader.feed.frames(), "view cannot show the killed run"
    shown = reader.feed.series("d_loss").x
    assert (shown[1:] > shown[:-1]).all(), "the followed chart went back in time after a resume"
    r = run_cli(
        "sample", str(run), "-n", "16", "--out", str(tmp_path / "after.npy"), env=cli_env(OMP_NUM_THREADS="1")
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "after.npy").exists()


@pytest.fixture(scope="module")
def _forkserver_with_torch():
    """Preload the trainer in the forkserver once (it starts on first use and serves every fork)."""
    multiprocessing.set_forkserver_preload(["torch", "ganterm.training.trainer", "ganterm.data.toy"])


def test_kill9_during_checkpoints_loses_nothing(tmp_path, _forkserver_with_torch):
    run = tmp_path / "run"
    mid_write = _kill_repeatedly(run, kills=8, start=_forked, seed=1)
    print(f"8 kills, {mid_write} inside a checkpoint write")
    _check_after_kills(run, tmp_path)


@pytest.mark.slow
def test_kill9_real_cli_many_times(tmp_path):
    run = tmp_path / "run"
    mid_write = _kill_repeatedly(run, kills=40, start=_cli, seed=2)
    print(f"40 kills, {mid_write} inside a checkpoint write")
    assert mid_write >= 1, "no kill landed inside a write: the test proved nothing about atomicity"
    _check_after_kills(run, tmp_path)
