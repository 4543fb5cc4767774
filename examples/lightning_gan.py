"""A Lightning GAN with manual optimisation (the Lightning docs' pattern), watched and steered by ganterm.

    python examples/lightning_gan.py runs/lit-gan --steps 2000 &
    ganterm view runs/lit-gan          # p pause, c checkpoint (a Lightning .ckpt), z stop, `:lr 1e-4`

Learns 8x8 grey "shapes" (a bright square somewhere on a dark field) on the CPU in a minute.
"""

from __future__ import annotations

import argparse

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganterm.lightning import GantermControl, GantermLogger

SIDE, Z = 8, 16


def squares(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, SIDE, SIDE), -1.0)
    pos = torch.randint(0, SIDE - 3, (n, 2), generator=g)
    for i, (r, c) in enumerate(pos.tolist()):
        x[i, 0, r : r + 3, c : c + 3] = 1.0
    return x


class GAN(L.LightningModule):
    def __init__(self, lr: float = 2e-3, image_every: int = 50) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False  # two optimizers stepped by hand
        self.G = nn.Sequential(nn.Linear(Z, 128), nn.ReLU(), nn.Linear(128, SIDE * SIDE), nn.Tanh())
        self.D = nn.Sequential(nn.Linear(SIDE * SIDE, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
        self.fixed_z = torch.randn(16, Z, generator=torch.Generator().manual_seed(1))

    def training_step(self, batch: list[torch.Tensor]) -> None:
        (real,) = batch
        batch_no = self.global_step // 2  # Lightning counts optimizer steps: two per batch
        real = real.flatten(1)
        opt_d, opt_g = self.optimizers()
        bce = nn.functional.binary_cross_entropy_with_logits
        z = torch.randn(len(real), Z, device=self.device)
        fake = self.G(z)

        # Update D: maximise log D(x) + log(1 - D(G(z)))
        d_real, d_fake = self.D(real), self.D(fake.detach())
        d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()

        # Update G: maximise log D(G(z))
        g_out = self.D(fake)
        g_loss = bce(g_out, torch.ones_like(g_out))
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()

        self.log_dict(
            {
                "loss_d": d_loss,
                "loss_g": g_loss,
                "D(x)": torch.sigmoid(d_real).mean(),
                "D(G(z))": torch.sigmoid(d_fake).mean(),
            }
        )
        if batch_no % self.hparams.image_every == 0:
            with torch.no_grad():
                grid = self.G(self.fixed_z.to(self.device)).view(-1, 1, SIDE, SIDE)
            self.logger.log_image("samples", grid)  # at the step of the last metric row

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        lr = self.hparams.lr
        return [
            torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999)),
        ]


def main(argv: list[str] | None = None) -> L.Trainer:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default="runs/lit-gan")
    ap.add_argument("--steps", type=int, default=2000, help="batches to train (each steps D and G)")
    ap.add_argument("--items", type=int, default=2048)
    args = ap.parse_args(argv)
    data = DataLoader(TensorDataset(squares(args.items)), batch_size=64, shuffle=True)
    trainer = L.Trainer(
        max_steps=2 * args.steps,  # Lightning counts optimizer steps: two per batch here
        logger=GantermLogger(args.run_dir, config={"dataset": "squares 8x8", "model": "lightning mlp"}),
        callbacks=[GantermControl()],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(GAN(), data)
    return trainer


if __name__ == "__main__":
    main()
