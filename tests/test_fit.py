"""`ganterm.fit`: the user's own G and D on ganterm's trainer, headless on the CPU with tiny networks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fault_helpers import run_cli
from test_tui_fixtures import sync
from torch import nn

import ganterm
from ganterm.errors import GantermError, UsageError
from ganterm.fitting import OPTIONS, as_dataset, infer_z_dim
from ganterm.training.checkpoint import load_checkpoint

FAST = {"headless": True, "precision": "fp32", "batch_size": 16, "sample_every": 1000, "n_samples": 16}


def tiny_pair(shape: tuple[int, ...] = (1, 8, 8), z: int = 4, labelled_body: bool = False):
    n = int(np.prod(shape))
    G = nn.Sequential(nn.Linear(z, 32), nn.ReLU(), nn.Linear(32, n), nn.Tanh(), nn.Unflatten(1, shape))
    D = nn.Sequential(nn.Flatten(), nn.Linear(n, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return G, D


class BodyD(nn.Module):
    """A D with its body and logit apart (what cGAN's projection and InfoGAN's Q read)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n, 32), nn.LeakyReLU(0.2))
        self.logit = nn.Linear(32, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.logit(f).view(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def images(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def metric_rows(run: Path) -> dict[int, dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {int(r["step"]): r for r in rows}


def test_fit_trains_user_modules_and_returns_a_result(tmp_path):
    torch.manual_seed(0)
    G, D = tiny_pair()
    before = G[0].weight.detach().clone()
    r = ganterm.fit(G, D, images(), steps=6, out=tmp_path / "run", ckpt_every=3, **FAST)
    assert r.steps == 6 and r.state == "finished"
    assert r.run_dir == tmp_path / "run" and r.checkpoint is not None and r.checkpoint.exists()
    assert set(r.metrics) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in r.metrics.values())
    assert not torch.equal(before, G[0].weight.detach())  # the user's own module was trained in place
    ckpt = load_checkpoint(r.checkpoint)
    assert ckpt["config"]["model"] == "fit"
    assert ckpt["config"]["extra"]["user_networks"] == {"G": "Sequential", "D": "Sequential"}
    assert ckpt["config"]["z_dim"] == 4  # read off G's first Linear


def test_resume_is_exact(tmp_path):
    def run(out: Path, steps: int, resume: Path | None = None):
        torch.manual_seed(1)
        G, D = tiny_pair()
        extra = {"resume": str(resume)} if resume else {}
        return ganterm.fit(G, D, images(), steps=steps, out=out, ckpt_every=3, seed=3, **FAST, **extra)

    whole = run(tmp_path / "whole", 6)
    first = run(tmp_path / "part", 3)
    assert first.checkpoint is not None
    torch.manual_seed(99)  # fresh modules with other weights: the checkpoint's must replace them
    resumed = run(tmp_path / "part", 6, resume=first.checkpoint)
    a, b = metric_rows(whole.run_dir), metric_rows(resumed.run_dir)
    for step in (4, 5, 6):
        for key in ("d_loss", "g_loss", "grad_g", "grad_d"):
            assert a[step][key] == b[step][key], (step, key)
    assert resumed.metrics == whole.metrics


@pytest.mark.parametrize(
    "kind",
    ["tensor", "tensor01", "numpy_nhwc_uint8", "numpy_nchw_float", "torch_dataset", "name", "points"],
)
def test_each_kind_of_data(tmp_path, kind):
    torch.manual_seed(0)
    shape: tuple[int, ...] = (1, 8, 8)
    x = images()
    if kind == "tensor":
        data = x
    elif kind == "tensor01":
        data = (x + 1) / 2
    elif kind == "numpy_nhwc_uint8":
        data = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    elif kind == "numpy_nchw_float":
        data = x.numpy()
    elif kind == "torch_dataset":
        data = torch.utils.data.TensorDataset(x, torch.arange(len(x)) % 3)
    elif kind == "name":
        data, shape = "shapes", (1, 28, 28)
    else:
        data, shape = torch.randn(256, 2), (2,)
    G, D = tiny_pair(shape)
    r = ganterm.fit(G, D, data, steps=2, out=tmp_path / kind, **FAST)
    assert r.steps == 2
    ckpt = load_checkpoint(r.checkpoint)
    assert tuple(ckpt["data_shape"]) == shape


def test_data_conversion_keeps_values_and_labels():
    x = images(8)
    u8 = ((x + 1) * 127.5).round().to(torch.uint8)
    ds = as_dataset(u8.permute(0, 2, 3, 1).numpy())  # NHWC uint8
    assert ds.shape == (1, 8, 8) and ds.kind == "images"
    assert torch.allclose(ds.data, x, atol=1 / 127.5)
    pairs = as_dataset(torch.utils.data.TensorDataset(x, torch.tensor([0, 1] * 4)))
    assert pairs.n_classes == 2
    with pytest.raises(UsageError, match=r"in \[-1, 1\]"):
        as_dataset(x * 5)
    with pytest.raises(UsageError, match="must be a tensor"):
        as_dataset(object())


def test_cgan_and_infogan_on_user_networks(tmp_path):
    x = images()
    labelled = torch.utils.data.TensorDataset(x, torch.arange(len(x)) % 4)
    torch.manual_seed(0)
    # cGAN: G's first layer takes z + one-hot label (4 + 4); z_dim is read as 4.
    G = tiny_pair(z=8)[0]
    r = ganterm.fit(G, BodyD(64), labelled, steps=2, algo="cgan", out=tmp_path / "c", **FAST)
    assert load_checkpoint(r.checkpoint)["config"]["z_dim"] == 4
    # InfoGAN: z + a 10-way code + 2 continuous ones (4 + 12).
    G = tiny_pair(z=16)[0]
    r = ganterm.fit(G, BodyD(64), x, steps=2, algo="infogan", out=tmp_path / "i", **FAST)
    assert "mi_cat" in r.metrics and load_checkpoint(r.checkpoint)["config"]["z_dim"] == 4


def test_unknown_option_names_the_valid_ones(tmp_path):
    G, D = tiny_pair()
    with pytest.raises(UsageError) as e:
        ganterm.fit(G, D, images(), steps=1, out=tmp_path, learning_rate=1e-3)
    msg = str(e.value)
    assert "'learning_rate'" in msg and "lr_g" in msg and "batch_size" in msg and "\n" not in msg
    assert "lr_g" in OPTIONS and "dataset" not in OPTIONS


def test_z_dim_read_off_the_first_layer_or_asked_for(tmp_path):
    conv_g = nn.Sequential(nn.ConvTranspose2d(12, 8, 4), nn.ReLU())
    assert infer_z_dim(conv_g) == 12
    assert infer_z_dim(nn.Sequential(nn.Conv2d(3, 3, 1))) is None

    class NoLayers(nn.Module):  # no Linear or ConvTranspose2d to read z_dim from
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

        def forward(self, z):
            return torch.tanh(self.scale * z[:, :64]).view(-1, 1, 8, 8)

    D = tiny_pair()[1]
    with pytest.raises(UsageError, match="pass z_dim="):
        ganterm.fit(NoLayers(), D, images(), steps=1, out=tmp_path / "a", **FAST)
    r = ganterm.fit(NoLayers(), D, images(), steps=1, z_dim=70, out=tmp_path / "b", **FAST)
    assert r.steps == 1


def test_wrong_shapes_fail_before_the_first_step(tmp_path):
    G, _ = tiny_pair(shape=(1, 6, 6))
    with pytest.raises(UsageError) as e:
        ganterm.fit(G, tiny_pair()[1], images(), steps=1, out=tmp_path / "g", **FAST)
    assert str(e.value) == "generator output is (16, 1, 6, 6) but the data is (16, 1, 8, 8)"
    G, _ = tiny_pair()
    wide = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(UsageError, match=r"discriminator output is \(16, 3\) .* one logit per sample"):
        ganterm.fit(G, wide, images(), steps=1, out=tmp_path / "d", **FAST)
    assert not (tmp_path / "g" / "checkpoints").exists()


def test_a_network_raising_mid_run_stops_with_one_line_and_keeps_the_checkpoint(tmp_path):
    class Flaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_pair()[1]
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.training and self.calls > 12:
                raise RuntimeError("boom in my forward")
            return self.net(x)

    G = tiny_pair()[0]
    with pytest.raises(GantermError) as e:
        ganterm.fit(G, Flaky(), images(), steps=50, out=tmp_path / "r", ckpt_every=2, **FAST)
    msg = str(e.value)
    assert msg.startswith("training stopped at step ") and "RuntimeError: boom in my forward" in msg
    assert "last checkpoint:" in msg and "\n" not in msg
    saved = sorted((tmp_path / "r" / "checkpoints").glob("*.pt"))
    assert saved and load_checkpoint(saved[-1])["step"] >= 2


def test_sample_and_view_of_a_fit_checkpoint_say_what_to_do(tmp_path):
    G, D = tiny_pair()
    r = ganterm.fit(G, D, images(), steps=2, out=tmp_path / "run", **FAST)
    p = run_cli("sample", str(r.checkpoint), "--out", str(tmp_path / "s.png"))
    assert p.returncode != 0
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1 and "ganterm.fit" in err and "['modules']['G']" in err


@sync
async def test_view_of_a_fit_checkpoint_shows_its_curves_and_says_why_no_samples(tmp_path):
    from ganterm.tui.app import view_app

    G, D = tiny_pair()
    r = ganterm.fit(G, D, images(), steps=3, out=tmp_path / "run", **FAST)
    app = view_app(r.checkpoint, "truecolor")
    async with app.run_test(size=(100, 30)) as pilot:
        feed = app.monitor.feed
        deadline = time.monotonic() + 60
        while "ganterm.fit" not in feed.snapshot.message:
            assert time.monotonic() < deadline, "no message about the fit networks"
            await pilot.pause(0.05)
        assert len(feed.series("d_loss")) == 3  # the curves are there
        assert any(e.kind == "warning" and "['modules']['G']" in e.message for e in feed.events())
        await pilot.press("q")
    assert app.return_code == 0


def test_the_live_monitor_runs_a_fit(tmp_path, monkeypatch):
    """headless=False: the same monitor `ganterm train` shows, driven here by Pilot instead of a terminal."""
    import asyncio

    import ganterm.tui.app as tui_app

    seen: dict[str, object] = {}

    def run_under_pilot(app) -> int:
        async def drive() -> None:
            async with app.run_test(size=(100, 30)) as pilot:
                feed = app.monitor.feed
                deadline = time.monotonic() + 60
                while feed.snapshot.state != "finished":
                    assert time.monotonic() < deadline, f"monitor stuck in {feed.snapshot.state}"
                    await pilot.pause(0.05)
                seen["model"] = feed.snapshot.model
                await pilot.press("q")

        asyncio.run(drive())
        return 0

    monkeypatch.setattr(tui_app, "run_app", run_under_pilot)
    G, D = tiny_pair()
    r = ganterm.fit(G, D, images(), steps=5, out=tmp_path / "run", **{**FAST, "headless": False})
    assert r.state == "finished" and r.steps == 5 and seen["model"] == "fit"
