"""The real CLI in a subprocess: the end-to-end runs and the promises of `--help`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import run_cli
from PIL import Image

from ganterm.training.checkpoint import load_checkpoint


def ganterm(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, timeout=timeout)


def test_help_does_not_import_torch():
    code = (
        "import sys; from ganterm.cli import app; "
        "from typer.testing import CliRunner; r = CliRunner().invoke(app, ['--help']); "
        "print(r.output); assert 'train' in r.output; "
        "assert 'torch' not in sys.modules and 'textual' not in sys.modules, 'heavy import'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for cmd in ("train", "view", "sample", "eval", "datasets"):
        assert cmd in r.stdout


def test_train_help_explains_options():
    r = ganterm("train", "--help")
    assert r.returncode == 0
    for opt in (
        "--model",
        "--loss",
        "--steps",
        "--epochs",
        "--batch-size",
        "--lr-g",
        "--lr-d",
        "--betas",
        "--n-critic",
        "--z-dim",
        "--seed",
        "--device",
        "--image-size",
        "--data-dir",
        "--out",
        "--resume",
        "--sample-every",
        "--ckpt-every",
        "--headless",
    ):
        assert opt in r.stdout, opt


def test_ring_end_to_end_then_sample_npy(tmp_path):
    out = tmp_path / "ring"
    r = ganterm("train", "ring", "--steps", "300", "--headless", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "finished at step 300" in r.stdout
    assert r.stderr.count("Traceback") == 0
    ck = sorted((out / "checkpoints").glob("*.pt"))[-1]
    assert load_checkpoint(ck)["step"] == 300
    r = ganterm("sample", str(ck), "--n", "500", "--out", str(tmp_path / "pts.npy"))
    assert r.returncode == 0, r.stderr
    pts = np.load(tmp_path / "pts.npy")
    assert pts.shape == (500, 2) and np.isfinite(pts).all()
    # after 300 steps the generator has moved toward the ring (radius 1), far from its start near 0
    assert 0.5 < np.median(np.linalg.norm(pts, axis=1)) < 1.5
    r = ganterm("sample", str(out), "--n", "100", "--out", str(tmp_path / "ring.png"))
    assert r.returncode == 0 and Image.open(tmp_path / "ring.png").size == (400, 400)


def test_shapes_end_to_end_then_sample_png(tmp_path):
    out = tmp_path / "shapes"
    r = ganterm(
        "train",
        "shapes",
        "--steps",
        "120",
        "--batch-size",
        "32",
        "--headless",
        "--out",
        str(out),
        "--sample-every",
        "60",
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == [
        "step_0000000.png",
        "step_0000060.png",
        "step_0000120.png",
    ]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "mlp" and cfg["loss"] == "ns" and cfg["image_size"] == 28
    r = ganterm(
        "sample",
        str(out / "checkpoints" / "ckpt_0000120.pt"),
        "--n",
        "16",
        "--out",
        str(tmp_path / "grid.png"),
    )
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(tmp_path / "grid.png"))
    assert img.ndim == 2 and img.shape[0] == img.shape[1] and img.std() > 5  # not blank
    r = ganterm("sample", str(out), "--n", "8", "--out", str(tmp_path / "x.npy"))
    assert np.load(tmp_path / "x.npy").shape == (8, 1, 28, 28)


def test_datasets_lists_what_exists(tmp_path):
    env_dir = tmp_path / "cache"
    r = ganterm("datasets", "--data-dir", str(env_dir))
    assert r.returncode == 0, r.stderr
    for name in ("ring", "grid", "shapes", "mnist", "fashion-mnist", "cifar10"):
        assert name in r.stdout
    assert str(env_dir) in r.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "nosuch", "--headless"], "unknown dataset 'nosuch'"),
        (["train", "ring", "--loss", "bogus", "--headless"], "unknown loss 'bogus'"),
        (["train", "ring", "--steps", "0", "--headless"], "--steps must be a positive integer"),
    ],
)
def test_bad_values_one_line_exit_2(args, needle):
    r = ganterm(*args)
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
