from itertools import pairwise

import pytest
import torch
from torch import nn

from ganterm.training.ema import EMA, ema_beta


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_beta_ramps_up_then_holds():
    betas = [ema_beta(0.999, s) for s in range(1, 20_000, 100)]
    assert betas[0] < 0.2
    assert all(a <= b for a, b in pairwise(betas))
    assert betas[-1] == 0.999


def test_update_is_the_exact_lerp_and_leaves_live_alone():
    live = _net()
    ema = EMA(live, 0.9)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in live.parameters():
            p.add_(1.0)
    live_after = [p.detach().clone() for p in live.parameters()]
    step = 1000  # past the ramp: b = 0.9
    ema.update(step)
    for s, b0, lv in zip(ema.model.parameters(), before, live_after, strict=True):
        torch.testing.assert_close(s, 0.9 * b0 + 0.1 * lv)
    for p, lv in zip(live.parameters(), live_after, strict=True):
        assert torch.equal(p, lv)


def test_shadow_has_no_grad_and_copies_buffers():
    live = _net()
    ema = EMA(live, 0.99)
    assert not any(p.requires_grad for p in ema.model.parameters())
    live.train()
    live(torch.randn(8, 3))  # moves batch-norm running statistics
    ema.update(1)
    torch.testing.assert_close(ema.model[1].running_mean, live[1].running_mean)


def test_converges_to_a_fixed_live_model():
    live = _net()
    ema = EMA(live, 0.9)
    with torch.no_grad():
        for p in live.parameters():
            p.zero_()
    for step in range(1, 400):
        ema.update(step)
    assert max(p.abs().max().item() for p in ema.model.parameters()) < 1e-6


def test_state_dict_round_trip():
    live = _net()
    a, b = EMA(live, 0.9), EMA(_net(), 0.9)
    with torch.no_grad():
        for p in live.parameters():
            p.mul_(3)
    a.update(50)
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(x, y)


def test_bad_beta():
    with pytest.raises(ValueError, match="beta"):
        EMA(_net(), 1.0)


def test_trainer_resume_keeps_the_average_and_the_decay_exact(tmp_path):
    """A run resumed mid-decay ends with the same G-EMA weights and rates as an unbroken one."""
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.checkpoint import load_checkpoint
    from ganterm.training.trainer import Trainer

    kw = dict(
        dataset="ring",
        steps=12,
        ckpt_every=6,
        batch_size=16,
        sample_every=6,
        eval_every=0,
        seed=3,
        g_ema=0.9,
        lr_decay="linear",
        lr_decay_start=0.25,
    )
    Trainer(resolve(TrainConfig(out=str(tmp_path / "a"), **kw))).run()
    half = tmp_path / "a" / "checkpoints" / "ckpt_0000006.pt"
    Trainer(resolve(TrainConfig(out=str(tmp_path / "b"), resume=str(half), **kw))).run()
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "ckpt_0000012.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "ckpt_0000012.pt")
    assert a["lrs"]["G"] == b["lrs"]["G"] < 0.2 * resolve(TrainConfig(**kw)).lr_g  # decayed, identically
    for k in a["emas"]["G"]:
        assert torch.equal(a["emas"]["G"][k], b["emas"]["G"][k]), k
    assert any(
        not torch.equal(a["emas"]["G"][k], a["modules"]["G"][k]) for k in a["modules"]["G"]
    )  # an average, not a copy


def test_sampler_prefers_the_average(tmp_path):
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.checkpoint import load_checkpoint
    from ganterm.training.sampling import Sampler
    from ganterm.training.trainer import Trainer

    cfg = resolve(
        TrainConfig(
            dataset="ring",
            steps=5,
            ckpt_every=5,
            batch_size=16,
            eval_every=0,
            out=str(tmp_path / "r"),
            g_ema=0.9,
        )
    )
    Trainer(cfg).run()
    ckpt = load_checkpoint(tmp_path / "r" / "checkpoints" / "ckpt_0000005.pt")
    g = Sampler.from_checkpoint(ckpt).g
    for k, v in g.state_dict().items():
        assert torch.equal(v, ckpt["emas"]["G"][k]), k
