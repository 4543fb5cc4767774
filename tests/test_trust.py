"""Issue 22, part 1: a checkpoint or run directory never runs code on its own.

A run trained with `--model FILE.py:FN` records the file's path. The issue's measurement, as a test: a
20-step shapes run whose recorded model was edited (config.json and the checkpoint) to name another file,
whose top-level code writes a marker. `sample`, `eval`, `view CKPT`, `view RUN` and `train --resume`
must never import it unless this command line names it (`--model`); then, and only then, it runs. A
genuine `--model` run still samples, evaluates, views with samples and resumes when its file is named.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from fault_helpers import one_line_error, run_cli
from test_user_models import MODELS, write_models
from tmux_helpers import TmuxSession

from ganterm.errors import UsageError
from ganterm.models.user_file import ModelFileNotTrusted, build_from_file, trust_model_file
from ganterm.training.checkpoint import FORMAT_KEY, load_checkpoint, save_checkpoint
from ganterm.training.sampling import Sampler

STEPS = ("--steps", "20", "--ckpt-every", "10", "--sample-every", "10", "--eval-every", "0")
FAST = ("--batch-size", "16", "--precision", "fp32", "--headless", *STEPS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The genuine run, its copy whose recorded model names evil.py, and the marker evil.py writes."""
    root = tmp_path_factory.mktemp("trust")
    models = write_models(root / "models.py")
    good = root / "good"
    r = run_cli("train", "shapes", "--model", f"{models}:build", "--out", str(good), *FAST)
    assert r.returncode == 0, r.stderr
    marker = root / "PWNED"
    evil = root / "evil.py"
    evil.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        + MODELS.format(hidden=32, out="h", raise_after=0)
    )
    edited = root / "edited"
    shutil.copytree(good, edited)
    spec = f"{evil}:build"
    config = json.loads((edited / "config.json").read_text())
    (edited / "config.json").write_text(json.dumps({**config, "model": spec}))
    for path in (edited / "checkpoints").glob("*.pt"):
        ckpt = load_checkpoint(path)
        ckpt["config"]["model"] = spec
        save_checkpoint(path, {k: v for k, v in ckpt.items() if k != FORMAT_KEY})
    return {"root": root, "models": models, "good": good, "edited": edited, "evil": evil, "marker": marker}


def _ckpt(run: Path) -> str:
    return str(sorted((run / "checkpoints").glob("*.pt"))[-1])


COMMANDS = {
    "sample CKPT": lambda r, tmp: ["sample", _ckpt(r), "--out", str(tmp / "s.png")],
    "sample RUN": lambda r, tmp: ["sample", str(r), "--out", str(tmp / "s.png")],
    "eval CKPT": lambda r, tmp: ["eval", _ckpt(r), "--n", "50"],
    "train --resume": lambda r, tmp: [
        "train",
        "shapes",
        "--resume",
        _ckpt(r),
        "--out",
        str(tmp / "resumed"),
        "--batch-size",
        "16",
        "--headless",
    ],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_recorded_model_file_never_runs(runs, command, tmp_path):
    line = one_line_error(run_cli(*COMMANDS[command](runs["edited"], tmp_path)))
    assert f"{runs['evil']}:build" in line and "--model" in line, line
    assert run_cli(*COMMANDS[command](runs["edited"], tmp_path)).returncode == 2
    assert not runs["marker"].exists()
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "resumed" / "checkpoints").exists()


@pytest.mark.parametrize("what", ["CKPT", "RUN"])
def test_view_shows_the_run_and_says_how_to_trust_the_file(runs, what, tmp_path):
    target = _ckpt(runs["edited"]) if what == "CKPT" else str(runs["edited"])
    with TmuxSession(tmp_path, "view", target) as tmux:
        screen = tmux.wait_for_text("G not rebuilt")
        assert "recorded grid" in tmux.wait_for_text("recorded grid")  # the run's own samples/*.png
        assert f"add --model {runs['evil']}:build" in screen and "loss" in screen  # the curves are there
        tmux.keys("r")  # new noise needs G: a toast says why not, nothing is loaded
        tmux.wait_for_text("--model")
        assert not runs["marker"].exists()
        assert tmux.quit() == 0
    assert not runs["marker"].exists()


def test_naming_the_file_is_what_runs_it(runs, tmp_path):
    """The guard is the flag, not the file: named on the command line, the edited run's file runs."""
    r = run_cli(
        "sample", _ckpt(runs["edited"]), "--out", str(tmp_path / "s.png"), "--model", f"{runs['evil']}:build"
    )
    assert r.returncode == 0, r.stderr
    assert runs["marker"].read_text() == "ran"
    runs["marker"].unlink()


@pytest.fixture(scope="module")
def fcd_cache(tmp_path_factory) -> Path:
    """A quickly trained FCD classifier where `ganterm eval --data-dir` looks (as tests/test_algorithms)."""
    from ganterm.data.shapes import shapes
    from ganterm.eval import fcd

    root = tmp_path_factory.mktemp("fcd-cache")
    data = shapes(seed=0, n=3000)
    net, acc = fcd.train_classifier(data, steps=80, max_images=3000)
    fcd.save_classifier(fcd.classifier_path(data, root), net, acc, data.name)
    return root


def test_a_genuine_run_samples_evaluates_and_resumes_when_its_file_is_named(runs, tmp_path, fcd_cache):
    spec = f"{runs['models']}:build"
    r = run_cli("sample", str(runs["good"]), "--out", str(tmp_path / "s.png"), "--model", spec)
    assert r.returncode == 0, r.stderr
    r = run_cli("eval", _ckpt(runs["good"]), "--n", "200", "--data-dir", str(fcd_cache), "--model", spec)
    assert r.returncode == 0 and "FCD" in r.stdout, r.stderr
    resumed = tmp_path / "resumed"
    r = run_cli(
        "train",
        "shapes",
        "--model",
        spec,
        "--resume",
        _ckpt(runs["good"]),
        "--out",
        str(resumed),
        "--batch-size",
        "16",
        "--precision",
        "fp32",
        "--headless",
        "--steps",
        "24",
        "--eval-every",
        "0",
    )
    assert r.returncode == 0, r.stderr
    assert load_checkpoint(sorted((resumed / "checkpoints").glob("*.pt"))[-1])["step"] == 24


@pytest.mark.parametrize("what", ["CKPT", "RUN"])
def test_a_genuine_run_views_with_samples_from_g_when_its_file_is_named(runs, what, tmp_path):
    target = _ckpt(runs["good"]) if what == "CKPT" else str(runs["good"])
    with TmuxSession(tmp_path, "view", target, "--model", f"{runs['models']}:build") as tmux:
        tmux.wait_for_text("samples · step 20")
        time.sleep(1.0)  # a run directory's checkpoint source has polled
        tmux.keys("r")
        tmux.wait_for_text("new noise")  # drawn by G, rebuilt from the named file
        assert "G not rebuilt" not in tmux.screen()
        assert tmux.quit() == 0


def test_compare_never_runs_a_recorded_file(runs, tmp_path):
    with TmuxSession(tmp_path, "view", _ckpt(runs["edited"]), str(runs["good"])) as tmux:
        tmux.wait_for_text("G not rebuilt")
        time.sleep(1.0)  # the run directory's checkpoint source has polled too
        tmux.keys("v")
        tmux.wait_for_text("G not rebuilt")  # the genuine run records a file too, and it was not named
        assert tmux.quit() == 0
    assert not runs["marker"].exists()


def test_mismatches_are_one_line(runs, tmp_path):
    other = write_models(tmp_path / "other.py", hidden=48)
    line = one_line_error(
        run_cli("sample", _ckpt(runs["good"]), "--out", str(tmp_path / "s.png"), "--model", f"{other}:build")
    )
    assert f"--model {other}:build builds networks that do not match the checkpoint's weights" in line
    assert f"the run was trained with {runs['models']}:build" in line
    legacy = Path(__file__).parent / "fixtures" / "legacy" / "shapes-mlp"  # a built-in model's run
    r = run_cli("sample", str(legacy), "--out", str(tmp_path / "s.png"), "--model", f"{other}:build")
    assert r.returncode == 2 and "built-in model 'mlp', which needs no file; drop --model" in one_line_error(
        r
    )
    r = run_cli("view", str(legacy), "--model", "mlp")
    assert r.returncode == 2 and "a built-in model needs none" in one_line_error(r)


def test_a_recorded_spec_alone_builds_nothing_in_python(runs):
    ckpt = load_checkpoint(_ckpt(runs["edited"]))
    with pytest.raises(ModelFileNotTrusted) as e:
        Sampler.from_checkpoint(ckpt)
    assert e.value.exit_code == 2 and e.value.recorded == f"{runs['evil']}:build"
    with pytest.raises(ModelFileNotTrusted):
        build_from_file(f"{runs['evil']}:build", (1, 28, 28), 8)  # no trust object
    with pytest.raises(ModelFileNotTrusted):  # trust in another file covers nothing else
        build_from_file(f"{runs['evil']}:build", (1, 28, 28), 8, trust_model_file(f"{runs['models']}:build"))
    assert not runs["marker"].exists()


def test_what_runs_is_the_bytes_that_were_trusted(tmp_path):
    """A file changed after it was named is not what runs: the trusted bytes are (a change asks again)."""
    path = write_models(tmp_path / "models.py")
    trusted = trust_model_file(f"{path}:build")
    path.write_text("raise SystemExit('changed after it was trusted')\n")
    G, _ = build_from_file(trusted.spec, (1, 28, 28), 8, trusted)
    assert sum(p.numel() for p in G.parameters()) > 0
    assert trust_model_file(f"{path}:build").sha256 != trusted.sha256
    with pytest.raises(UsageError, match="no such file"):
        trust_model_file(f"{tmp_path}/gone.py:build")
