"""Your own PyTorch GAN loop, watched and steered by ganterm: the lines marked `# ganterm` are all it takes.

    python examples/own_loop.py --out runs/own-loop     # then, in another terminal (or over SSH):
    ganterm view runs/own-loop                          # p pause/resume · c checkpoint · z stop · : lr 1e-4

A tiny MLP GAN on ganterm's embedded `shapes` images (28x28 grey, no download). `--steps` and `--out` let CI
smoke-test it in a few seconds.
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch import nn

import ganterm
from ganterm.data.registry import load_dataset


def mlp(sizes: list[int], out: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    layers[-1] = out if out is not None else nn.Identity()
    return nn.Sequential(*layers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--out", default=f"runs/own-loop-{time.strftime('%Y%m%d-%H%M%S')}")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--sample-every", type=int, default=500)
    args = ap.parse_args()

    torch.manual_seed(0)
    data = load_dataset("shapes", progress=False).data.flatten(1)  # (N, 784) in [-1, 1]
    z_dim = 32
    G = mlp([z_dim, 256, 256, 784], nn.Tanh())
    D = mlp([784, 256, 256, 1])
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    fixed_z = torch.randn(64, z_dim)

    def set_lr(lr: float) -> None:  # the viewer's `: lr 1e-4`
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = lr

    config = {"dataset": "shapes", "model": "mlp", "loss": "ns", "steps": args.steps, "lr": args.lr}
    with ganterm.Run(args.out, config=config) as run:  # ganterm
        run.command("lr", help="set both learning rates", arg=float, on=set_lr)  # ganterm
        for step in range(1, args.steps + 1):
            real = data[torch.randint(len(data), (args.batch,))]
            fake = G(torch.randn(args.batch, z_dim))
            ones, zeros = torch.ones(args.batch, 1), torch.zeros(args.batch, 1)

            d_real, d_fake = D(real), D(fake.detach())
            d_loss = bce(d_real, ones) + bce(d_fake, zeros)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            g_loss = bce(D(fake), ones)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()

            run.log(  # ganterm: tensors are fine, no .item() needed
                step,
                d_loss=d_loss,
                g_loss=g_loss,
                d_real=torch.sigmoid(d_real).mean(),
                d_fake=torch.sigmoid(d_fake).mean(),
            )
            if step % args.sample_every == 0 or step == args.steps:
                with torch.no_grad():
                    run.images(step, G(fixed_z).view(-1, 1, 28, 28))  # ganterm: [-1, 1] is detected
            for cmd in run.commands() if step % 50 == 0 else ():
                if cmd.name == "checkpoint":  # the viewer's `c`
                    path = run.checkpoints / f"own_{step:07d}.pth"  # not *.pt: those are ganterm's
                    torch.save({"G": G.state_dict(), "D": D.state_dict(), "step": step}, path)
                    run.event("checkpoint", f"saved {path.name}", path=str(path))
            if run.should_stop():  # ganterm: the viewer's `z`
                break
            run.wait_while_paused()  # ganterm: the viewer's `p`
    print(f"run directory: {args.out}")


if __name__ == "__main__":
    main()
