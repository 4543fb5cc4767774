"""`ganterm train --model FILE.py:FN`: the user's networks from a file, rebuilt from it by sample and view
when they name it again (`--model`); and the shape checks every run gets before its first step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fault_helpers import run_cli
from PIL import Image
from test_tui_fixtures import sync

from ganterm.errors import UsageError
from ganterm.models.user_file import absolute_spec, build_from_file, trust_model_file
from ganterm.training.checkpoint import load_checkpoint

MODELS = """
import torch
from torch import nn

HIDDEN = {hidden}
RAISE_AFTER = {raise_after}  # training calls of D's forward before it raises (0: never)


class D(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
        self.calls = 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if RAISE_AFTER and self.calls > RAISE_AFTER:
                raise RuntimeError("my D broke")
        return self.net(x)


def build(shape, z_dim):
    c, h, w = shape
    out = {out}
    G = nn.Sequential(nn.Linear(z_dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, c * out * out), nn.Tanh(),
                      nn.Unflatten(1, (c, out, out)))
    return G, D(c * h * w)
"""


def write_models(path: Path, hidden: int = 32, out: str = "h", raise_after: int = 0) -> Path:
    path.write_text(MODELS.format(hidden=hidden, out=out, raise_after=raise_after))
    return path


FAST = ("--steps", "4", "--ckpt-every", "2", "--batch-size", "16", "--precision", "fp32", "--headless")


def train(models: Path, out: Path, *extra: str, fn: str = "build"):
    return run_cli("train", "shapes", "--model", f"{models}:{fn}", "--out", str(out), *FAST, *extra)


def one_line(p) -> str:
    err = p.stderr.strip()
    assert p.returncode != 0 and len(err.splitlines()) == 1, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    return err


@pytest.fixture(scope="module")
def user_run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("user")
    models = write_models(root / "models.py")
    # a relative path (from the run's cwd): recorded absolute
    p = run_cli("train", "shapes", "--model", "models.py:build", "--out", str(root / "run"), *FAST, cwd=root)
    assert p.returncode == 0, p.stderr
    return models, root / "run"


def test_the_file_is_recorded_absolute_and_sample_rebuilds_g(user_run, tmp_path):
    models, run = user_run
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == f"{models.resolve()}:build"
    ckpt = load_checkpoint(sorted((run / "checkpoints").glob("*.pt"))[-1])
    assert ckpt["config"]["model"] == config["model"]
    p = run_cli("sample", str(run), "--n", "9", "--out", str(tmp_path / "s.png"), "--model", config["model"])
    assert p.returncode == 0, p.stderr
    w, h = Image.open(tmp_path / "s.png").size
    assert w == h >= 3 * 28  # a 3x3 grid of 28x28 samples


@sync
async def test_view_rebuilds_g_from_the_file(user_run):
    from ganterm.tui.app import view_app
    from ganterm.tui.widgets.samples import SamplePanel

    models, run = user_run
    trusted = trust_model_file(f"{models}:build")  # what `ganterm view CKPT --model models.py:build` makes
    app = view_app(sorted((run / "checkpoints").glob("*.pt"))[-1], "truecolor", trusted)
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.screen.query_one(SamplePanel)
        deadline = time.monotonic() + 60
        while panel.frame is None:
            assert time.monotonic() < deadline, "no samples"
            await pilot.pause(0.05)
        assert panel.frame.kind == "images" and panel.frame.data.shape[1:] == (28, 28, 1)
        assert app.monitor.sampler is not None
        await pilot.press("q")


def test_moved_file_missing_function_and_changed_weights(user_run, tmp_path):
    models, run = user_run
    ckpt = str(sorted((run / "checkpoints").glob("*.pt"))[-1])
    spec = f"{models}:build"
    original = models.read_text()
    try:
        models.rename(models.with_suffix(".moved"))
        err = one_line(run_cli("view", ckpt, "--model", spec))  # before any screen is drawn
        assert "no such file" in err and str(models) in err
        models.with_suffix(".moved").rename(models)
        write_models(models, hidden=48)  # the file now builds other weights
        err = one_line(run_cli("sample", ckpt, "--out", str(tmp_path / "b.png"), "--model", spec))
        assert "no longer builds networks that match the checkpoint's weights" in err
    finally:
        models.write_text(original)


def test_missing_function_and_a_missing_file_fail_before_training(tmp_path):
    models = write_models(tmp_path / "models.py")
    err = one_line(train(models, tmp_path / "r1", fn="make"))
    assert "has no function 'make'; it defines: D, build" in err
    err = one_line(train(tmp_path / "nope.py", tmp_path / "r2"))
    assert "no such file" in err
    with pytest.raises(UsageError, match="give a file and a function"):
        absolute_spec("models.txt:build")


def test_a_builder_that_returns_the_wrong_thing(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def build(shape, z_dim):\n    return 1\n")
    with pytest.raises(UsageError, match=r"must return \(G, D\)"):
        build_from_file(f"{bad.resolve()}:build", (1, 28, 28), 8, trust_model_file(f"{bad}:build"))


def test_bad_shapes_are_one_line_before_the_first_step(tmp_path):
    models = write_models(tmp_path / "models.py", out="20")
    err = one_line(train(models, tmp_path / "run"))
    assert err.endswith("generator output is (16, 1, 20, 20) but the data is (16, 1, 28, 28)")
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))


def test_a_module_that_raises_later_stops_with_one_line_and_keeps_the_checkpoint(tmp_path):
    # D's forward is called twice per step in training (real, fake) and once for G's step: 3 a step.
    models = write_models(tmp_path / "models.py", raise_after=8)
    p = train(models, tmp_path / "run", "--steps", "20")
    err = one_line(p)
    assert "training stopped at step 2: RuntimeError: my D broke; last checkpoint:" in err
    saved = sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))
    assert saved and load_checkpoint(saved[-1])["step"] == 2
