"""The four algorithms (gan, cgan, infogan, vae) on one trainer: CLI runs, exact resume, checkpoints,
sampling, their metrics by name, and the shape of the loop (it imports no eval, tui or render)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganterm.algos.catalog import build_algorithm
from ganterm.algos.prior import LatentPrior
from ganterm.channel.feed import Feed
from ganterm.channel.history import MetricHistory
from ganterm.config import TrainConfig, resolve
from ganterm.errors import UsageError
from ganterm.eval.quality import conditional_accuracy
from ganterm.rundir.reader import RunDirReader
from ganterm.training.checkpoint import FORMAT_KEY, load_checkpoint, save_checkpoint
from ganterm.training.sampling import Sampler
from ganterm.training.trainer import Trainer

ALGOS = ("gan", "cgan", "infogan", "vae")


@pytest.fixture(scope="module")
def fcd_cache(tmp_path_factory) -> Path:
    """A quickly trained FCD classifier where `ganterm eval --data-dir` looks (the default trains 3,000
    steps: minutes on 2 cores)."""
    from ganterm.data.shapes import shapes
    from ganterm.eval import fcd

    root = tmp_path_factory.mktemp("fcd-cache")
    data = shapes(seed=0, n=3000)
    net, acc = fcd.train_classifier(data, steps=80, max_images=3000)
    fcd.save_classifier(fcd.classifier_path(data, root), net, acc, data.name)
    return root


def cfg(tmp: Path, algo: str, **kw) -> TrainConfig:
    base = dict(
        dataset="shapes",
        algo=algo,
        steps=6,
        batch_size=16,
        out=str(tmp / "run"),
        sample_every=3,
        ckpt_every=3,
        publish_every=1,
        precision="fp32",
        n_samples=30,
        seed=5,
    )
    base.update(kw)
    return resolve(TrainConfig(**base))


def rows(run: Path) -> dict[int, dict]:
    return {r["step"]: r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}


def cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ganterm", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def test_the_loop_imports_no_eval_tui_or_render():
    code = (
        "import sys, ganterm.training.trainer, ganterm.algos.catalog, ganterm.training.state; "
        "bad=[m for m in sys.modules if m.startswith(('ganterm.eval', 'ganterm.tui', 'ganterm.render'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("algo", ALGOS)
def test_resume_is_exact_and_metrics_travel_by_name(tmp_path, algo):
    Trainer(cfg(tmp_path / "a", algo)).run()
    a = rows(tmp_path / "a" / "run")
    names = set(build_algorithm(cfg(tmp_path, algo), (1, 28, 28), 3).metrics)
    assert set(a[1]) - {"step", "time"} == names  # what metrics.jsonl holds is the algorithm's list
    assert all(np.isfinite(a[s][n]) for s in a for n in names)
    half = tmp_path / "a" / "run" / "checkpoints" / "ckpt_0000003.pt"
    Trainer(cfg(tmp_path / "b", algo, resume=str(half))).run()
    b = rows(tmp_path / "b" / "run")
    for s in (4, 5, 6):
        assert {n: b[s][n] for n in names} == {n: a[s][n] for n in names}, (algo, s)
    ck = load_checkpoint(tmp_path / "a" / "run" / "checkpoints" / "ckpt_0000006.pt")
    expected = {"gan": {"G", "D"}, "cgan": {"G", "D"}, "infogan": {"G", "D", "Q"}, "vae": {"vae"}}[algo]
    assert set(ck["modules"]) == expected and ck["algo"] == algo
    # The run directory's reader carries the same names and the algorithm's chart layout.
    reader = RunDirReader(tmp_path / "a" / "run")
    reader.poll()
    assert set(reader.feed.snapshot.metrics) == names
    assert reader.feed.snapshot.layout.groups[0].names()[0] in names


def test_cgan_and_infogan_samples_through_the_cli(tmp_path):
    for algo in ("cgan", "infogan"):
        Trainer(cfg(tmp_path / algo, algo)).run()
    ck = tmp_path / "cgan" / "run"
    out = tmp_path / "one.npy"
    r = cli("sample", str(ck), "--n", "10", "--class", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (10, 1, 28, 28)
    grid = tmp_path / "grid.png"
    assert cli("sample", str(ck), "--out", str(grid)).returncode == 0
    assert Image.open(grid).size[1] < Image.open(grid).size[0]  # 3 class rows, wider than tall
    trav = tmp_path / "trav.png"
    info = tmp_path / "infogan" / "run"
    r = cli("sample", str(info), "--traverse", "2", "--out", str(trav))
    assert r.returncode == 0 and "wrote 80 samples" in r.stdout, r.stderr  # 10 values x 8 steps
    bad = cli("sample", str(ck), "--traverse", "1", "--out", str(trav))
    assert bad.returncode != 0 and "InfoGAN" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("sample", str(ck), "--class", "7", "--out", str(out))
    assert bad.returncode != 0 and "from 0 to 2" in bad.stderr


# cGAN and InfoGAN (150 steps each, ~35 s apiece on a slow 2-core machine) run in the slow set; the fast set
# keeps the VAE, and test_cgan_and_infogan_samples_through_the_cli trains both briefly through the CLI.
@pytest.mark.parametrize(
    "algo",
    [pytest.param("cgan", marks=pytest.mark.slow), pytest.param("infogan", marks=pytest.mark.slow), "vae"],
)
def test_each_algorithm_trains_from_the_cli_with_no_other_flag(tmp_path, algo, fcd_cache):
    out = tmp_path / algo
    steps = "300" if algo == "vae" else "150"
    r = cli("train", "shapes", "--algo", algo, "--steps", steps, "--headless", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    m = rows(out)
    assert len(m) == int(steps)
    ck = load_checkpoint(out / "checkpoints" / f"ckpt_{int(steps):07d}.pt")
    sampler = Sampler.from_checkpoint(ck)
    assert sampler.fixed().data.shape[1:] == (28, 28, 1)
    if algo == "vae":
        assert m[300]["elbo"] > m[1]["elbo"] + 50  # it learns: the bound climbs
        assert sampler.reconstructions().cols == 8
    else:
        assert "swap" not in r.stdout
        assert sampler.view_frame({"view": "class", "class": 1}).note.endswith(" 1")
    if algo == "infogan":
        mi = [m[s]["mi_cat"] for s in sorted(m)]
        # Q starts to read the code back (slowly at the shapes recipe's rates; on digits it reaches
        # ln 10 within minutes: benchmarks/algorithms.py)
        assert np.mean(mi[-30:]) > np.mean(mi[:30])
        assert sampler.view_frame({"view": "traversal", "code": 1}).cols == 8
    ev = cli("eval", str(out), "--n", "300", "--data-dir", str(fcd_cache))
    assert ev.returncode == 0, ev.stderr
    assert "FCD" in ev.stdout
    if algo == "cgan":
        assert "per-class acc." in ev.stdout
    if algo == "infogan":
        assert "code -> class" in ev.stdout


def test_infogan_q_gradient_reaches_the_shared_body(tmp_path):
    t = Trainer(cfg(tmp_path, "infogan"))
    t.setup()
    D, Q = t.state["D"], t.state["Q"]
    latent = t.algo.prior.draw(8, t.state.gen)
    x = t.algo.generate(t.state.modules, latent).detach()
    D.zero_grad(set_to_none=True)
    loss, _, _ = t.algo.info_terms(Q(D.features(x)), latent)
    loss.backward()
    body = [p for p in D.features.__self__.net[:-1].parameters()]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in body if p.requires_grad)
    assert all(p.grad is None for p in D.net[-1].parameters())  # the logit layer is not on that path
    # and D's optimizer holds Q's and the body's parameters
    held = {id(p) for g in t.state.optimizers["D"].param_groups for p in g["params"]}
    assert {id(p) for p in [*Q.parameters(), *body]} <= held


def test_conditional_accuracy_uses_an_optimal_assignment():
    ids = torch.arange(4).repeat_interleave(25)
    perm = torch.tensor([2, 0, 3, 1])
    pred = perm[ids].clone()
    pred[:5] = 1  # 5 of code 0's samples land elsewhere
    assert conditional_accuracy(pred, ids, "code", 4)["code_acc_pct"] == pytest.approx(95.0)
    acc = conditional_accuracy(ids.clone(), ids, "class", 4)
    assert acc == {"class_acc_pct": 100.0, "class_acc_min_pct": 100.0}


def test_format_1_checkpoints_still_load_and_resume(tmp_path):
    Trainer(cfg(tmp_path / "a", "gan")).run()
    new = torch.load(tmp_path / "a" / "run" / "checkpoints" / "ckpt_0000003.pt", weights_only=True)
    old = {
        k: v for k, v in new.items() if k not in ("modules", "emas", "optimizers", "fixed_latent", "prior")
    }
    old.update(
        G=new["modules"]["G"],
        D=new["modules"]["D"],
        G_ema=None,
        opt_g=new["optimizers"]["G"],
        opt_d=new["optimizers"]["D"],
        fixed_noise=new["fixed_latent"]["z"],
    )
    old[FORMAT_KEY] = 1
    old.pop("algo")
    path = tmp_path / "old.pt"
    save_checkpoint(path, old)
    old[FORMAT_KEY] = 1
    torch.save(old, path)  # save_checkpoint stamps the current format: write format 1 itself
    ck = load_checkpoint(path)
    assert set(ck["modules"]) == {"G", "D"} and Sampler.from_checkpoint(ck).fixed().data.shape[0] == 30
    Trainer(cfg(tmp_path / "b", "gan", resume=str(path))).run()
    a, b = rows(tmp_path / "a" / "run"), rows(tmp_path / "b" / "run")
    assert [b[s]["d_loss"] for s in (4, 5, 6)] == [a[s]["d_loss"] for s in (4, 5, 6)]


def test_bad_algorithm_choices_are_one_line():
    with pytest.raises(UsageError, match="choose one of"):
        resolve(TrainConfig(dataset="shapes", algo="diffusion"))
    with pytest.raises(UsageError, match="2-D data"):
        resolve(TrainConfig(dataset="ring", algo="cgan"))
    with pytest.raises(UsageError, match="no GAN loss"):
        resolve(TrainConfig(dataset="shapes", algo="vae", loss="hinge", extra={"loss_given": True}))
    with pytest.raises(UsageError, match="discriminator"):
        resolve(TrainConfig(dataset="shapes", algo="vae", r1=10.0))
    r = cli("train", "shapes", "--algo", "vae", "--loss", "ns", "--headless")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no GAN loss" in r.stderr


def test_swap_on_a_vae_says_it_has_no_loss(tmp_path):
    t = Trainer(cfg(tmp_path, "vae"))
    t.setup()
    t.swap_loss("hinge")
    assert any("has no GAN loss" in e.message for e in t.feed.events())


def test_history_takes_new_metric_names_mid_run():
    h = MetricHistory(("a",), capacity=16, factor=2)
    h.extend(np.arange(1, 4), np.ones((3, 1)))
    h.extend(np.arange(4, 6), np.array([[2.0, 5.0], [2.0, 6.0]]), ("a", "b"))
    assert h.columns == ("a", "b")
    b = h.series("b")
    assert np.isnan(b.mean[:3]).all() and list(b.mean[3:]) == [5.0, 6.0]
    assert len(h.series("never-logged")) == 0
    feed = Feed(MetricHistory(()))
    feed.publish(np.array([1]), np.array([[3.0]]), ("elbo",))
    assert feed.snapshot.metric("elbo") == 3.0


def test_structured_priors_lay_out_one_row_per_class():
    p = LatentPrior(4, n_classes=3)
    fixed = p.fixed(30, seed=1)
    assert fixed.y.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert torch.equal(fixed.z[:10], fixed.z[10:20])  # same noise down each column
    info = LatentPrior(4, n_cat=10, n_cont=2)
    t = info.traversal(1, steps=8)
    assert len(t) == 80 and t.cont[:8, 1].tolist() == pytest.approx(np.linspace(-2, 2, 8).tolist())
    assert (t.cont[:, 0] == 0).all() and t.cat.tolist()[:9] == [0] * 8 + [1]
    assert info.g_input(info.draw(5, torch.Generator().manual_seed(0))).shape == (5, 16)


def test_a_nan_in_any_algorithms_metrics_is_caught(tmp_path):
    t = Trainer(cfg(tmp_path, "vae", steps=8, on_nan="stop", extra={"inject_nan_at": 4}))
    t.run()
    alerts = [e for e in t.feed.events() if e.kind == "alert"]
    assert alerts and alerts[0].step == 4 and "elbo" in alerts[0].message
    assert t.step == 4 and load_checkpoint(t.last_checkpoint)["step"] == 3  # the NaN weights are not saved
