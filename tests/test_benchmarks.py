"""Benchmarks that cannot rot (issue 21): every script under benchmarks/ runs end to end in its smoke mode.

A script is a `benchmarks/*.py` with an `if __name__ == "__main__":` block, found by glob when the tests
are collected, so a new script without `--smoke` fails here. A file without that block is a helper module
the scripts import, named in HELPER_MODULES (a file in neither fails `test_scripts_found`: importing it
might run a whole benchmark); helpers are only imported. Each smoke run is a fresh process with its cwd,
$TMPDIR and $GANTERM_DATA_DIR in a temporary folder of its own: it must exit 0 and print no traceback.
It must not write into benchmarks/results/ (the committed figures): an audit hook in every Python process
of the run (a sitecustomize on PYTHONPATH) refuses such a write, and the run then fails. That, rather than
comparing the folder before and after, because other people's real runs may write there meanwhile.
Nothing here asserts a time.

The selected smoke runs start together on first use, WORKERS at a time (each uses one thread), longest
first, and each test waits for its own: on 2 cores the file takes about half its sequential time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
MAIN_GUARD = 'if __name__ == "__main__":'
FILES = sorted(BENCH.glob("*.py"))
SCRIPTS = [p for p in FILES if MAIN_GUARD in p.read_text()]
HELPERS = [p for p in FILES if p not in SCRIPTS]
HELPER_MODULES = {"smoke.py": "what every --smoke shares: the scratch folder, a few-step FCD classifier"}
# Smoke runs that need several processes (or tmux) and take over ~15 s: excluded by default, run with
# -m slow. The default set still runs ddp.py (its one-line error for too few steps, below).
SLOW = {"ddp.py": "1 process, then 2 through gloo: 11 s alone on idle cores, 17 s beside another, 50 loaded"}
HANG = 300  # seconds: a guard against a hung run, not a timing
WORKERS = 2
# Started first so the short ones fill in around them (order only; a script not named here goes first).
LONGEST = ("throughput.py", "algorithms.py", "digits.py", "ddp.py", "startup.py", "tui_overhead.py")

Result = tuple[subprocess.CompletedProcess[str], float]

# Imported by every Python process of a smoke run (subprocesses that keep PYTHONPATH too).
GUARD = """
import os, sys

_RESULTS = os.path.join(os.path.realpath(os.environ["GANTERM_SMOKE_FORBID"]), "")
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _inside(path):
    try:
        return os.path.realpath(os.fsdecode(path)).startswith(_RESULTS)
    except (TypeError, ValueError):
        return False  # a file descriptor


def _guard(event, args):
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE)
        targets = [path] if writing else []
    elif event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move"):
        targets = [args[1]]
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate", "os.utime"):
        targets = [args[0]]
    else:
        return
    for target in targets:
        if not isinstance(target, int) and _inside(target):
            raise PermissionError(f"a smoke run must not write into benchmarks/results/: {target}")


sys.addaudithook(_guard)
"""


def isolated_env(tmp_path: Path, guard: Path | None = None) -> dict[str, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path / "tmp"),
        "GANTERM_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
    }
    if guard is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")]))
        env["GANTERM_SMOKE_FORBID"] = str(BENCH / "results")
    return env


def run_smoke(script: Path, tmp_path: Path, guard: Path) -> Result:
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        cwd=tmp_path,
        env=isolated_env(tmp_path, guard),
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    return r, time.perf_counter() - start


def test_scripts_found() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"throughput.py", "ddp.py", "digits.py", "ui.py"} <= names, names
    unknown = {p.name for p in HELPERS} - set(HELPER_MODULES)
    assert not unknown, (
        f"{sorted(unknown)}: a script needs `{MAIN_GUARD}` and --smoke; a helper goes in HELPER_MODULES"
    )


@pytest.fixture(scope="module")
def smoke_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Path], Result]]:
    """script -> its finished smoke run. Every test_smoke this session selected (-k, -m respected) is
    started at once; under pytest-xdist each worker runs only its own tests' scripts."""
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(GUARD)
    with ThreadPoolExecutor(WORKERS) as pool:
        runs: dict[Path, Future[Result]] = {}

        def start(script: Path) -> Future[Result]:
            if script not in runs:
                runs[script] = pool.submit(run_smoke, script, tmp_path_factory.mktemp(script.stem), guard)
            return runs[script]

        if "PYTEST_XDIST_WORKER" not in os.environ:
            selected = [
                item.callspec.params["script"]
                for item in request.session.items
                if getattr(item, "originalname", "") == "test_smoke" and hasattr(item, "callspec")
            ]
            for script in sorted(selected, key=lambda p: LONGEST.index(p.name) if p.name in LONGEST else -1):
                start(script)
        yield lambda script: start(script).result()
        for future in runs.values():
            future.cancel()  # an interrupted session: leave what has not started


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW else []) for p in SCRIPTS],
)
def test_smoke(script: Path, smoke_run: Callable[[Path], Result]) -> None:
    r, seconds = smoke_run(script)
    print(f"{script.name} --smoke: {seconds:.1f} s")  # shown with -rP; the durations report sees waits
    output = f"--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    assert r.returncode == 0, f"{script.name} --smoke exited {r.returncode} after {seconds:.0f} s\n{output}"
    assert "Traceback" not in r.stdout + r.stderr, output


def test_ddp_too_few_steps_is_one_line(tmp_path: Path) -> None:
    """Issue 21: `ddp.py --steps 50` ended in a ZeroDivisionError; now one line saying what to pass."""
    r = subprocess.run(
        [sys.executable, str(BENCH / "ddp.py"), "--steps", "50"],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "--steps 300" in r.stderr, r.stderr


@pytest.mark.parametrize("helper", [pytest.param(p, id=p.name) for p in HELPERS if p.name in HELPER_MODULES])
def test_helper_imports(helper: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", f"import {helper.stem}"],
        cwd=BENCH,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert r.returncode == 0, r.stderr[-3000:]
