"""Builders for tiny dataset files (IDX, CIFAR pickles and tarballs) shared by the data tests."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from ganterm.data.cifar import CIFAR_DIR, TRAIN_BATCHES


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX, the way the MNIST files are laid out."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(
    folder: Path, n: int = 20, *, gz: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels


def batch_bytes(n: int, seed: int, protocol: int = 2) -> tuple[bytes, np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    batch = {"batch_label": "training batch", "labels": labels, "data": data, "filenames": [b"a.png"] * n}
    return pickle.dumps(batch, protocol=protocol), data, labels


def write_cifar(root: Path, n: int = 4) -> tuple[np.ndarray, list[int]]:
    folder = root / CIFAR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    all_data, all_labels = [], []
    for i, name in enumerate(TRAIN_BATCHES):
        raw, data, labels = batch_bytes(n, seed=i)
        (folder / name).write_bytes(raw)
        all_data.append(data)
        all_labels += labels
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return np.concatenate(all_data), all_labels


def _add(tar: tarfile.TarFile, name: str, payload: bytes, **kw) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    for key, value in kw.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(payload) if info.isfile() else None)


def cifar_tarball(path: Path, n: int = 2, hostile: bool = True) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate(TRAIN_BATCHES):
            _add(tar, f"{CIFAR_DIR}/{name}", batch_bytes(n, seed=i)[0])
        if hostile:
            _add(tar, "../escaped.txt", b"x")
            _add(tar, f"{CIFAR_DIR}/../../escaped2.txt", b"x")
            _add(tar, "/tmp/ganterm-absolute-escape.txt", b"x")
            _add(tar, f"{CIFAR_DIR}/test_batch", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")
