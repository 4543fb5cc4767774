"""Every error path of the CLI in one table: the input, the exit code, the single stderr line, no
traceback, and nothing written outside the run directory.

Exit codes (README, "exit code"; ganterm/errors.py): 2 refused before anything trained (bad options,
data, checkpoints, model files, devices, downloads, outputs); 1 a run that started and then failed;
0 finished or stopped by a key or signal after a final checkpoint (tests/test_signals.py); 130
interrupted before the run began.

An earlier run directory is made once; every case must leave each of its files byte-for-byte and
mtime-for-mtime as it was. A refused command (2) creates nothing anywhere: not in the working directory,
not its --out, not beside its inputs; a failed run (1) writes only into its own run directory.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from fault_helpers import cli_env, one_line_error, run_cli, tree_hashes
from PIL import Image
from test_user_models import FAST, write_models  # the same model file, written by one helper

import ganterm
from ganterm import cli
from ganterm.config import TrainConfig, resolve
from ganterm.errors import UsageError, is_out_of_memory
from ganterm.training.trainer import Trainer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An earlier run, prepared bad data and files, a run of a model file, and a 127.0.0.1 mirror that
    serves wrong bytes."""
    root = tmp_path_factory.mktemp("cli-errors")
    earlier = root / "earlier"
    cfg = resolve(
        TrainConfig(dataset="ring", steps=4, ckpt_every=2, sample_every=2, eval_every=0, out=str(earlier))
    )
    Trainer(cfg).run()

    not_images = root / "not-images"
    not_images.mkdir()
    (not_images / "notes.txt").write_text("not an image")
    (not_images / "fake.png").write_bytes(b"\x89PNG but not really" * 10)
    (root / "empty").mkdir()
    unreadable = root / "unreadable"  # real PNG headers, truncated pixels: the probe passes, decoding fails
    unreadable.mkdir()
    _noise_png(root / "good.png")
    for name in ("a.png", "b.png"):
        (unreadable / name).write_bytes((root / "good.png").read_bytes()[:200])
    idx_dir = root / "idx-cache" / "mnist"
    idx_dir.mkdir(parents=True)
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03garbage"))
    (idx_dir / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    )

    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    torch.save({"ganterm_format": 2, "config": Evil()}, root / "evil.pt")

    write_models(root / "models.py", hidden=16)
    write_models(root / "changed.py", hidden=24)  # other weights
    write_models(root / "raising.py", hidden=16, raise_after=8)  # D raises at step 2
    user = root / "user-run"
    r = run_cli("train", "shapes", "--model", f"{root / 'models.py'}:build", "--out", str(user), *FAST)
    assert r.returncode == 0, r.stderr

    served = root / "mirror"
    served.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (served / name).write_bytes(b"these are not the bytes you are looking for")
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cwd = root / "cwd"
    cwd.mkdir()
    yield {
        "root": root,
        "earlier": earlier,
        "cwd": cwd,
        "mirror": f"http://127.0.0.1:{server.server_address[1]}/",
        "dead_mirror": "http://127.0.0.1:9/",
        "ckpt": earlier / "checkpoints" / "ckpt_0000004.pt",
        "user_ckpt": sorted((user / "checkpoints").glob("*.pt"))[-1],
    }
    server.shutdown()


def _noise_png(path: Path) -> None:
    """A 28x28 grey PNG of noise: it does not compress, so a cut-off copy loses pixels, not only IEND."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(path)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here")
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"}

# (id, arguments with {placeholders} from `world`, exit code, text the one error line must contain, env)
CASES = [
    # bad names and values on the command line
    ("unknown-dataset", ["train", "nosuch"], 2, "unknown dataset 'nosuch'", {}),
    ("unknown-model", ["train", "ring", "--model", "gpt"], 2, "unknown model 'gpt'", {}),
    ("unknown-loss", ["train", "ring", "--loss", "bogus"], 2, "unknown loss 'bogus'", {}),
    ("model-for-other-data", ["train", "ring", "--model", "dcgan"], 2, "use --model toy", {}),
    ("zero-steps", ["train", "ring", "--steps", "0"], 2, "--steps must be a positive integer", {}),
    ("negative-steps", ["train", "ring", "--steps", "-5"], 2, "--steps must be a positive integer", {}),
    ("steps-not-a-number", ["train", "ring", "--steps", "many"], 2, "Invalid value for '--steps'", {}),
    ("steps-and-epochs", ["train", "ring", "--steps", "5", "--epochs", "1"], 2, "not both", {}),
    ("negative-epochs", ["train", "ring", "--epochs", "-1"], 2, "--epochs must be positive", {}),
    ("bad-time", ["train", "ring", "--time", "soon"], 2, "--time takes a duration", {}),
    ("zero-batch", ["train", "ring", "--batch-size", "0"], 2, "--batch-size must be a positive integer", {}),
    ("negative-batch", ["train", "ring", "-b", "-3"], 2, "--batch-size must be a positive integer", {}),
    ("zero-z-dim", ["train", "ring", "--z-dim", "0"], 2, "--z-dim must be a positive integer", {}),
    ("zero-ckpt-every", ["train", "ring", "--ckpt-every", "0"], 2, "--ckpt-every must be a positive", {}),
    ("bad-image-size", ["train", "shapes", "--model", "dcgan", "--image-size", "7"], 2, "28, 32 or 64", {}),
    ("bad-channels", ["train", "shapes", "--channels", "2"], 2, "--channels must be 1 or 3", {}),
    ("lr-too-big", ["train", "ring", "--lr-g", "5"], 2, "--lr-g must be in (0, 1)", {}),
    ("negative-noise", ["train", "ring", "--instance-noise", "-1"], 2, "--instance-noise must be >= 0", {}),
    ("nan-noise", ["train", "ring", "--instance-noise", "nan"], 2, "--instance-noise must be >= 0", {}),
    ("negative-r1", ["train", "ring", "--r1", "-0.5"], 2, "--r1 must be >= 0", {}),
    ("zero-r1-every", ["train", "ring", "--r1-every", "0"], 2, "--r1-every must be a positive integer", {}),
    ("betas-one-number", ["train", "ring", "--betas", "0.5"], 2, "two numbers", {}),
    ("betas-not-numbers", ["train", "ring", "--betas", "a,b"], 2, "two numbers", {}),
    ("betas-out-of-range", ["train", "ring", "--betas", "1.5,0.9"], 2, "--betas must be two numbers in", {}),
    ("vae-with-loss", ["train", "shapes", "--algo", "vae", "--loss", "hinge"], 2, "no GAN loss", {}),
    ("device-gpu", ["train", "ring", "--device", "gpu"], 2, "bad device 'gpu'", {}),
    ("device-cuda7", ["train", "ring", "--device", "cuda:7", "--out", "{root}/never"], 2, "cuda:7", {}),
    ("bad-precision", ["train", "ring", "--precision", "fp8"], 2, "unknown precision 'fp8'", {}),
    ("bad-on-nan", ["train", "ring", "--on-nan", "explode"], 2, "--on-nan action", {}),
    ("zero-nproc", ["train", "ring", "--nproc", "0"], 2, "--nproc 0", {}),
    ("colors-bogus", ["train", "ring", "--colors", "bogus"], 2, "unknown --colors 'bogus'", {}),
    ("view-colors-bogus", ["view", "{earlier}", "--colors", "bogus"], 2, "unknown --colors 'bogus'", {}),
    ("unknown-option", ["train", "ring", "--learning-rate", "1"], 2, "No such option", {}),
    ("unknown-command", ["fly"], 2, "No such command", {}),
    ("c-locale-non-ascii", ["train", "ñandú"], 2, "unknown dataset", C_LOCALE),
    # the run directory
    (
        "out-is-a-file",
        ["train", "ring", "--steps", "2", "--out", "{earlier}/config.json"],
        2,
        "is a file",
        {},
    ),
    ("out-under-a-file", ["train", "ring", "--out", "{earlier}/config.json/run"], 2, "is a file", {}),
    (
        "out-cannot-be-made",
        ["train", "ring", "--steps", "2", "--out", "/proc/ganterm-x"],
        2,
        "cannot create",
        {},
    ),
    # checkpoints and --resume
    ("resume-missing", ["train", "ring", "--resume", "{root}/nope.pt"], 2, "no such checkpoint file", {}),
    ("resume-is-a-dir", ["train", "ring", "--resume", "{earlier}"], 2, "no such checkpoint file", {}),
    ("resume-pickled", ["train", "--resume", "{root}/evil.pt", "--out", "{root}/never"], 2, "refusing", {}),
    (
        "resume-other-dataset",
        ["train", "grid", "--resume", "{ckpt}", "--out", "{root}/never"],
        2,
        "has dataset 'ring', not 'grid'; drop the DATASET argument",
        {},
    ),
    (
        "resume-other-model",
        ["train", "--resume", "{ckpt}", "--model", "mlp", "--out", "{root}/never"],
        2,
        "has model 'toy', not 'mlp'; drop --model",
        {},
    ),
    ("view-missing", ["view", "{root}/nope"], 2, "no such checkpoint or run directory", {}),
    ("view-not-a-run-dir", ["view", "{root}/empty"], 2, "is not a ganterm run directory", {}),
    ("view-not-a-checkpoint", ["view", "{earlier}/metrics.jsonl"], 2, "not a checkpoint", {}),
    ("view-pickled", ["view", "{root}/evil.pt"], 2, "refusing", {}),
    ("sample-pickled", ["sample", "{root}/evil.pt", "--out", "{root}/s.png"], 2, "refusing", {}),
    ("sample-missing", ["sample", "{root}/nope.pt"], 2, "no such checkpoint", {}),
    ("sample-empty-dir", ["sample", "{root}/empty"], 2, "no loadable checkpoint", {}),
    (
        "sample-bad-suffix",
        ["sample", "{earlier}", "--out", "{earlier}/config.json"],
        2,
        "must end in .npy or .png",
        {},
    ),
    (
        "sample-out-dir-missing",
        ["sample", "{earlier}", "--out", "{root}/no/dir/s.png"],
        2,
        "does not exist",
        {},
    ),
    ("sample-zero-n", ["sample", "{earlier}", "-n", "0"], 2, "--n must be a positive integer", {}),
    (
        "sample-class-of-a-gan",
        ["sample", "{earlier}", "--class", "3", "--out", "{root}/s.png"],
        2,
        "--class",
        {},
    ),
    (
        "c-locale-sample-suffix",
        ["sample", "{earlier}", "--out", "{root}/über.txt"],
        2,
        "must end in .npy or .png",
        C_LOCALE,
    ),
    ("eval-n-one", ["eval", "{earlier}", "--n", "1"], 2, "--n must be an integer > 1", {}),
    ("eval-missing", ["eval", "{root}/nope.pt"], 2, "no such checkpoint", {}),
    # your model file
    (
        "model-file-moved",
        ["sample", "{user_ckpt}", "--out", "{root}/s.png", "--model", "{root}/gone.py:build"],
        2,
        "no such file",
        {},
    ),
    (
        "model-file-no-longer-matches",
        ["sample", "{user_ckpt}", "--out", "{root}/s.png", "--model", "{root}/changed.py:build"],
        2,
        "match",
        {},
    ),
    # export
    ("export-missing", ["export", "{root}/nope", "--csv", "{root}/m.csv"], 2, "no such run directory", {}),
    ("export-gif-of-2d", ["export", "{earlier}", "--gif", "{root}/run.gif"], 2, "2-D point run", {}),
    ("export-png-of-2d", ["export", "{earlier}", "--png-dir", "{root}/frames"], 2, "2-D point run", {}),
    # data
    ("folder-missing", ["train", "folder:{root}/nope"], 2, "is not an existing directory", {}),
    (
        "folder-not-images",
        ["train", "folder:{root}/not-images", "--out", "{root}/never"],
        2,
        "not-images",
        {},
    ),
    ("folder-empty", ["train", "folder:{root}/empty", "--out", "{root}/never"], 2, "{root}/empty", {}),
    ("path-empty", ["train", "{root}/empty", "--out", "{root}/never"], 2, "no images in", {}),
    (
        "path-unreadable",
        ["train", "{root}/unreadable", "--out", "{root}/never"],
        2,
        "none of the 2 image files",
        {},
    ),
    (
        "idx-corrupt",
        ["train", "mnist", "--data-dir", "{root}/idx-cache", "--out", "{root}/never"],
        2,
        "train-images-idx3-ubyte.gz",
        {},
    ),
    (
        "checksum-mismatch",
        ["train", "mnist", "--data-dir", "{root}/download", "--out", "{root}/never"],
        2,
        "checksum mismatch",
        {"GANTERM_MIRRORS": "{mirror}"},
    ),
    (
        "offline",
        ["train", "mnist", "--data-dir", "{root}/offline", "--out", "{root}/never"],
        2,
        "could not download MNIST",
        {"GANTERM_MIRRORS": "{dead_mirror}"},
    ),
    pytest.param(
        "cuda-without-a-gpu",
        ["train", "ring", "--device", "cuda", "--out", "{root}/never"],
        2,
        "no CUDA GPU",
        {},
        marks=NO_GPU,
    ),
    # a run that started and then failed
    (
        "network-raises-mid-run",
        ["train", "shapes", "--model", "{root}/raising.py:build", "--out", "{root}/failed-run", *FAST],
        1,
        "training stopped at step 2: RuntimeError: my D broke; last checkpoint:",
        {},
    ),
]


def _case(c):
    """A row as a pytest param, its first value its id (a row that is already a param keeps its marks)."""
    values, marks = (c.values, c.marks) if hasattr(c, "marks") else (c, ())
    return pytest.param(*values[1:], id=values[0], marks=marks)


def _fill(text: str, world: dict) -> str:
    return text.format(**{k: str(v) for k, v in world.items()})


def _paths(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.fixture(scope="module")
def earlier_hashes(world):
    return tree_hashes(world["earlier"])


@pytest.mark.parametrize("args,code,needle,env", [_case(c) for c in CASES])
def test_error_is_one_line_with_its_exit_code_and_touches_nothing(
    world, earlier_hashes, args, code, needle, env
):
    extra = {k: _fill(v, world) for k, v in env.items()}
    base = cli_env(OMP_NUM_THREADS="1", GANTERM_MIRRORS=world["dead_mirror"])
    if "LC_ALL" in extra:  # a bare C locale, no help from the environment
        base = {k: v for k, v in base.items() if k not in ("PYTHONIOENCODING", "LC_CTYPE")}
    argv = [_fill(a, world) for a in args]
    before = _paths(world["root"])
    r = run_cli(*argv, env={**base, **extra}, cwd=world["cwd"])
    line = one_line_error(r)
    assert r.returncode == code, (r.returncode, line)
    assert line.startswith("ganterm: error: ")
    assert _fill(needle, world) in line, line
    assert "[error]" not in r.stdout and "step 0/" not in r.stdout, r.stdout  # said once, on stderr
    assert tree_hashes(world["earlier"]) == earlier_hashes, "an earlier run's files changed"
    assert not list(world["cwd"].iterdir()), "a failed command left files in the working directory"
    new = _paths(world["root"]) - before
    if code == 1:  # a failed run keeps what it trained, in its own run directory only
        out = Path(argv[argv.index("--out") + 1])
        new = {p for p in new if out not in (p, *p.parents)}
    assert not new, f"a failed command wrote outside its run directory: {sorted(map(str, new))}"


def test_table_is_big_enough():
    assert len(CASES) >= 60


def test_a_resumed_run_takes_the_checkpoints_dataset_and_settings(world, tmp_path):
    """The README's resume line with no DATASET: the ring checkpoint resumes as ring, its settings kept."""
    out = tmp_path / "resumed"
    r = run_cli("train", "--resume", str(world["ckpt"]), "--steps", "6", "--out", str(out), "--headless")
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout and "ring / gan / toy" in r.stdout, r.stdout
    assert sorted(p.name for p in (out / "checkpoints").glob("*.pt"))[-1] == "ckpt_0000006.pt"


def test_an_absolute_folder_puts_the_run_under_the_working_directory(tmp_path):
    data = tmp_path / "data" / "my_digits"
    data.mkdir(parents=True)
    for i in range(4):
        Image.new("L", (28, 28), 40 * i).save(data / f"{i}.png")
    cwd = tmp_path / "work"
    cwd.mkdir()
    r = run_cli("train", str(data), "--steps", "2", "--headless", cwd=cwd, env=cli_env(OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr
    assert [p.name.split("-")[:2] for p in (cwd / "runs").iterdir()] == [["my_digits", "dcgan"]]
    assert sorted(p.name for p in data.parent.iterdir()) == ["my_digits"], "a run was written beside the data"


def test_a_folder_with_an_unreadable_image_names_it(tmp_path):
    from ganterm.data.folder import load_folder, skipped_note

    _noise_png(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes((tmp_path / "good.png").read_bytes()[:200])
    data = load_folder(tmp_path, image_size=28, channels=1, progress=False)
    assert data.size == 1
    assert skipped_note(data) == f"skipped 1 unreadable image of 2: {tmp_path / 'bad.png'}"


def test_fit_lists_every_option_it_takes():
    """`ganterm.fit(..., lr=1e-3)`: the error lists the keyword arguments too (loss, steps, time, ...)."""
    from torch import nn

    G, D = nn.Sequential(nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 1))
    with pytest.raises(UsageError) as e:
        ganterm.fit(G, D, torch.randn(8, 2), lr=1e-3)
    message = str(e.value)
    assert "no option 'lr'" in message and "\n" not in message
    for name in ("loss", "steps", "time", "out", "headless", "lr_g", "lr_d", "batch_size"):
        assert name in message, (name, message)


def test_cuda_out_of_memory_is_one_line(monkeypatch, capsys, tmp_path):
    """No GPU here: raise torch's OOM from inside the command and check the mapping in cli.main."""

    def boom(*_args, **_kwargs):
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.8 GiB total)\n"
            "See documentation for Memory Management"
        )

    monkeypatch.setattr("ganterm.session.Session.run", boom)
    monkeypatch.setattr(sys, "argv", ["ganterm", "train", "ring", "--headless", "--out", str(tmp_path / "r")])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err
    assert ex.value.code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    for hint in ("out of memory", "--batch-size", "--image-size", "--model"):
        assert hint in err, err


def test_unexpected_multi_line_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def boom(*_args, **_kwargs):
        raise RuntimeError("first line\nsecond line\nthird line")

    monkeypatch.setattr("ganterm.session.Session.run", boom)
    monkeypatch.setattr(sys, "argv", ["ganterm", "train", "ring", "--headless"])
    monkeypatch.delenv("GANTERM_DEBUG", raising=False)
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err
    assert ex.value.code == 1
    assert err.count("\n") == 1 and "first line" in err and "GANTERM_DEBUG=1" in err


def test_interrupted_before_the_run_is_130(monkeypatch, capsys):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ganterm.session.Session.run", interrupted)
    monkeypatch.setattr(sys, "argv", ["ganterm", "train", "ring", "--headless"])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 130 and capsys.readouterr().err == "ganterm: error: interrupted\n"


def test_oom_is_recognised_without_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")
    assert is_out_of_memory(MemoryError()) is False
