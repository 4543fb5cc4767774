"""Bad inputs through the real CLI: one line on stderr, a non-zero exit, no traceback, nothing touched.

An earlier run directory is made once; every case must leave each of its files byte-for-byte and
mtime-for-mtime as it was, and must create nothing in the working directory.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import sys
import threading

import pytest
from fault_helpers import cli_env, one_line_error, run_cli, tree_hashes

from ganterm import cli
from ganterm.config import TrainConfig, resolve
from ganterm.training.trainer import Trainer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An earlier run, prepared bad data, and a 127.0.0.1 mirror that serves wrong bytes."""
    root = tmp_path_factory.mktemp("bad-inputs")
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
    idx_dir = root / "idx-cache" / "mnist"
    idx_dir.mkdir(parents=True)
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03garbage"))
    (idx_dir / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    )

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
        "ckpt": earlier / "checkpoints" / "ckpt_0000004.pt",
    }
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


# (id, arguments with {placeholders} from `world`, text the one error line must contain, extra env)
CASES = [
    ("unknown-dataset", ["train", "nosuch"], "unknown dataset 'nosuch'", {}),
    ("unknown-model", ["train", "ring", "--model", "gpt"], "unknown model 'gpt'", {}),
    ("unknown-loss", ["train", "ring", "--loss", "bogus"], "unknown loss 'bogus'", {}),
    ("model-for-other-data", ["train", "ring", "--model", "dcgan"], "use --model toy", {}),
    ("zero-steps", ["train", "ring", "--steps", "0"], "--steps must be a positive integer", {}),
    ("negative-steps", ["train", "ring", "--steps", "-5"], "--steps must be a positive integer", {}),
    ("steps-not-a-number", ["train", "ring", "--steps", "many"], "Invalid value for '--steps'", {}),
    ("steps-and-epochs", ["train", "ring", "--steps", "5", "--epochs", "1"], "not both", {}),
    ("negative-epochs", ["train", "ring", "--epochs", "-1"], "--epochs must be positive", {}),
    ("zero-batch", ["train", "ring", "--batch-size", "0"], "--batch-size must be a positive integer", {}),
    ("negative-batch", ["train", "ring", "-b", "-3"], "--batch-size must be a positive integer", {}),
    ("zero-z-dim", ["train", "ring", "--z-dim", "0"], "--z-dim must be a positive integer", {}),
    ("zero-ckpt-every", ["train", "ring", "--ckpt-every", "0"], "--ckpt-every must be a positive", {}),
    ("bad-image-size", ["train", "shapes", "--model", "dcgan", "--image-size", "7"], "28, 32 or 64", {}),
    ("bad-channels", ["train", "shapes", "--channels", "2"], "--channels must be 1 or 3", {}),
    ("lr-too-big", ["train", "ring", "--lr-g", "5"], "--lr-g must be in (0, 1)", {}),
    ("negative-noise", ["train", "ring", "--instance-noise", "-1"], "--instance-noise must be >= 0", {}),
    ("nan-noise", ["train", "ring", "--instance-noise", "nan"], "--instance-noise must be >= 0", {}),
    ("negative-r1", ["train", "ring", "--r1", "-0.5"], "--r1 must be >= 0", {}),
    ("zero-r1-every", ["train", "ring", "--r1-every", "0"], "--r1-every must be a positive integer", {}),
    ("betas-one-number", ["train", "ring", "--betas", "0.5"], "two numbers", {}),
    ("betas-not-numbers", ["train", "ring", "--betas", "a,b"], "two numbers", {}),
    (
        "betas-out-of-range",
        ["train", "ring", "--betas", "1.5,0.9"],
        "--betas must be two numbers in [0, 1)",
        {},
    ),
    ("device-gpu", ["train", "ring", "--device", "gpu"], "bad device 'gpu'", {}),
    ("device-cuda7", ["train", "ring", "--device", "cuda:7", "--out", "{root}/never"], "cuda:7", {}),
    ("bad-precision", ["train", "ring", "--precision", "fp8"], "unknown precision 'fp8'", {}),
    ("bad-on-nan", ["train", "ring", "--on-nan", "explode"], "--on-nan action", {}),
    ("colors-bogus", ["train", "ring", "--colors", "bogus"], "unknown --colors 'bogus'", {}),
    ("view-colors-bogus", ["view", "{earlier}", "--colors", "bogus"], "unknown --colors 'bogus'", {}),
    ("unknown-option", ["train", "ring", "--learning-rate", "1"], "No such option", {}),
    ("unknown-command", ["fly"], "No such command", {}),
    ("resume-missing", ["train", "ring", "--resume", "{root}/nope.pt"], "no such checkpoint file", {}),
    ("resume-is-a-dir", ["train", "ring", "--resume", "{earlier}"], "no such checkpoint file", {}),
    (
        "resume-other-dataset",
        ["train", "grid", "--resume", "{ckpt}", "--out", "{root}/never"],
        "checkpoint has dataset='ring'",
        {},
    ),
    ("out-is-a-file", ["train", "ring", "--steps", "2", "--out", "{earlier}/config.json"], "is a file", {}),
    ("view-missing", ["view", "{root}/nope"], "no such checkpoint or run directory", {}),
    ("view-not-a-run-dir", ["view", "{root}/empty"], "is not a ganterm run directory", {}),
    ("view-not-a-checkpoint", ["view", "{earlier}/metrics.jsonl"], "not a checkpoint", {}),
    ("sample-missing", ["sample", "{root}/nope.pt"], "no such checkpoint", {}),
    ("sample-empty-dir", ["sample", "{root}/empty"], "no loadable checkpoint", {}),
    (
        "sample-bad-suffix",
        ["sample", "{earlier}", "--out", "{earlier}/config.json"],
        "must end in .npy or .png",
        {},
    ),
    (
        "sample-out-dir-missing",
        ["sample", "{earlier}", "--out", "{root}/no/such/dir/s.png"],
        "does not exist",
        {},
    ),
    ("sample-zero-n", ["sample", "{earlier}", "-n", "0"], "--n must be a positive integer", {}),
    ("eval-n-one", ["eval", "{earlier}", "--n", "1"], "--n must be an integer > 1", {}),
    ("eval-missing", ["eval", "{root}/nope.pt"], "no such checkpoint", {}),
    ("folder-missing", ["train", "folder:{root}/nope"], "is not an existing directory", {}),
    (
        "folder-not-images",
        ["train", "folder:{root}/not-images", "--out", "{root}/never"],
        "{root}/not-images",
        {},
    ),
    ("folder-empty", ["train", "folder:{root}/empty", "--out", "{root}/never"], "{root}/empty", {}),
    (
        "idx-corrupt",
        ["train", "mnist", "--data-dir", "{root}/idx-cache", "--out", "{root}/never"],
        "train-images-idx3-ubyte.gz",
        {},
    ),
    (
        "checksum-mismatch",
        ["train", "mnist", "--data-dir", "{root}/download", "--out", "{root}/never"],
        "checksum mismatch",
        {"GANTERM_MIRRORS": "{mirror}"},
    ),
    (
        "c-locale-non-ascii",
        ["train", "ñandú"],
        "unknown dataset",
        {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"},
    ),
    (
        "c-locale-sample-suffix",
        ["sample", "{earlier}", "--out", "{root}/über.txt"],
        "must end in .npy or .png",
        {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"},
    ),
]


def _fill(text: str, world: dict) -> str:
    return text.format(**{k: str(v) for k, v in world.items()})


@pytest.fixture(scope="module")
def earlier_hashes(world):
    return tree_hashes(world["earlier"])


@pytest.mark.parametrize("args,needle,env", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_touches_nothing(world, earlier_hashes, args, needle, env):
    extra = {k: _fill(v, world) for k, v in env.items()}
    base = cli_env(OMP_NUM_THREADS="1")
    if "LC_ALL" in extra:  # a bare C locale, no help from the environment
        base = {k: v for k, v in base.items() if k not in ("PYTHONIOENCODING", "LC_CTYPE")}
    r = run_cli(*[_fill(a, world) for a in args], env={**base, **extra}, cwd=world["cwd"])
    line = one_line_error(r)
    assert line.startswith("ganterm: error: ")
    assert _fill(needle, world) in line, line
    assert tree_hashes(world["earlier"]) == earlier_hashes, "an earlier run's files changed"
    assert not list(world["cwd"].iterdir()), "a failed command left files in the working directory"
    assert not (world["root"] / "never").exists(), "a failed command created its run directory"


def test_table_is_big_enough():
    assert len(CASES) >= 20


def test_cuda_out_of_memory_is_one_line(monkeypatch, capsys, tmp_path):
    """No GPU here: raise torch's OOM from inside the command and check the mapping in cli.main."""
    import torch

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


def test_unexpected_multi_line_error_is_one_line(monkeypatch, capsys):
    def boom(*_args, **_kwargs):
        raise RuntimeError("first line\nsecond line\nthird line")

    monkeypatch.setattr("ganterm.session.Session.run", boom)
    monkeypatch.setattr(sys, "argv", ["ganterm", "train", "ring", "--headless"])
    monkeypatch.delenv("GANTERM_DEBUG", raising=False)
    with pytest.raises(SystemExit):
        cli.main()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "first line" in err and "GANTERM_DEBUG=1" in err


def test_oom_is_recognised_without_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")
    assert cli._is_out_of_memory(MemoryError()) is False
