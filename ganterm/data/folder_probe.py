"""Finding a folder's images and a quick look at them (size, colour) without torch: `resolve()` uses it
to pick the recipe for `ganterm train ./my_images` before anything heavy is imported."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganterm.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def find_images(root: Path) -> list[Path]:
    """Image files under `root` by extension, in a stable order (hidden folders and files left out)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(folder, f)
            for f in sorted(files)
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return found


@dataclass(frozen=True)
class FolderProbe:
    """What a look at a folder's images tells before decoding them all."""

    n_files: int
    short_side: int  # the median of min(width, height)
    grey: bool  # every looked-at image is grey (by mode, or RGB with equal channels)


_PROBE_FILES = 64
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def probe_folder(root: Path) -> FolderProbe:
    """Sizes and colour of up to 64 images spread over the folder (headers, plus pixels for RGB files).

    RGB files whose three channels are equal to within JPEG noise count as grey: scans of digits are
    often saved that way.
    """
    from PIL import Image

    files = find_images(root)
    if not files:
        raise DataError(
            f"no images in {root} (looked for {', '.join(IMAGE_EXTENSIONS)} files, nested too); "
            "point folder: at a directory of images"
        )
    picks = [files[i] for i in np.linspace(0, len(files) - 1, min(_PROBE_FILES, len(files))).astype(int)]
    sides, grey = [], True
    for path in picks:
        try:
            with Image.open(path) as im:
                sides.append(min(im.size))
                if grey and im.mode not in _GREY_MODES:
                    rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
                    grey = bool(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() <= 3)
        except Exception:  # unreadable: load_folder will skip and count it
            continue
    if not sides:
        raise DataError(f"none of the image files looked at in {root} could be read (first: {picks[0]})")
    return FolderProbe(len(files), int(np.median(sides)), grey)
