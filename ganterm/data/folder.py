"""Any folder of images (nested): decoded once with Pillow, resized, center-cropped, held in memory."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganterm.data.base import Dataset
from ganterm.data.folder_probe import IMAGE_EXTENSIONS, find_images
from ganterm.data.progress import ProgressArg, progress_context
from ganterm.errors import DataError

# Below this many files the bar would only flicker.
_PROGRESS_MIN_FILES = 200


def decode_image(path: Path, image_size: int, channels: int) -> np.ndarray | None:
    """(S, S, channels) uint8: shorter side resized to S, then center-cropped; None if unreadable."""
    from PIL import Image, ImageOps

    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as im:
            # JPEG can decode straight at a reduced scale that is still >= the target: much less work.
            im.draft(mode, (image_size, image_size))
            if im.mode != mode:
                im = im.convert("RGBA").convert(mode) if im.mode == "P" else im.convert(mode)
            im = ImageOps.fit(im, (image_size, image_size), Image.Resampling.BICUBIC)
            return np.asarray(im, dtype=np.uint8).reshape(image_size, image_size, channels)
    # Pillow raises many types for bad files (OSError, SyntaxError, DecompressionBombError...).
    except Exception:
        return None


def _progress_bar(progress: ProgressArg, total: int) -> Any:
    if total < _PROGRESS_MIN_FILES:
        return nullcontext(None)
    return progress_context(progress, _rich_decode_bar)


def _rich_decode_bar() -> Any:
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True))


def load_folder(
    root: Path,
    *,
    image_size: int = 64,
    channels: int = 3,
    progress: ProgressArg = True,
    workers: int | None = None,
) -> Dataset:
    """Every readable image under `root`. Unreadable files are skipped: counted in info["skipped"], the
    first ten named in info["skipped_files"], and said in one line by `skipped_note` (the run's start
    event shows it). None readable is a DataError."""
    from ganterm.data.convert import to_float_images

    files = find_images(root)
    if not files:
        raise DataError(
            f"no images in {root} (looked for {', '.join(IMAGE_EXTENSIONS)} files, nested too); "
            "point folder: at a directory of images"
        )
    # Pillow releases the GIL while decoding and resizing, so threads scale with cores.
    workers = workers or min(8, os.cpu_count() or 1)
    decoded: list[np.ndarray | None] = []
    with _progress_bar(progress, len(files)) as bar, ThreadPoolExecutor(workers) as pool:
        what = f"decoding {root.name or root}"
        task = bar.add_task(what, total=len(files), unit="images") if bar is not None else None
        for image in pool.map(decode_image, files, [image_size] * len(files), [channels] * len(files)):
            decoded.append(image)
            if task is not None:
                bar.update(task, completed=len(decoded))  # the ProgressSink protocol: no advance()
    skipped = [str(p) for p, im in zip(files, decoded, strict=True) if im is None]
    images = [im for im in decoded if im is not None]
    if not images:
        raise DataError(
            f"none of the {len(files)} image files in {root} could be read ({_names(skipped)}); "
            "check that they are valid PNG or JPEG files"
        )
    stacked = np.stack(images).transpose(0, 3, 1, 2)
    data = to_float_images(stacked, image_size, channels)
    kept = [p for p, im in zip(files, decoded, strict=True) if im is not None]
    classes, labels = folder_labels(root, kept)
    info: dict[str, Any] = {"location": str(root), "skipped": len(skipped), "skipped_files": skipped[:10]}
    info["classes"] = classes
    return Dataset(
        name=f"folder:{root}",
        kind="images",
        shape=(channels, image_size, image_size),
        size=len(data),
        data=data,
        labels=None if labels is None else torch.from_numpy(labels),
        info=info,
    )


def skipped_note(data: Dataset) -> str:
    """'skipped 1 unreadable image of 2: /data/x/bad.png' for a folder with files it could not decode;
    '' when every file was read (or the data is not a folder)."""
    n = int(data.info.get("skipped", 0))
    if not n:
        return ""
    total = n + data.size
    what = "image" if n == 1 else "images"
    return f"skipped {n} unreadable {what} of {total}: {_names(data.info.get('skipped_files', []), n)}"


def _names(paths: list[str], total: int | None = None, shown: int = 3) -> str:
    """The first few paths, then how many more."""
    total = len(paths) if total is None else total
    more = total - min(shown, len(paths))
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")


def folder_labels(root: Path, files: list[Path]) -> tuple[list[str], np.ndarray | None]:
    """Class names and per-file labels from the first-level sub-folders, as torchvision's ImageFolder.

    Every image must sit in a sub-folder and there must be at least two of them; otherwise (a flat
    folder, or images beside the class folders) the folder has no labels: ([], None).
    """
    tops = [p.relative_to(root).parts for p in files]
    if any(len(parts) < 2 for parts in tops):
        return [], None
    classes = sorted({parts[0] for parts in tops})
    if len(classes) < 2:
        return [], None
    index = {name: i for i, name in enumerate(classes)}
    return classes, np.asarray([index[parts[0]] for parts in tops], dtype=np.int64)
