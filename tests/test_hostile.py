"""Hostile and broken checkpoint files: refused with one clear line; a pickled payload never runs.

The payload of each hostile file would create a marker file if it were ever unpickled; every test
checks that the marker does not exist afterwards.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path

import pytest
import torch
from fault_helpers import one_line_error, run_cli

from ganterm import cli
from ganterm.config import TrainConfig, resolve
from ganterm.errors import CheckpointError
from ganterm.training.checkpoint import FORMAT_KEY, load_checkpoint, save_checkpoint
from ganterm.training.trainer import Trainer


class Payload:
    """Unpickling this runs a shell command (the classic malicious pickle)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def real_ckpt(tmp_path_factory) -> Path:
    """A genuine ring checkpoint, trained in-process for a few steps."""
    out = tmp_path_factory.mktemp("real") / "run"
    cfg = resolve(
        TrainConfig(dataset="ring", steps=3, ckpt_every=3, sample_every=3, eval_every=0, out=str(out))
    )
    Trainer(cfg).run()
    return out / "checkpoints" / "ckpt_0000003.pt"


def _hostile_files(d: Path, marker: Path, real: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what its one-line refusal must say)."""
    d.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, str]] = {}

    def add(name: str, needle: str) -> Path:
        files[name] = (d / f"{name}.pt", needle)
        return d / f"{name}.pt"

    torch.save(Payload(marker), add("torch-save-payload", "pickled Python objects"), pickle_protocol=2)
    torch.save(
        {FORMAT_KEY: 1, "config": Payload(marker), "step": 1, "G": {}, "D": {}},
        add("payload-inside-checkpoint-dict", "pickled Python objects"),
    )
    with open(add("raw-pickle-payload", "pickled Python objects"), "wb") as f:
        pickle.dump(Payload(marker), f, protocol=2)
    add("truncated", "truncated").write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    add("empty", "empty").write_bytes(b"")
    add("png", "not a checkpoint (unreadable data)").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    torch.save([1, 2, 3], add("plain-list", "not a ganterm checkpoint"))
    torch.save(
        {FORMAT_KEY: 0, "config": {}, "step": 0, "G": {}, "D": {}}, add("format-0", "format version 0")
    )
    torch.save({FORMAT_KEY: 99, "config": {}, "step": 0, "G": {}, "D": {}}, add("format-99", "newer ganterm"))
    torch.save({FORMAT_KEY: 1, "step": 0}, add("incomplete", "missing config, G, D"))
    return files


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, real_ckpt):
    d = tmp_path_factory.mktemp("hostile")
    marker = d / "PWNED"
    return _hostile_files(d / "files", marker, real_ckpt), marker


def test_the_payload_is_live(tmp_path):
    """Guard for the tests below: unpickling this payload really does create the marker."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(Payload(marker), protocol=2))
    assert marker.exists()


def test_load_checkpoint_refuses_each_file_in_one_line(hostile):
    files, marker = hostile
    for name, (path, needle) in files.items():
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        msg = str(err.value)
        assert needle in msg and "\n" not in msg and str(path) in msg, (name, msg)
    assert not marker.exists()


@pytest.fixture
def cli_in_process(monkeypatch, capsys):
    """Run `ganterm ARGS` in this process; returns (exit code, stderr). Restores signal handlers."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["ganterm", *args])
        try:
            cli.main()
            code = 0
        except SystemExit as ex:
            code = ex.code
        return code, capsys.readouterr().err

    yield run
    for s, h in saved.items():
        signal.signal(s, h)


COMMANDS = {
    "view": lambda p, tmp: ["view", str(p)],
    "sample": lambda p, tmp: ["sample", str(p), "--out", str(tmp / "s.npy")],
    "eval": lambda p, tmp: ["eval", str(p)],
    "train --resume": lambda p, tmp: [
        "train",
        "ring",
        "--headless",
        "--steps",
        "5",
        "--out",
        str(tmp / "r"),
        "--resume",
        str(p),
    ],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_every_bad_file(hostile, command, cli_in_process, tmp_path):
    files, marker = hostile
    for name, (path, needle) in files.items():
        code, err = cli_in_process(*COMMANDS[command](path, tmp_path))
        lines = err.strip().splitlines()
        assert code != 0 and len(lines) == 1 and needle in lines[0], (command, name, err)
        assert "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "s.npy").exists()
    assert not (tmp_path / "r" / "checkpoints").exists(), "a refused resume must not start a run"


@pytest.mark.parametrize("command", ["view", "sample", "eval", "train --resume"])
def test_real_cli_refuses_a_pickle_payload(hostile, command, tmp_path):
    files, marker = hostile
    path, _ = files["torch-save-payload"]
    line = one_line_error(
        run_cli(*COMMANDS[command](path, tmp_path), env={**os.environ, "OMP_NUM_THREADS": "1"})
    )
    assert line.startswith("ganterm: error: refusing") and "pickled Python objects" in line
    assert not marker.exists()


def test_run_dir_with_a_hostile_newest_file_falls_back(real_ckpt, tmp_path, cli_in_process):
    """A planted ckpt_9999999.pt carrying a payload: `sample RUN_DIR` skips it for the genuine one."""
    run = real_ckpt.parent.parent
    marker = tmp_path / "PWNED"
    planted = run / "checkpoints" / "ckpt_9999999.pt"
    torch.save(Payload(marker), planted, pickle_protocol=2)
    try:
        code, err = cli_in_process("sample", str(run), "-n", "4", "--out", str(tmp_path / "s.npy"))
    finally:
        planted.unlink()
    assert code == 0, err
    assert (tmp_path / "s.npy").exists() and not marker.exists()


def test_mismatched_weights_are_one_line(real_ckpt, tmp_path, cli_in_process):
    """Right format, wrong contents (weights of another shape): a CheckpointError line, not a traceback."""
    ckpt = load_checkpoint(real_ckpt)
    ckpt["modules"]["G"] = {k: v[..., :1] for k, v in ckpt["modules"]["G"].items()}
    bad = save_checkpoint(tmp_path / "mismatch.pt", {k: v for k, v in ckpt.items() if k != FORMAT_KEY})
    code, err = cli_in_process("sample", str(bad), "--out", str(tmp_path / "s.npy"))
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "do not fit its model" in lines[0], err
