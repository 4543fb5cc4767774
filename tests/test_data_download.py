"""The real download path against a local HTTP server: success, mirrors, checksum, cut transfer, offline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import cifar_tarball, idx_bytes

from ganterm.data import download
from ganterm.data.registry import load_dataset
from ganterm.errors import DataError

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # path -> (body, how): "ok", "short" (promises more than it sends), "hang" (never answers)
    routes: dict[str, tuple[bytes, str]]
    hits: list[str]
    release: threading.Event


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body, how = self.server.routes.get(self.path, (b"", "missing"))
        if how == "missing":
            self.send_error(404)
            return
        if how == "hang":
            self.server.release.wait(10)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if how == "ok" else body[: len(body) // 3])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.routes, srv.hits, srv.release = {}, [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def _base(srv: _Server, prefix: str = "/m/") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{prefix}"


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.fixture
def mnist_files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Tiny gzip IDX files standing in for MNIST, with their checksums in the table."""
    rng = np.random.default_rng(0)
    files = {
        MNIST_FILES[0]: gzip.compress(idx_bytes(rng.integers(0, 256, (12, 28, 28), dtype=np.uint8))),
        MNIST_FILES[1]: gzip.compress(idx_bytes(rng.integers(0, 10, 12, dtype=np.uint8))),
    }
    monkeypatch.setitem(download.CHECKSUMS, "mnist", {name: _md5(body) for name, body in files.items()})
    return files


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_with_progress_then_cached(server, mnist_files, tmp_path, monkeypatch, capsys) -> None:
    server.routes = {f"/m/{name}": (body, "ok") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    ds = load_dataset("mnist", data_dir=tmp_path, progress=True)
    assert ds.size == 12 and ds.shape == (1, 28, 28)
    assert _leftovers(tmp_path / "mnist") == sorted(MNIST_FILES)
    for name, body in mnist_files.items():
        assert (tmp_path / "mnist" / name).read_bytes() == body
    assert MNIST_FILES[0] in capsys.readouterr().err  # the rich bar went to stderr
    hits = len(server.hits)
    load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert len(server.hits) == hits  # second use reads the cache


def test_mirrors_are_tried_in_order(server, mnist_files, tmp_path, monkeypatch) -> None:
    server.routes = {f"/good/{name}": (body, "ok") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, f"{_base(server, '/bad/')},{_base(server, '/good')}")
    ds = load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert ds.size == 12
    assert server.hits[:2] == [f"/bad/{MNIST_FILES[0]}", f"/good/{MNIST_FILES[0]}"]


def test_checksum_failure_keeps_nothing(server, mnist_files, tmp_path, monkeypatch) -> None:
    server.routes = {f"/m/{name}": (body + b"tampered", "ok") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    message = str(err.value)
    assert "checksum mismatch" in message and "\n" not in message
    assert all(name in message for name in MNIST_FILES) and str(tmp_path / "mnist") in message
    assert _leftovers(tmp_path / "mnist") == []


def test_cut_transfer_leaves_no_file(server, mnist_files, tmp_path, monkeypatch) -> None:
    server.routes = {f"/m/{name}": (body, "short") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path, progress=True)
    assert "could not download MNIST" in str(err.value)
    assert _leftovers(tmp_path / "mnist") == []


def test_offline_says_what_to_put_where(tmp_path, monkeypatch, mnist_files) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(download.ENV_MIRRORS, f"http://127.0.0.1:{port}/")
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("could not download MNIST (")
    assert message.endswith(f"put {', '.join(MNIST_FILES)} into {tmp_path / 'mnist'}/ and run again")
    assert _leftovers(tmp_path / "mnist") == []


def test_a_silent_server_times_out(server, tmp_path, monkeypatch) -> None:
    server.routes = {"/m/f.bin": (b"", "hang")}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    with pytest.raises(DataError, match="timed out"):
        download.fetch("test", ["f.bin"], tmp_path, title="TEST", progress=False, timeout=0.3)
    assert _leftovers(tmp_path) == []


def test_cifar_tarball_download_unpacks_and_drops_the_archive(server, tmp_path, monkeypatch) -> None:
    archive = tmp_path / "served.tar.gz"
    cifar_tarball(archive, n=3)
    body = archive.read_bytes()
    server.routes = {"/m/cifar-10-python.tar.gz": (body, "ok")}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    monkeypatch.setitem(download.CHECKSUMS, "cifar10", {"cifar-10-python.tar.gz": _md5(body)})
    ds = load_dataset("cifar10", data_dir=tmp_path / "cache", progress=False)
    assert ds.size == 15 and ds.shape == (3, 32, 32)
    assert _leftovers(tmp_path / "cache" / "cifar10") == ["cifar-10-batches-py"]
    assert not (tmp_path / "cache" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_cifar_offline_message_offers_the_unpacked_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(download.ENV_MIRRORS, "http://127.0.0.1:9/")
    with pytest.raises(DataError, match=r"put cifar-10-python.tar.gz \(or its unpacked cifar-10-batches-py/"):
        load_dataset("cifar10", data_dir=tmp_path, progress=False)


def test_progress_can_go_to_a_line_instead_of_stderr(
    server, mnist_files, tmp_path, monkeypatch, capsys
) -> None:
    from ganterm.data.progress import LineProgress

    server.routes = {f"/m/{name}": (body, "ok") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    lines: list[str] = []
    load_dataset("mnist", data_dir=tmp_path, progress=LineProgress(lines.append, interval=0.0))
    size = len(mnist_files[MNIST_FILES[1]])
    assert f"downloading {MNIST_FILES[1]} 100 % ({size} B/{size} B)" in lines
    assert any(line.startswith(f"downloading {MNIST_FILES[0]} 100 %") for line in lines)
    assert capsys.readouterr().err == ""  # nothing drawn where a TUI would be torn


def test_trainer_under_the_tui_shows_download_progress_in_the_header(
    server, mnist_files, tmp_path, monkeypatch
) -> None:
    from ganterm.channel.feed import Feed
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.trainer import Trainer

    server.routes = {f"/m/{name}": (body, "ok") for name, body in mnist_files.items()}
    monkeypatch.setenv(download.ENV_MIRRORS, _base(server))
    feed = Feed()
    messages: list[str] = []
    update = feed.update
    monkeypatch.setattr(
        feed,
        "update",
        lambda **kw: (messages.append(kw["message"]) if "message" in kw else None, update(**kw)),
    )
    cfg = resolve(TrainConfig(dataset="mnist", data_dir=str(tmp_path), out=str(tmp_path / "run"), steps=1))
    Trainer(cfg, feed, progress=False).setup()
    assert any(m.startswith(f"downloading {MNIST_FILES[0]}") and "%" in m for m in messages)


def test_line_progress_wording_and_throttle() -> None:
    from ganterm.data.progress import LineProgress

    lines: list[str] = []
    sink = LineProgress(lines.append, interval=3600.0)
    task = sink.add_task("decoding photos", total=2000, unit="images")
    sink.update(task, completed=10)  # throttled away
    sink.update(task, completed=2000)  # the last update always shows
    assert lines == ["decoding photos …", "decoding photos 100 % (2,000/2,000 images)"]
    assert LineProgress.describe(4_200_000, 9_900_000, "bytes") == "42 % (4.2 MB/9.9 MB)"
    assert LineProgress.describe(1500, None, "bytes") == "1.5 KB"
