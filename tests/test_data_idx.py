"""IDX parsing (gzip or raw, damaged files) and MNIST-style loading from files already in the cache."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fixtures import idx_bytes, write_mnist

from ganterm.data.idx import parse_idx, read_idx
from ganterm.data.registry import list_datasets, load_dataset
from ganterm.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_gz_and_raw(tmp_path: Path, gz: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(array)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and np.array_equal(out, array)


def test_parse_wider_types_big_endian() -> None:
    array = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    out = parse_idx(idx_bytes(array))
    assert np.array_equal(out, array) and out.dtype.isnative


@pytest.mark.parametrize(
    ("mangle", "words"),
    [
        (lambda raw: raw[:-5], "truncated"),
        (lambda raw: raw + b"\0\0", "longer than its header"),
        (lambda raw: b"\x01\x02" + raw[2:], "not an IDX file"),
        (lambda raw: raw[:2] + b"\x42" + raw[3:], "not an IDX file"),
        (lambda raw: raw[:6], "truncated IDX header"),
        (lambda raw: raw[:3], "truncated"),
        (lambda raw: b"", "truncated"),
    ],
)
def test_damaged_idx_is_a_one_line_data_error(mangle, words: str) -> None:
    raw = idx_bytes(np.zeros((3, 5, 5), dtype=np.uint8))
    with pytest.raises(DataError) as err:
        parse_idx(mangle(raw), "train-images")
    assert words in str(err.value) and "train-images" in str(err.value) and "\n" not in str(err.value)


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(np.zeros((50, 28, 28), dtype=np.uint8)))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="damaged gzip"):
        read_idx(path)


def test_mnist_from_files_in_the_cache(tmp_path: Path) -> None:
    images, labels = write_mnist(tmp_path / "mnist")
    ds = load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert (ds.name, ds.kind, ds.shape, ds.size) == ("mnist", "images", (1, 28, 28), 20)
    assert ds.data is not None and ds.data.dtype == torch.float32
    expected = torch.from_numpy(images).float() / 127.5 - 1
    torch.testing.assert_close(ds.data[:, 0], expected)
    assert ds.labels is not None and ds.labels.tolist() == labels.tolist()
    assert ds.info["classes"] == [str(d) for d in range(10)]


def test_unpacked_files_and_fashion_names(tmp_path: Path) -> None:
    write_mnist(tmp_path / "fashion-mnist", gz=False)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, progress=False)
    assert ds.size == 20 and ds.info["classes"][0] == "T-shirt/top"
    status = {s.name: s for s in list_datasets(tmp_path)}
    assert status["fashion-mnist"].cached and not status["mnist"].cached
    assert status["fashion-mnist"].location == str(tmp_path / "fashion-mnist")


def test_resize_and_grey_to_colour(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist")
    ds = load_dataset("mnist", data_dir=tmp_path, image_size=64, channels=3, progress=False)
    assert ds.shape == (3, 64, 64) and ds.data is not None and ds.data.shape == (20, 3, 64, 64)
    assert ds.data.min() >= -1 and ds.data.max() <= 1
    assert torch.equal(ds.data[:, 0], ds.data[:, 1]) and torch.equal(ds.data[:, 1], ds.data[:, 2])
    small = load_dataset("mnist", data_dir=tmp_path, progress=False).data
    assert small is not None
    # Resizing keeps each image's overall brightness.
    torch.testing.assert_close(ds.data.mean(dim=(1, 2, 3)), small.mean(dim=(1, 2, 3)), atol=0.02, rtol=0)


def test_images_and_labels_that_disagree(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    write_mnist(folder, n=20)
    labels = idx_bytes(np.zeros(7, dtype=np.uint8))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(DataError, match="do not match"):
        load_dataset("mnist", data_dir=tmp_path, progress=False)
