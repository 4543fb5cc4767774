"""The seed document's GAN, trained by ganterm: your own two modules and one call to `ganterm.fit`.

    python examples/seed_gan.py                      # the embedded shapes (no download), live monitor
    python examples/seed_gan.py mnist --steps 5000   # real digits (downloaded once)
    ganterm view runs/seed-gan                       # its curves afterwards (samples: rebuild G, see below)

G: an MLP z -> 128 -> 128 -> 784, leaky ReLU, a sigmoid mapped to [-1, 1] (ganterm's data range).
D: two 5x5 stride-2 convs with 64 and 128 filters, leaky ReLU, one linear logit (no sigmoid: the loss,
binary cross-entropy in its non-saturating form "ns", reads the logit).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import ganterm


class Generator(nn.Module):
    def __init__(self, z_dim: int = 100, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),  # ganterm reads z_dim off this first layer
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 784),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (2 * self.net(z) - 1).view(-1, 1, 28, 28)  # [0, 1] -> [-1, 1], as the data is


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),  # 28 -> 14
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),  # 14 -> 7
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),  # one logit per image
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default="shapes", help="shapes (default) or mnist")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out", default="runs/seed-gan")
    ap.add_argument("--headless", action="store_true", help="a progress line instead of the monitor")
    args = ap.parse_args()

    torch.manual_seed(0)
    G, D = Generator(), Discriminator()
    result = ganterm.fit(
        G,
        D,
        args.data,
        loss="ns",
        steps=args.steps,
        out=args.out,
        headless=args.headless or None,
        lr_g=2e-4,
        lr_d=2e-4,
        batch_size=64,  # the seed's settings (ganterm's mnist recipe is tuned for dcgan)
    )
    print(f"{result.state} at step {result.steps}: {result.run_dir}")
    print("  " + "  ".join(f"{k} {v:.3f}" for k, v in result.metrics.items()))
    # G is trained in place: sample from it directly (the checkpoint holds its weights, not its code).
    with torch.no_grad():
        G.eval()
        print(f"  a batch of samples: {tuple(G(torch.randn(16, 100)).shape)}")


if __name__ == "__main__":
    main()
