"""InfoGAN: codes beside the noise that G learns to make recoverable, and the traversal that shows them.

    python examples/infogan_traversal.py --steps 3000 --out runs/infogan
    # -> runs/infogan/traversal-1.png and -2.png: rows are the 10-way code's values, columns sweep one
    #    continuous code from -2 to 2 at fixed noise. In the live monitor, key t shows the same sweep.

Uses the CLI as a user would (`ganterm train`, then `ganterm sample --traverse`), on the embedded shapes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def ganterm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ganterm", *args], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out", default="runs/infogan")
    args = ap.parse_args()

    # 16 noise dimensions, a 10-way categorical code and two continuous codes (the recipe's defaults).
    ganterm(
        "train", "shapes", "--algo", "infogan", "--steps", str(args.steps), "--out", args.out, "--headless"
    )
    for code in (1, 2):  # one grid per continuous code
        ganterm("sample", args.out, "--traverse", str(code), "--out", f"{args.out}/traversal-{code}.png")


if __name__ == "__main__":
    main()
