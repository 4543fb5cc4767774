"""CIFAR-10 batches written here (tiny), the restricted unpickler, and safe extraction."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import batch_bytes, cifar_tarball, write_cifar

from ganterm.data.cifar import CIFAR_DIR, TRAIN_BATCHES, extract_batches, load_batch, safe_unpickle
from ganterm.data.registry import list_datasets, load_dataset
from ganterm.errors import DataError


def test_loads_batches_in_channel_planes(tmp_path: Path) -> None:
    data, labels = write_cifar(tmp_path / "cifar10")
    ds = load_dataset("cifar10", data_dir=tmp_path, progress=False)
    assert (ds.shape, ds.size) == ((3, 32, 32), 20)
    assert ds.data is not None and ds.labels is not None
    # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major.
    expected = torch.from_numpy(data.reshape(-1, 3, 32, 32)).float() / 127.5 - 1
    torch.testing.assert_close(ds.data, expected)
    assert ds.labels.tolist() == labels and ds.labels.dtype == torch.int64
    assert ds.info["classes"][3] == "class3"
    assert {s.name: s.cached for s in list_datasets(tmp_path)}["cifar10"]


def test_grey_and_resized(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar10")
    ds = load_dataset("cifar10", data_dir=tmp_path, image_size=28, channels=1, progress=False)
    assert ds.data is not None and ds.data.shape == (20, 1, 28, 28)
    assert ds.data.min() >= -1 and ds.data.max() <= 1


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_pickles_of_each_protocol(tmp_path: Path, protocol: int) -> None:
    raw, data, labels = batch_bytes(3, seed=1, protocol=protocol)
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    images, out_labels = load_batch(path)
    assert np.array_equal(images.reshape(3, -1), data) and out_labels.tolist() == labels


def test_numpy1_module_names_as_in_the_real_files(tmp_path: Path) -> None:
    raw, data, _ = batch_bytes(2, seed=0)
    legacy = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert legacy != raw
    path = tmp_path / "data_batch_1"
    path.write_bytes(legacy)
    assert np.array_equal(load_batch(path)[0].reshape(2, -1), data)


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _HostileExec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_Hostile, _HostileExec])
def test_hostile_pickle_is_refused_without_running(tmp_path: Path, payload) -> None:
    marker = tmp_path / "pwned"
    raw = pickle.dumps({"data": payload(marker), "labels": []}, protocol=2)
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    with pytest.raises(DataError, match="refused") as err:
        load_batch(path)
    assert not marker.exists() and "\n" not in str(err.value)


def test_damaged_and_foreign_batches(tmp_path: Path) -> None:
    raw, _, _ = batch_bytes(3, seed=0)
    with pytest.raises(DataError, match="damaged"):
        safe_unpickle(raw[: len(raw) // 2], "data_batch_1")
    path = tmp_path / "data_batch_2"
    path.write_bytes(pickle.dumps({"labels": [1]}, protocol=2))
    with pytest.raises(DataError, match="3072"):
        load_batch(path)
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}, protocol=2))
    with pytest.raises(DataError, match="1 labels for 2 images"):
        load_batch(path)


def test_extraction_ignores_traversal_and_links(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    cifar_tarball(archive)
    root = tmp_path / "cache" / "cifar10"
    extract_batches(archive, root)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["cache/cifar10/cifar-10-batches-py/" + n for n in sorted(TRAIN_BATCHES)] + [
        "cifar-10-python.tar.gz"
    ]
    assert not Path("/tmp/ganterm-absolute-escape.txt").exists()
    assert not (root / CIFAR_DIR / "test_batch").is_symlink()


def test_a_user_supplied_tarball_is_unpacked_and_kept(tmp_path: Path) -> None:
    root = tmp_path / "cifar10"
    root.mkdir()
    cifar_tarball(root / "cifar-10-python.tar.gz", hostile=False)
    ds = load_dataset("cifar10", data_dir=tmp_path, progress=False)
    assert ds.size == 10 and (root / "cifar-10-python.tar.gz").exists()
