"""The shell lines of the README's code blocks, the substitutions that shorten them, and a pseudo-terminal
to run `ganterm view` in. tests/test_readme.py runs them; the README's "Tests" section names the rules.

A line is read as a user would type it (comments dropped, `\\` continuations joined, a console block's
`$ ` prompt removed), then shortened by SUBSTITUTIONS, each a documented rule. A line no rule knows how to
run fails the suite: a new kind of command in the README needs a rule here, not silence.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", REPO / "examples" / "README.md")
SHELL_LANGUAGES = ("bash", "sh", "shell", "console", "")
PROGRAMS = ("ganterm", "python", "make", "pip", "torchrun")
SHORT_STEPS = 2  # a run of a few steps writes everything a long one does: config, samples, checkpoints
RESUMED_STEPS = 8  # past the last checkpoint of any run made here (SHORT_STEPS, or 4 when prepared)
PROCESSES = 2  # --nproc / --nproc-per-node: two CPU processes (gloo)

# (what the README writes, what the test runs instead, why): the table the README's "Tests" note sums up
SUBSTITUTIONS = (
    ("--time T", f"--steps {SHORT_STEPS}", "a wall-clock budget of minutes or hours becomes a few steps"),
    (
        "--steps N",
        f"--steps {SHORT_STEPS} ({RESUMED_STEPS} with --resume)",
        "a few steps, past the checkpoint",
    ),
    ("a run with no length", f"+ --steps {SHORT_STEPS}", "`ganterm train` alone trains for minutes"),
    ("--nproc N, --nproc-per-node N", f"{PROCESSES}", "two CPU processes on the test machine"),
    ("runs/NAME-...[/checkpoints/ckpt_N.pt]", "the newest runs/NAME-* (its newest checkpoint)", "prepared"),
    ("CKPT", "--class: a cGAN's, --traverse: an InfoGAN's, eval: a ring run's, else a shapes run's", ""),
    ("RUN", "the prepared shapes run (sample grids every 2 steps)", ""),
    ("python, examples/", "this interpreter, the repository's examples/", "the test runs in a temp dir"),
    (
        "mnist, fashion-mnist, cifar10",
        "a prepared cache of random images (the download is checked apart)",
        "",
    ),
    ("ganterm view ...", "run in a pseudo-terminal, quit with q", "the TUI needs a terminal"),
    ("pip install ...", "its -c file and -e project's extras exist", "needs the network"),
    ("make TARGET", "make -o VENV/bin/ganterm TARGET DEMO_ARGS=--steps 2; a pytest target: its dry run", ""),
)


@dataclasses.dataclass(frozen=True)
class Line:
    doc: Path
    lineno: int
    text: str  # as written, comment included
    argv: tuple[str, ...]  # as a user's shell would split it, comment dropped
    comment: str

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.lineno} {' '.join(self.argv)[:60]}"

    @property
    def program(self) -> str:
        return self.argv[0]


def shell_lines(doc: Path) -> list[Line]:
    """Every command in `doc`'s shell code blocks (```bash, ```sh, ```console and bare ``` blocks whose
    first command is one of PROGRAMS), in order."""
    lines: list[Line] = []
    block: list[tuple[int, str]] | None = None
    language = ""
    for lineno, raw in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^\s*```\s*([\w+-]*)", raw)
        if fence and block is None:
            block, language = [], fence[1].lower()
            continue
        if fence and block is not None:
            if language in SHELL_LANGUAGES:
                lines += _commands(doc, block, console=language == "console", bare=language == "")
            block = None
            continue
        if block is not None:
            block.append((lineno, raw))
    return lines


def _commands(doc: Path, block: list[tuple[int, str]], console: bool, bare: bool) -> list[Line]:
    out: list[Line] = []
    pending, start = "", 0
    for lineno, raw in block:
        text = raw.strip()
        if console:
            if not text.startswith("$ ") and not pending:
                continue  # the output a console block shows
            text = text.removeprefix("$ ")
        if not text or (text.startswith("#") and not pending):
            continue
        if not pending:
            start = lineno
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        full, pending = pending + text, ""
        argv = tuple(shlex.split(full, comments=True))
        comment = full.split("  #", 1)[1].strip() if "  #" in full else ""
        if argv:
            out.append(Line(doc, start, full, argv, comment))
    if bare and out and out[0].program not in PROGRAMS:
        return []  # a bare block of program output or code, not commands
    return out


# ------------------------------------------------------------------------------------ substitution
@dataclasses.dataclass
class Workspace:
    """The temporary directory the lines run in and what stands for the README's placeholders."""

    cwd: Path
    env: dict[str, str]
    checkpoints: dict[str, Path]  # "shapes", "ring", "cgan", "infogan"
    run: Path  # RUN


def _length_given(argv: list[str]) -> bool:
    return any(a in ("--steps", "--epochs", "--time") for a in argv)


def trains(argv: list[str]) -> bool:
    """A line that starts a training run (ganterm train, torchrun -m ganterm train, an example script)."""
    if argv[:2] == ["ganterm", "train"] or (argv[0] == "torchrun" and "train" in argv):
        return True
    return argv[0] == "python" and len(argv) > 1 and argv[1].startswith("examples/")


def substitute(argv: tuple[str, ...], ws: Workspace) -> list[str]:
    """The command the test runs for a README line (SUBSTITUTIONS, in that order)."""
    out = list(argv)
    resume = "--resume" in out
    for i, arg in enumerate(out):
        before = out[i - 1] if i else ""
        if before == "--time":
            out[i - 1], out[i] = "--steps", str(SHORT_STEPS)
        elif before == "--steps":
            out[i] = str(RESUMED_STEPS if resume else SHORT_STEPS)
        elif before in ("--nproc", "--nproc-per-node") and arg.isdigit():
            out[i] = str(min(int(arg), PROCESSES))
        elif arg == "CKPT":
            out[i] = str(_checkpoint_for(out, ws))
        elif arg == "RUN":
            out[i] = str(ws.run)
        elif "..." in arg:
            out[i] = str(_placeholder_run(arg, ws))
        elif arg.startswith("examples/"):
            out[i] = str(REPO / arg)
    if trains(list(argv)) and not _length_given(out):
        out += ["--steps", str(SHORT_STEPS)]
    if out[0] == "python":
        out[0] = sys.executable
    return out


def _checkpoint_for(argv: list[str], ws: Workspace) -> Path:
    if "--class" in argv:
        return ws.checkpoints["cgan"]
    if "--traverse" in argv:
        return ws.checkpoints["infogan"]
    if argv[:2] == ["ganterm", "eval"]:
        return ws.checkpoints["ring"]  # FCD on images trains its classifier for minutes (test_eval_fcd)
    return ws.checkpoints["shapes"]


def _placeholder_run(arg: str, ws: Workspace) -> Path:
    """`runs/NAME-...` -> the newest run directory runs/NAME-*; `.../checkpoints/ckpt_N.pt` -> its newest
    checkpoint."""
    m = re.match(r"^(?P<prefix>.*?)\.\.\.(?P<rest>/.*)?$", arg)
    if m is None:
        raise AssertionError(f"no rule for the placeholder {arg!r}: add one to tests/readme_commands.py")
    matches = sorted((ws.cwd / Path(m["prefix"]).parent).glob(Path(m["prefix"]).name + "*"), key=_mtime)
    matches = [p for p in matches if p.is_dir()]
    if not matches:
        raise AssertionError(f"{arg}: no run {m['prefix']}* is prepared (tests/test_readme.py `workspace`)")
    run = matches[-1]
    rest = m["rest"] or ""
    if rest.startswith("/checkpoints/"):
        return sorted((run / "checkpoints").glob("ckpt_*.pt"))[-1]
    return run / rest.lstrip("/") if rest else run


def _mtime(p: Path) -> float:
    return p.stat().st_mtime


def outputs(argv: list[str]) -> list[str]:
    """The files a line says it writes (--out, --gif, --csv, --png-dir)."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--gif", "--csv", "--png-dir")]


# ------------------------------------------------------------------------------- a pseudo-terminal
def run_in_terminal(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    keys: bytes = b"q",
    ready: Callable[[bytes], bool] = lambda screen: b"\x1b[?1049h" in screen and len(screen) > 4000,
    timeout: float = 90,
    size: tuple[int, int] = (120, 40),
) -> tuple[int, str]:
    """Run `argv` on a pseudo-terminal of `size`; once `ready(output so far)`, type `keys` (again every
    3 s until it exits: keys typed while the app starts can be lost). The exit code and the output with
    escape sequences stripped; -9 after `timeout` (a safety net, not a timing assertion)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}  # pytest sets 80x24
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    screen, sent_at = b"", None
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    screen += os.read(master, 1 << 16)
                except OSError:  # the child closed the terminal
                    break
            now = time.monotonic()
            if ready(screen) and (sent_at is None or now - sent_at > 3):
                os.write(master, keys)
                sent_at = now
            if now > deadline:
                proc.kill()
        proc.wait(timeout=30)
    finally:
        os.close(master)
    text = re.sub(
        r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|.)", "", screen.decode("utf-8", "replace")
    )
    return proc.returncode, text
