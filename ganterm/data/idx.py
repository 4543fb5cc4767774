"""The IDX format of MNIST and Fashion-MNIST: a 4-byte magic, big-endian uint32 dims, then the data."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganterm.data.progress import ProgressArg
from ganterm.errors import DataError

if TYPE_CHECKING:
    from ganterm.data.base import Dataset

# Third magic byte -> element type (big-endian, as the format stores it).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes; DataError (one line, naming `source`) when the header or length is wrong."""
    if len(raw) < 4:
        raise DataError(f"{source} is truncated ({len(raw)} bytes, no IDX header); delete it and run again")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{source} is not an IDX file (bad magic {raw[:4].hex()}); delete it and run again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{source} has a truncated IDX header; delete it and run again")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        state = "truncated" if got < expected else "longer than its header says"
        raise DataError(
            f"{source} is {state} ({got} data bytes, expected {expected} for shape {dims}); "
            "delete it and run again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    # A native-order, writable copy: frombuffer views of `raw` are read-only.
    return data.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not (told apart by content, not by name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path} is a damaged gzip file ({err}); delete it and run again") from err
    return parse_idx(raw, str(path))


# ---- MNIST-style datasets built on the IDX reader ----

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
IDX_SETS: dict[str, tuple[str, list[str]]] = {
    "mnist": ("MNIST", [str(d) for d in range(10)]),
    "fashion-mnist": (
        "Fashion-MNIST",
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
    ),
}


def _present(folder: Path, name: str) -> Path | None:
    """The file as downloaded, or unpacked by the user (same name without .gz)."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.exists():
            return candidate
    return None


def idx_cached(folder: Path) -> bool:
    return all(_present(folder, name) for name in TRAIN_FILES)


def load_idx_dataset(
    key: str, folder: Path, *, image_size: int = 28, channels: int = 1, progress: ProgressArg = True
) -> Dataset:
    """The training split of MNIST or Fashion-MNIST, downloading it into `folder` on first use."""
    # Imported here so that `list_datasets` (idx_cached) stays free of torch.
    import torch

    from ganterm.data.base import Dataset
    from ganterm.data.convert import to_float_images
    from ganterm.data.download import fetch

    title, classes = IDX_SETS[key]
    if not idx_cached(folder):
        missing = [name for name in TRAIN_FILES if _present(folder, name) is None]
        fetch(key, missing, folder, title=title, progress=progress)
    images_path, labels_path = (_present(folder, name) for name in TRAIN_FILES)
    assert images_path is not None and labels_path is not None
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or images.dtype != np.uint8:
        raise DataError(
            f"{title} files in {folder} do not match (images {images.shape} {images.dtype}, "
            f"labels {labels.shape}); delete them and run again"
        )
    data = to_float_images(images[:, None], image_size, channels)
    return Dataset(
        name=key,
        kind="images",
        shape=(channels, image_size, image_size),
        size=len(data),
        data=data,
        labels=torch.from_numpy(labels.astype(np.int64)),
        info={"classes": classes, "location": str(folder)},
    )


# -- as a registry source (data/registry.py): load(name, root, ...) and status(name, root)
def load(
    name: str, root: Path, *, image_size: int, channels: int, progress: Any = True, **_: object
) -> Dataset:
    return load_idx_dataset(name, root, image_size=image_size, channels=channels, progress=progress)


def status(name: str, root: Path) -> tuple[bool, str, str]:
    return idx_cached(root), str(root), ""
