"""Shape checks before the first step: one batch through G and D, so a network that does not fit the data
fails with one line naming the shapes instead of a traceback from deep inside the first step.

Registry models and user models (`--model file.py:fn`, `ganterm.fit`) are checked alike. The check draws
from its own generator and runs in eval mode without autograd, so it changes no weight, no BatchNorm
statistic and no random stream of training (a resumed run stays exact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ganterm.errors import UsageError, described

CHECK_BATCH = 64  # enough to catch a D that hard-codes its batch size, small enough to cost nothing
_SEED = 12345


def _shape(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return str(tuple(t.shape))
    if isinstance(t, (tuple, list)):
        return f"a {type(t).__name__} of {len(t)}"
    return type(t).__name__


def _run(what: str, given: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except UsageError:
        raise
    except Exception as e:  # the user's forward: any error becomes one line
        raise UsageError(f"the {what} raised on {given}: {described(e)}") from None


def _logits_ok(out: Any, n: int, pack: int) -> bool:
    """One logit per sample: (n,) or (n, 1); a PacGAN D (`pack` > 1) scores n / pack groups."""
    if not isinstance(out, torch.Tensor):
        return False
    rows = n // pack if pack > 1 else n
    return tuple(out.shape) in ((rows,), (rows, 1))


def check_shapes(algo: Any, nets: dict[str, nn.Module], data: Any, batch_size: int, device: Any) -> None:
    """Raise UsageError (one line) when G's output is not the data's shape, D does not return one logit
    per sample, or a network raises in forward. `nets` are the plain (unwrapped) networks by name."""
    n = max(2, min(int(batch_size), CHECK_BATCH))  # batch norm needs two samples
    pack = int(getattr(nets.get("D"), "pack", 1) or 1)
    if pack > 1:
        n = max(pack, n - n % pack)
    gen = torch.Generator(device=data.device).manual_seed(_SEED)
    real, y = data.sample_xy(n, gen)
    real = real.to(device).float()
    y = None if y is None else y.to(device)
    latent = algo.prior.draw(n, torch.Generator().manual_seed(_SEED), device)
    was = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        with torch.no_grad():
            _check(algo, nets, real, y, latent, n, pack)
    finally:
        for name, net in nets.items():
            net.train(was[name])


def _check(algo: Any, nets: dict[str, nn.Module], real: torch.Tensor, y: Any, latent: Any, n: int, pack: int):
    data_shape = tuple(real.shape)
    z_in = f"a {tuple(algo.prior.g_input(latent).shape)} latent"
    fake = _run("generator", z_in, lambda: algo.generate(nets, latent))
    if not isinstance(fake, torch.Tensor) or tuple(fake.shape) != data_shape:
        raise UsageError(f"generator output is {_shape(fake)} but the data is {data_shape}")
    if "D" not in nets:  # the VAE: its reconstruction must have the data's shape too
        if "recon" in algo.views:
            rec = _run("encoder/decoder", f"a {data_shape} batch", lambda: algo.reconstruct(nets, real))
            if tuple(rec.shape) != data_shape:
                raise UsageError(f"reconstruction is {_shape(rec)} but the data is {data_shape}")
        return
    given = f"a {data_shape} batch"
    real_logits = _run("discriminator", given, lambda: algo._real_logits(nets, real, y))
    fake_logits = _run("discriminator", given, lambda: algo._fake_terms(nets, fake, latent, False)[0])
    for out in (real_logits, fake_logits):
        if not _logits_ok(out, n, pack):
            rows = n // pack if pack > 1 else n
            raise UsageError(
                f"discriminator output is {_shape(out)} for a {data_shape} batch; it must be one logit "
                f"per sample: ({rows},) or ({rows}, 1)"
            )


def stopped_line(e: BaseException, step: int, last_checkpoint: object) -> str:
    """The one line for a network that raised mid-training (the trainer has already saved what it had)."""
    where = f"; last checkpoint: {last_checkpoint}" if last_checkpoint else ""
    return f"training stopped at step {step}: {described(e)}{where}"
