"""A class-conditional GAN: G takes the label with the noise, so you choose what it draws.

    python examples/cgan_classes.py --steps 3000 --out runs/cgan
    # -> runs/cgan/grid.png (one row per class) and runs/cgan/class-K.png (one class each)

shapes has three labelled classes (circle, square, triangle); `ganterm train mnist --algo cgan` gives
ten. Uses the CLI as a user would: `ganterm train --algo cgan`, then `ganterm sample [--class K]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CLASSES = 3  # the embedded shapes' labels


def ganterm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ganterm", *args], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out", default="runs/cgan")
    args = ap.parse_args()

    ganterm("train", "shapes", "--algo", "cgan", "--steps", str(args.steps), "--out", args.out, "--headless")
    ganterm("sample", args.out, "--n", "30", "--out", f"{args.out}/grid.png")  # rows are the classes
    for k in range(CLASSES):
        ganterm("sample", args.out, "--class", str(k), "--n", "16", "--out", f"{args.out}/class-{k}.png")


if __name__ == "__main__":
    main()
