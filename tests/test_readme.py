"""The README as a test: every shell line of README.md and examples/README.md runs, as written, in a
temporary directory, shortened by the documented substitutions (tests/readme_commands.py SUBSTITUTIONS:
`--time 5m` becomes `--steps 2`, ...). A README edit that breaks a command breaks the suite.

The README is parsed when the tests are collected, so a line added to it is a new test. Placeholders
(`runs/shapes-mlp-...`, `CKPT`, `RUN`) are runs this file prepares; `./my_digits` and `./photos` are
folders it makes; MNIST, Fashion-MNIST and CIFAR-10 come from a prepared cache of random images, and the
download itself, which needs the network, is checked for its one offline line. `view` runs in a
pseudo-terminal and quits with q. The keys table is checked against the app's bindings, both ways.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import write_cifar, write_mnist
from fault_helpers import one_line_error
from PIL import Image
from readme_commands import (
    DOCS,
    REPO,
    SHORT_STEPS,
    Workspace,
    outputs,
    run_in_terminal,
    shell_lines,
    substitute,
    trains,
)

from ganterm.config import TrainConfig, resolve
from ganterm.training.trainer import Trainer

LINES = [line for doc in DOCS for line in shell_lines(doc)]
DOWNLOADED = ("mnist", "fashion-mnist", "cifar10")
DEAD_MIRROR = "http://127.0.0.1:9/"  # the discard port: refused at once, so nothing is ever downloaded
TIMEOUT_S = 300  # a safety net for a hung command, not a timing assertion


def _slow(line) -> bool:
    """Several processes, each importing torch: DDP lines run in the slow set (`make test-all`)."""
    return line.program == "torchrun" or "--nproc" in line.argv


def _param(line):
    return pytest.param(line, id=line.id, marks=[pytest.mark.slow] if _slow(line) else [])


# ------------------------------------------------------------------------------------ workspace
def _train(out: Path, **fields) -> Path:
    cfg = resolve(TrainConfig(out=str(out), eval_every=0, seed=0, **fields))
    Trainer(cfg).run()
    return sorted((out / "checkpoints").glob("ckpt_*.pt"))[-1]


def _image_folders(cwd: Path) -> None:
    """./my_digits: 28x28 grey digits in class folders; ./photos: 64x64 colour JPEGs."""
    rng = np.random.default_rng(0)
    for label in ("0", "1"):
        (cwd / "my_digits" / label).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            Image.fromarray(pixels).save(cwd / "my_digits" / label / f"{i}.png")
    (cwd / "photos").mkdir()
    for i in range(8):
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(cwd / "photos" / f"{i}.jpg")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("readme")
    cwd, cache, prepared = root / "work", root / "cache", root / "prepared"
    cwd.mkdir()
    write_mnist(cache / "mnist", n=64)
    write_mnist(cache / "fashion-mnist", n=64, seed=1)
    write_cifar(cache / "cifar10", n=16)
    _image_folders(cwd)
    fast = {"steps": 4, "sample_every": 2, "ckpt_every": 2}
    shapes = _train(cwd / "runs" / "shapes-mlp-readme", dataset="shapes", **fast)
    ring = _train(cwd / "runs" / "ring-ns-readme", dataset="ring", loss="ns", **fast)
    _train(cwd / "runs" / "ring-hinge-readme", dataset="ring", loss="hinge", **fast)
    digits = {"dataset": "mnist", "data_dir": str(cache), "steps": 2, "batch_size": 16}
    cgan = _train(prepared / "cgan", algo="cgan", **digits)
    infogan = _train(prepared / "infogan", algo="infogan", **digits)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GANTERM_DATA_DIR": str(cache),
        "GANTERM_MIRRORS": DEAD_MIRROR,
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return Workspace(
        cwd=cwd,
        env=env,
        checkpoints={"shapes": shapes, "ring": ring, "cgan": cgan, "infogan": infogan},
        run=shapes.parent.parent,
    )


# ---------------------------------------------------------------------------------- every line
def test_the_readmes_show_commands():
    programs = {line.program for line in LINES}
    assert {"ganterm", "make"} <= programs, programs
    assert sum(line.argv[:2] == ("ganterm", "train") for line in LINES) >= 5


@pytest.mark.parametrize("line", [_param(line) for line in LINES])
def test_readme_line_runs(line, workspace):
    runner = {
        "ganterm": _ganterm,
        "python": _command,
        "torchrun": _command,
        "make": _make,
        "pip": _pip,
    }.get(line.program)
    assert runner is not None, f"{line.id}: no rule runs `{line.program}`; add one to tests/test_readme.py"
    runner(line, workspace)


def _ganterm(line, ws: Workspace) -> None:
    if line.argv[1:2] == ("view",):
        _view(line, ws)
    else:
        _command(line, ws)


def _command(line, ws: Workspace) -> None:
    argv = substitute(line.argv, ws)
    r = subprocess.run(
        argv,
        cwd=ws.cwd,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    shown = f"{line.id}\n$ {' '.join(argv)}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    assert r.returncode == 0, shown
    assert "Traceback" not in r.stderr and "ganterm: error" not in r.stderr, shown
    for path in outputs(argv):
        assert (ws.cwd / path).exists(), f"{shown}\nit did not write {path}"
    if trains(list(line.argv)) and argv[0] != sys.executable:
        assert "[end]" in r.stdout, f"{shown}\nno end event: the run did not finish"


def _view(line, ws: Workspace) -> None:
    argv = substitute(line.argv, ws)
    for path in argv[2:]:
        assert (ws.cwd / path).exists(), f"{line.id}: {path} does not exist (a line above makes it?)"
    code, screen = run_in_terminal(argv, ws.cwd, ws.env)
    shown = f"{line.id}\n$ {' '.join(argv)}\nscreen: {screen[-1500:]}"
    assert code == 0, shown
    assert "Traceback" not in screen and "ganterm: error" not in screen, shown


def _make(line, ws: Workspace) -> None:
    """`make TARGET` with this venv, its setup taken as done (`-o` the venv's stamp: installing needs the
    network), in the temporary directory. A target whose recipe runs pytest is this suite: its dry run
    must say so, as the README's comment does. Any other runs, its run shortened by DEMO_ARGS."""
    target = line.argv[1]
    stamp = Path(sys.prefix) / "bin" / "ganterm"
    # --no-print-directory: under `make test` (CI) this make is nested and would print "Entering directory
    # /tmp/pytest-of-..." lines, which are not the recipe
    make = [
        "make",
        "--no-print-directory",
        "-f",
        str(REPO / "Makefile"),
        "-o",
        str(stamp),
        f"VENV={sys.prefix}",
    ]
    dry = subprocess.run([*make, "-n", target], cwd=ws.cwd, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, f"{line.id}: make -n {target}: {dry.stderr}"
    if "pytest" in dry.stdout:
        assert "pytest" in line.comment, f"{line.id}: make {target} runs pytest; the comment does not say so"
        return
    assert "ganterm" in dry.stdout and "ganterm" in line.comment, f"{line.id}: {dry.stdout}"
    argv = [*make, target, f"DEMO_ARGS=--steps {SHORT_STEPS}"]
    r = subprocess.run(argv, cwd=ws.cwd, env=ws.env, capture_output=True, text=True, timeout=TIMEOUT_S)
    shown = f"{line.id}\n$ {' '.join(argv)}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    assert r.returncode == 0 and "[end]" in r.stdout, shown
    assert "Traceback" not in r.stderr and "ganterm: error" not in r.stderr, shown


def _pip(line, ws: Workspace) -> None:
    """`pip install` needs the network: check that what it names exists (the -c file, the -e project
    and its extras)."""
    argv = list(line.argv)
    assert argv[1] == "install", line.id
    extras = _extras((REPO / "pyproject.toml").read_text())
    for i, arg in enumerate(argv[:-1]):
        value = argv[i + 1]
        if arg == "-c":
            assert (REPO / value).is_file() and (REPO / value).read_text().strip(), f"{line.id}: {value}"
        if arg == "-e":
            m = re.match(r"^(?P<path>[^\[]+)(\[(?P<extras>.*)\])?$", value)
            assert m and (REPO / m["path"] / "pyproject.toml").is_file(), f"{line.id}: {value}"
            for extra in filter(None, (m["extras"] or "").split(",")):
                assert extra in extras, f"{line.id}: pyproject.toml has no extra {extra!r}"


def _extras(pyproject: str) -> set[str]:
    """The names under [project.optional-dependencies] (tomllib is Python 3.11+; we support 3.10)."""
    section = pyproject.split("[project.optional-dependencies]", 1)[-1].split("\n[", 1)[0]
    return set(re.findall(r"^([A-Za-z0-9_-]+)\s*=", section, re.M))


def test_a_download_without_the_network_is_one_line(workspace, tmp_path):
    """The README's first line that downloads, with nothing cached and no mirror reachable: exit 2 and
    one line that says which files to put where."""
    line = next(
        (x for x in LINES if x.argv[:2] == ("ganterm", "train") and set(x.argv) & set(DOWNLOADED)), None
    )
    assert line is not None, "the README no longer shows a download"
    argv = substitute(line.argv, workspace)
    env = {**workspace.env, "GANTERM_DATA_DIR": str(tmp_path / "empty-cache")}
    r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 2, r
    error = one_line_error(r)
    assert "could not download" in error and "put " in error, error
    assert "step 0" not in r.stdout and "could not download" not in r.stdout, r.stdout


# ------------------------------------------------------------------------------------ keys table
KEY_NAMES = {
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
    "colon": ":",
    "escape": "esc",
    "ctrl+c": "Ctrl-C",
}


def readme_keys() -> set[str]:
    """The keys the README's "Keys in the monitor" table names (backticked, in its first column)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("### Keys in the monitor", 1)[1].split("\n#", 1)[0]
    keys: set[str] = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        cell = row.split(" | ", 1)[0]
        for a, b in re.findall(r"`(\d)`-`(\d)`", cell):
            keys |= {str(k) for k in range(int(a), int(b) + 1)}
        keys |= set(re.findall(r"`([^`]+)`", cell))
    return keys


def app_keys() -> set[str]:
    """Every key the app and its (non-modal) screens bind, by its README name."""
    import textual.screen

    import ganterm.tui

    classes = []
    for info in pkgutil.walk_packages(ganterm.tui.__path__, "ganterm.tui."):
        module = importlib.import_module(info.name)
        classes += [
            v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__
        ]
    keys: set[str] = set()
    for cls in classes:
        screen = issubclass(cls, textual.screen.Screen) and not issubclass(cls, textual.screen.ModalScreen)
        if not (screen or cls.__name__ == "GantermApp"):
            continue
        for binding in cls.__dict__.get("BINDINGS", []):
            for key in binding.key.split(","):
                keys.add(KEY_NAMES.get(key.strip(), key.strip()))
    return keys


def test_the_keys_table_names_every_key_the_app_binds():
    missing = app_keys() - readme_keys()
    assert not missing, f"keys the app binds but the README's table does not name: {sorted(missing)}"


def test_every_key_in_the_table_is_bound():
    unbound = readme_keys() - app_keys()
    assert not unbound, f"keys the README's table names but no screen binds: {sorted(unbound)}"
