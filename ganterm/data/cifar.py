"""CIFAR-10 from its python pickle batches, read with an unpickler that only builds numpy arrays.

The batches are pickles: a plain `pickle.load` on a hostile file runs arbitrary code. The unpickler
below resolves only the few globals an ndarray needs and refuses everything else.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from ganterm.data.progress import ProgressArg
from ganterm.errors import DataError

if TYPE_CHECKING:
    from ganterm.data.base import Dataset

CIFAR_DIR = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
META = "batches.meta"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
_frombuffer = np.frombuffer(b"\0", np.uint8).__reduce_ex__(5)[0]


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    # What Python 3 protocol-2 pickles use for bytes (`_codecs.encode`), minus any codec lookup tricks.
    return text.encode("latin1" if encoding == "latin1" else "utf-8")


# Both numpy module spellings: "numpy.core" in files written by numpy 1 (and by CIFAR's own Python 2),
# "numpy._core" in files written by numpy 2.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


# What a truncated or garbled pickle raises on the way through the allowed constructors.
_BROKEN = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    MemoryError,
)


class _Refused(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"refused to load {module}.{name}") from None


def safe_unpickle(raw: bytes, source: str) -> Any:
    """Unpickle plain containers and numpy arrays only; DataError for anything else or a broken file."""
    try:
        # latin1 turns Python 2 str (CIFAR's own files) into str keys and raw array bytes numpy accepts.
        return _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _Refused as err:
        raise DataError(f"{source} is not a plain CIFAR batch ({err}); delete it and run again") from err
    except _BROKEN as err:
        raise DataError(f"{source} is damaged ({type(err).__name__}); delete it and run again") from err


def _field(batch: dict, name: str) -> Any:
    # Files re-pickled with encoding="bytes" carry bytes keys.
    return batch[name] if name in batch else batch.get(name.encode())


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    batch = safe_unpickle(raw, str(path))
    data = _field(batch, "data") if isinstance(batch, dict) else None
    labels = _field(batch, "labels") if isinstance(batch, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path} has no (N, 3072) uint8 'data' array; delete it and run again")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (len(data),):
        raise DataError(f"{path} has {labels.size} labels for {len(data)} images; delete it and run again")
    return data.reshape(-1, 3, 32, 32), labels


def extract_batches(archive: Path, root: Path) -> None:
    """Copy only the known batch files out of the tarball, each to a path we build ourselves.

    Member names never become paths, so '../', absolute names and links in a hostile archive go nowhere.
    """
    wanted = {*TRAIN_BATCHES, "test_batch", META}
    out_dir = root / CIFAR_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) != 2 or parts[0] != CIFAR_DIR or parts[1] not in wanted:
                    continue
                src = tar.extractfile(member)
                assert src is not None
                fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{parts[1]}.", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as out:
                        while block := src.read(1 << 20):
                            out.write(block)
                    os.replace(tmp, out_dir / parts[1])
                finally:
                    Path(tmp).unlink(missing_ok=True)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"cannot unpack {archive} ({err}); delete it and run again") from err


def cifar_cached(root: Path) -> bool:
    return all((root / CIFAR_DIR / name).exists() for name in TRAIN_BATCHES)


def load_cifar10(
    root: Path, *, image_size: int = 32, channels: int = 3, progress: ProgressArg = True
) -> Dataset:
    """The 50,000 CIFAR-10 training images, downloaded into `root` and unpacked on first use."""
    # Imported here so that `list_datasets` (cifar_cached) stays free of torch.
    import torch

    from ganterm.data.base import Dataset
    from ganterm.data.convert import to_float_images
    from ganterm.data.download import fetch

    if not cifar_cached(root):
        archive = root / ARCHIVE
        downloaded = not archive.exists()
        fetch(
            "cifar10",
            [ARCHIVE],
            root,
            title="CIFAR-10",
            progress=progress,
            put_hint=f"{ARCHIVE} (or its unpacked {CIFAR_DIR}/ folder)",
        )
        extract_batches(archive, root)
        if not cifar_cached(root):
            raise DataError(f"{archive} lacks the CIFAR-10 training batches; delete it and run again")
        if downloaded:
            archive.unlink()  # the unpacked batches are what we read; the tarball would double the disk use
    batches = [load_batch(root / CIFAR_DIR / name) for name in TRAIN_BATCHES]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    classes = CLASSES
    meta_path = root / CIFAR_DIR / META
    if meta_path.exists():
        meta = safe_unpickle(meta_path.read_bytes(), str(meta_path))
        names = _field(meta, "label_names") if isinstance(meta, dict) else None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            classes = names
    data = to_float_images(images, image_size, channels)
    info = {"classes": classes, "location": str(root)}
    return Dataset(
        name="cifar10",
        kind="images",
        shape=(channels, image_size, image_size),
        size=len(data),
        data=data,
        labels=torch.from_numpy(labels),
        info=info,
    )


# -- as a registry source (data/registry.py): load(name, root, ...) and status(name, root)
def load(
    name: str, root: Path, *, image_size: int, channels: int, progress: Any = True, **_: object
) -> Dataset:
    return load_cifar10(root, image_size=image_size, channels=channels, progress=progress)


def status(name: str, root: Path) -> tuple[bool, str, str]:
    return cifar_cached(root), str(root), ""
