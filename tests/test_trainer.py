"""The trainer end to end in-process: small runs on the CPU."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed
from ganterm.config import TrainConfig, resolve
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.trainer import Trainer


def make_cfg(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(
        dataset="ring",
        steps=60,
        batch_size=64,
        out=str(tmp_path / "run"),
        sample_every=20,
        ckpt_every=30,
        publish_every=5,
        seed=3,
    )
    base.update(kw)
    return resolve(TrainConfig(**base))


def metrics(run_dir: Path) -> dict[int, dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows}


def test_trainer_imports_no_ui():
    code = (
        "import sys, ganterm.training.trainer, ganterm.rundir.writer, ganterm.training.health; "
        "bad=[m for m in sys.modules if m.split('.')[0] in ('textual','rich','plotext')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_run_dir_contents_and_checkpoint(tmp_path):
    cfg = make_cfg(tmp_path)
    t = Trainer(cfg)
    t.run()
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["dataset"] == "ring"
    m = metrics(run)
    assert sorted(m) == list(range(1, 61))
    assert all(np.isfinite(m[s]["d_loss"]) for s in m)
    ckpts = sorted((run / "checkpoints").glob("*.pt"))
    assert [p.name for p in ckpts] == ["ckpt_0000030.pt", "ckpt_0000060.pt"]
    ck = load_checkpoint(ckpts[-1])
    assert (
        ck["step"] == 60
        and ck["data_kind"] == "points"
        and ck["fixed_latent"]["z"].shape == (1000, cfg.z_dim)
    )
    # weights_only loading is the contract: plain data only
    torch.load(ckpts[-1], weights_only=True)
    events = [json.loads(x)["kind"] for x in (run / "events.jsonl").read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "end" and events.count("checkpoint") == 2
    frames = t.feed.frames()
    assert frames[-1].kind == "points" and frames[-1].data.shape == (1000, 2)


@pytest.mark.parametrize(
    "dataset,model,loss", [("ring", "toy", "ns"), ("shapes", "mlp", "ns"), ("shapes", "dcgan", "wgan-gp")]
)
def test_resume_is_exact(tmp_path, dataset, model, loss):
    # dcgan + wgan-gp is the slow, stateful case (BatchNorm-free critic, 5 critic steps, GP noise)
    kw = dict(
        dataset=dataset, model=model, loss=loss, steps=12, ckpt_every=6, batch_size=16, precision="fp32"
    )
    if loss == "wgan-gp":
        kw.update(steps=6, ckpt_every=3, batch_size=8, n_critic=2)
    if dataset == "shapes":
        kw["image_size"] = 28
    full = make_cfg(tmp_path / "a", **kw)
    Trainer(full).run()
    half = kw["ckpt_every"]
    ckpt = tmp_path / "a" / "run" / "checkpoints" / f"ckpt_{half:07d}.pt"
    resumed = make_cfg(tmp_path / "b", resume=str(ckpt), **kw)
    Trainer(resumed).run()
    a, b = metrics(tmp_path / "a" / "run"), metrics(tmp_path / "b" / "run")
    assert sorted(b) == list(range(half + 1, 2 * half + 1))
    for s in range(half + 1, 2 * half + 1):
        for k in ("d_loss", "g_loss", "grad_g"):
            assert a[s][k] == b[s][k], (s, k, a[s][k], b[s][k])


def assert_reaches_d_and_resumes_exactly(tmp_path: Path, kw: dict, off: dict) -> None:
    """An option of D's inputs (`kw`; `off` turns it off) changes D's first loss, and a run resumed from
    the checkpoint half-way computes exactly the D losses of the unbroken run."""
    Trainer(make_cfg(tmp_path / "a", **kw)).run()
    Trainer(make_cfg(tmp_path / "plain", **{**kw, **off})).run()
    a, plain = metrics(tmp_path / "a" / "run"), metrics(tmp_path / "plain" / "run")
    assert a[1]["d_loss"] != plain[1]["d_loss"]  # the option reaches D
    half, steps = kw["ckpt_every"], kw["steps"]
    ckpt = tmp_path / "a" / "run" / "checkpoints" / f"ckpt_{half:07d}.pt"
    Trainer(make_cfg(tmp_path / "b", resume=str(ckpt), **kw)).run()
    b = metrics(tmp_path / "b" / "run")
    done = range(half + 1, steps + 1)
    assert [b[s]["d_loss"] for s in done] == [a[s]["d_loss"] for s in done]


def test_instance_noise_anneals_to_zero_and_resumes_exactly(tmp_path):
    kw = dict(steps=12, ckpt_every=6, instance_noise=0.4, lr_decay="linear", lr_decay_start=0.5)
    t = Trainer(make_cfg(tmp_path / "s", **kw))
    t.setup()
    stds = []
    for step in (0, 3, 6, 9):
        t.state.step = step
        stds.append(t.instance_noise_std())
    assert stds == pytest.approx([0.4, 0.2, 0.0, 0.0])
    t = Trainer(make_cfg(tmp_path / "n", steps=12, instance_noise=0.4, lr_decay="none"))
    t.setup()
    t.state.step = 3
    assert t.instance_noise_std() == pytest.approx(0.2)  # no decay: the noise is gone half-way

    assert_reaches_d_and_resumes_exactly(tmp_path, kw, {"instance_noise": 0.0})


def test_swap_loss_mid_run_keeps_models_and_records(tmp_path):
    cfg = make_cfg(tmp_path, steps=150, publish_every=1)
    feed, control = Feed(), Control()
    t = Trainer(cfg, feed, control)
    th = threading.Thread(target=t.run)
    th.start()
    while feed.snapshot.step < 20:
        time.sleep(0.01)
    g_before, opt_before = t.state["G"], t.state.optimizers["G"]
    control.swap_loss("hinge")
    control.swap_loss("wgan-gp")
    th.join()
    assert t.state["G"] is g_before and t.state.optimizers["G"] is opt_before
    assert [s["to"] for s in t.swaps] == ["hinge", "wgan-gp"]
    assert t.algo.loss.name == "wgan-gp" and t.algo.n_critic == 5
    ck = load_checkpoint(sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))[-1])
    assert [s["to"] for s in ck["swaps"]] == ["hinge", "wgan-gp"] and ck["loss_name"] == "wgan-gp"
    kinds = [e.kind for e in feed.events()]
    assert kinds.count("swap") == 2
    # the checkpoint's events keep the swap's target, so `view` labels its chart marker "→hinge"
    from ganterm.tui.adapters import fill_feed_from_checkpoint
    from ganterm.tui.monitor import marker_for

    viewed = Feed()
    fill_feed_from_checkpoint(viewed, ck, Path("ckpt.pt"))
    labels = [marker_for(e)[1] for e in viewed.events() if e.kind == "swap"]
    assert labels == ["→hinge", "→wgan-gp"]


def test_pause_resume_checkpoint_stop(tmp_path):
    cfg = make_cfg(tmp_path, steps=100_000, ckpt_every=100_000, publish_every=1)
    feed, control = Feed(), Control()
    t = Trainer(cfg, feed, control)
    th = threading.Thread(target=t.run)
    th.start()
    while feed.snapshot.step < 5:
        time.sleep(0.01)
    control.pause()
    deadline = time.time() + 10
    while feed.snapshot.state != "paused" and time.time() < deadline:
        time.sleep(0.01)
    paused_at = feed.snapshot.step
    time.sleep(0.3)
    assert feed.snapshot.step == paused_at and feed.snapshot.state == "paused"
    control.checkpoint()  # applied while paused
    deadline = time.time() + 10
    while not any(e.kind == "checkpoint" for e in feed.events()) and time.time() < deadline:
        time.sleep(0.01)
    control.resume()
    while feed.snapshot.step < paused_at + 5:
        time.sleep(0.01)
    control.stop()
    th.join(timeout=30)
    assert not th.is_alive()
    assert feed.snapshot.state == "stopped"
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))
    assert len(ckpts) == 2  # the manual one and the final one
    assert load_checkpoint(ckpts[-1])["step"] == feed.snapshot.step


def test_nan_is_caught_at_its_step_and_rolled_back(tmp_path):
    cfg = make_cfg(
        tmp_path, steps=80, ckpt_every=20, on_nan="rollback", lr_decay="none", extra={"inject_nan_at": 33}
    )
    feed = Feed()
    t = Trainer(cfg, feed)
    t.run()
    alerts = [e for e in feed.events() if e.kind == "alert" and e.data.get("alert") == "nonfinite"]
    assert alerts and alerts[0].step == 33
    rb = [e for e in feed.events() if e.kind == "rollback"]
    assert rb and rb[0].data["to_step"] == 20
    m = metrics(tmp_path / "run")
    assert all(np.isfinite(m[s]["d_loss"]) for s in range(34, 81))  # training went on healthily
    assert t.state.optimizers["D"].param_groups[0]["lr"] == pytest.approx(cfg.lr_d * 0.5)
    final = load_checkpoint(sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))[-1])
    assert all(torch.isfinite(v).all() for v in final["modules"]["G"].values())


def test_nan_pauses_by_default(tmp_path):
    cfg = make_cfg(tmp_path, steps=1000, extra={"inject_nan_at": 7})
    feed, control = Feed(), Control()
    t = Trainer(cfg, feed, control)
    th = threading.Thread(target=t.run)
    th.start()
    deadline = time.time() + 30
    while feed.snapshot.state != "paused" and time.time() < deadline:
        time.sleep(0.01)
    assert feed.snapshot.state == "paused" and feed.snapshot.step == 7
    control.rollback()
    while feed.snapshot.state == "paused":
        time.sleep(0.01)
    control.stop()
    th.join(timeout=30)
    assert any(e.kind == "rollback" for e in feed.events())


def test_flush_reports_gpu_memory_when_on_cuda(tmp_path, monkeypatch):
    # No GPU here: the CUDA branch of the publish is checked with the device and the allocator faked.
    t = Trainer(make_cfg(tmp_path, steps=4))
    t.setup()
    row = t.train_step(8)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 123_456_789)
    t.device, t.publisher.rate = torch.device("cuda", 0), 10.0
    t.publisher.metrics([1], [row])
    assert t.feed.snapshot.gpu_mem_bytes == 123_456_789


def test_r1_penalty_enters_the_critic_loss(tmp_path):
    Trainer(make_cfg(tmp_path / "a", steps=3, r1=10.0)).run()
    Trainer(make_cfg(tmp_path / "b", steps=3)).run()
    a, b = metrics(tmp_path / "a" / "run"), metrics(tmp_path / "b" / "run")
    assert a[1]["d_loss"] > b[1]["d_loss"]  # same weights and batch at step 1; the penalty is >= 0
    assert a[1]["g_loss"] != b[1]["g_loss"]  # and it changed D's update
    Trainer(make_cfg(tmp_path / "lazy", steps=3, r1=10.0, r1_every=2)).run()
    lazy = metrics(tmp_path / "lazy" / "run")
    # lazy R1 at step 1 (trainer step 0): twice the weight, so the penalty term doubles
    assert lazy[1]["d_loss"] - b[1]["d_loss"] == pytest.approx(
        2 * (a[1]["d_loss"] - b[1]["d_loss"]), rel=1e-4
    )


def test_generator_step_leaves_the_critic_untouched_and_trainable(tmp_path):
    # G's backward skips D's weight gradients (they would be discarded): D's .grad after a step is the
    # D step's own, and D is trainable again for the next step.
    t = Trainer(make_cfg(tmp_path, steps=2))
    t.setup()
    seen: list[list[torch.Tensor]] = []
    step_d = t.state.optimizers["D"].step

    def record_then_step(*a, **kw):
        seen.append([p.grad.clone() for p in t.algo.d_params])
        return step_d(*a, **kw)

    t.state.optimizers["D"].step = record_then_step  # type: ignore[method-assign]
    t.train_step(int(t.cfg.batch_size))
    assert all(p.requires_grad for p in t.algo.d_params)
    assert all(torch.equal(p.grad, g) for p, g in zip(t.algo.d_params, seen[-1], strict=True))
    assert all(p.grad is not None for p in t.algo.g_params)
    t.writer.close()


def test_a_pause_mid_interval_shows_the_step_it_names(tmp_path):
    """The header's step and the metrics written say the step the pause event names, even between two
    publishes (the header used to lag up to publish_every steps behind the event)."""
    cfg = make_cfg(tmp_path, steps=100_000, publish_every=50, ckpt_every=10**6, sample_every=10**6)
    feed, control = Feed(), Control()
    t = Trainer(cfg, feed, control)
    th = threading.Thread(target=t.run)
    th.start()
    deadline = time.time() + 60
    while feed.snapshot.step < 60 and time.time() < deadline:
        time.sleep(0.001)
    control.pause()
    while feed.snapshot.state != "paused" and time.time() < deadline:
        time.sleep(0.01)
    shown = feed.snapshot.step
    paused = [e for e in feed.events() if e.kind == "pause"]
    control.stop()
    th.join(timeout=30)
    assert paused and paused[-1].message == f"paused at step {shown}"
    assert max(metrics(tmp_path / "run")) >= shown  # the rows up to the pause were published
