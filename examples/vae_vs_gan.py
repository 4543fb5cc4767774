"""The VAE beside the GAN on the same data and steps: a likelihood to climb against a game to balance.

    python examples/vae_vs_gan.py --steps 2000 --out runs/vae-vs-gan
    ganterm view runs/vae-vs-gan/vae runs/vae-vs-gan/gan    # both runs' charts side by side
    # -> runs/vae-vs-gan/{vae,gan}.png: the VAE's samples are smooth and blurry, the GAN's sharp but
    #    less faithful to the data's spread; the VAE's view (key e) shows its reconstructions.

Uses the CLI as a user would: two `ganterm train` runs (--algo vae, --algo gan), then `ganterm sample`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def ganterm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ganterm", *args], check=True)


def last_metrics(run: Path) -> dict[str, float]:
    lines = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out", default="runs/vae-vs-gan")
    args = ap.parse_args()

    out = Path(args.out)
    for algo in ("vae", "gan"):  # the same data, steps and seed; each with its own recipe
        run = out / algo
        ganterm(
            "train", "shapes", "--algo", algo, "--steps", str(args.steps), "--out", str(run), "--headless"
        )
        ganterm("sample", str(run), "--n", "36", "--out", str(out / f"{algo}.png"))
    vae, gan = last_metrics(out / "vae"), last_metrics(out / "gan")
    print(f"VAE: ELBO {vae['elbo']:.1f} (recon {vae['recon']:.1f} + KL {vae['kl']:.1f} per image)")
    print(f"GAN: D loss {gan['d_loss']:.3f}, G loss {gan['g_loss']:.3f}, D(x) {gan['d_real']:.2f}")


if __name__ == "__main__":
    main()
