"""Every script in examples/ runs: a few steps, headless, into a temporary directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fault_helpers import cli_env, run_cli
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def last_step(run: Path) -> int:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return int(rows[-1]["step"])


def test_seed_gan(tmp_path):
    p = run_example("seed_gan.py", "--steps", "3", "--out", str(tmp_path / "run"), "--headless")
    assert "finished at step 3" in p.stdout and "(16, 1, 28, 28)" in p.stdout
    assert last_step(tmp_path / "run") == 3
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "fit" and config["loss"] == "ns" and config["lr_g"] == 2e-4


def test_custom_models_file_trains_and_samples(tmp_path):
    spec = f"{EXAMPLES / 'custom_models.py'}:build"
    p = run_cli(
        "train", "shapes", "--model", spec, "--steps", "3", "--headless", "--out", str(tmp_path / "r")
    )
    assert p.returncode == 0, p.stderr
    p = run_cli("sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s.png"))
    assert p.returncode == 2 and "--model" in p.stderr  # the recorded file is not run unless named
    p = run_cli("sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s.png"), "--model", spec)
    assert p.returncode == 0, p.stderr
    assert Image.open(tmp_path / "s.png").size[0] >= 56


@pytest.mark.slow  # a train and two sample commands (~15 s on 2 cores)
def test_infogan_traversal(tmp_path):
    run_example("infogan_traversal.py", "--steps", "3", "--out", str(tmp_path / "run"))
    for code in (1, 2):
        assert Image.open(tmp_path / "run" / f"traversal-{code}.png").size[0] > 28


@pytest.mark.slow  # a train and four sample commands (~20 s on 2 cores)
def test_cgan_classes(tmp_path):
    run_example("cgan_classes.py", "--steps", "3", "--out", str(tmp_path / "run"))
    assert all((tmp_path / "run" / f"class-{k}.png").exists() for k in range(3))
    assert (tmp_path / "run" / "grid.png").exists()


@pytest.mark.slow  # two trains and two sample commands (~25 s on 2 cores)
def test_vae_vs_gan(tmp_path):
    p = run_example("vae_vs_gan.py", "--steps", "3", "--out", str(tmp_path))
    assert "VAE: ELBO" in p.stdout and "GAN: D loss" in p.stdout
    assert last_step(tmp_path / "vae") == last_step(tmp_path / "gan") == 3
