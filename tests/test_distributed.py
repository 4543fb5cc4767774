"""DDP on the CPU: 2 processes over gloo, through the real CLI (`--nproc 2` and torchrun itself).

Each launch costs a few seconds of process start-up and rendezvous, so runs are short and shared: one
run directory is checked for everything a run must write once, the signal and killed-rank tests use
an endless ring run, and the longer ones (every algorithm, resume across world sizes) are marked slow.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from fault_helpers import (
    ENDLESS_RING,
    cli_env,
    events,
    metric_steps,
    one_line_error,
    run_cli,
    start_cli,
    wait_for,
)

from ganterm.rundir.commands import send_command
from ganterm.training.checkpoint import checkpoint_files, load_checkpoint

RING = ("train", "ring", "--headless", "--eval-every", "0", "--sample-every", "1000")


def launch(*args: str) -> subprocess.Popen:
    return start_cli(*args, env=cli_env(GANTERM_DIST_TIMEOUT="30"))


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node 2 ARGS` (a script, or -m ganterm ...)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return subprocess.run(
        [*launcher, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(path)
    return {f"{n}.{k}": v for n, sd in ckpt["modules"].items() for k, v in sd.items()}


def checkpoint_events(run: Path) -> list[dict]:
    if not (run / "events.jsonl").exists():
        return []
    return [e for e in events(run) if e["kind"] == "checkpoint"]


def ranks(launcher: psutil.Process) -> dict[int, psutil.Process]:
    """The training processes under a launcher, by their RANK."""
    out = {}
    for child in launcher.children(recursive=True):
        try:
            env = child.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if "RANK" in env and "-m" in child.cmdline():
            out[int(env["RANK"])] = child
    return out


def test_two_processes_write_one_run_and_resume_exactly(tmp_path):
    run = tmp_path / "ddp"
    r = run_cli(*RING, "--steps", "40", "--ckpt-every", "20", "--nproc", "2", "--out", str(run))
    assert r.returncode == 0, r.stderr
    assert metric_steps(run) == list(range(1, 41))  # each step once, by rank 0 alone
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["world_size"] == 2
    start = events(run)[0]
    assert start["world_size"] == 2 and start["global_batch"] == 2 * cfg["batch_size"]
    assert "2 processes (gloo, cpu)" in start["message"]
    ckpts = checkpoint_events(run)
    assert [e["step"] for e in ckpts] == [20, 40]
    # the consistency check before each write: equal weights and control state on both ranks
    assert all(e["ranks"] == 2 and e["ranks_max_diff"] == 0.0 and e["ranks_same_control"] for e in ckpts)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(abs(x["d_loss"]) < 100 and abs(x["g_loss"]) < 100 for x in lines)
    ckpt = load_checkpoint(checkpoint_files(run)[-1])
    assert ckpt["world_size"] == 2 and len(ckpt["rank_rngs"]) == 2

    # torchrun itself, resuming at step 20 on the same world size: the same weights at step 40
    again = tmp_path / "again"
    resume = ("--resume", str(run / "checkpoints" / "ckpt_0000020.pt"), "--out", str(again))
    r = torchrun("-m", "ganterm", *RING, "--steps", "40", *resume)
    assert r.returncode == 0, r.stderr
    a, b = weights(checkpoint_files(run)[-1]), weights(checkpoint_files(again)[-1])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_loss_swap_is_applied_by_both_ranks_at_the_same_step(tmp_path):
    run = tmp_path / "swap"
    proc = launch(*ENDLESS_RING, "--nproc", "2", "--out", str(run))
    try:
        wait_for("training", lambda: len(metric_steps(run)) >= 20, proc)
        send_command(run, "swap_loss", {"value": "lsgan"})
        wait_for("the swap", lambda: any(e["kind"] == "swap" for e in events(run)), proc)
        send_command(run, "checkpoint")
        wait_for("a checkpoint", lambda: checkpoint_events(run), proc)
        send_command(run, "stop")
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    swap = next(e for e in events(run) if e["kind"] == "swap")
    assert swap["step"] % 10 == 0  # applied at an exchange (every publish interval), not mid-interval
    # both ranks hold the same swap list (step included) and rates: their control states are equal
    assert all(e["ranks_same_control"] and e["ranks_max_diff"] == 0.0 for e in checkpoint_events(run))
    ckpt = load_checkpoint(checkpoint_files(run)[-1])
    assert ckpt["loss_name"] == "lsgan" and ckpt["swaps"][0]["step"] == swap["step"]


def test_sigterm_to_the_launcher_stops_every_rank_after_a_final_checkpoint(tmp_path):
    run = tmp_path / "term"
    proc = launch(*ENDLESS_RING, "--nproc", "2", "--out", str(run))
    try:
        wait_for("training", lambda: len(metric_steps(run)) >= 20, proc)
        workers = ranks(psutil.Process(proc.pid))
        assert sorted(workers) == [0, 1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    for worker in workers.values():
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    end = events(run)[-1]
    assert end["kind"] == "end" and end["reason"] == "stopped"
    last = checkpoint_events(run)[-1]
    assert last["reason"] == "stop" and last["ranks_same_control"]
    assert load_checkpoint(checkpoint_files(run)[-1])["step"] == end["step"]


def test_a_killed_rank_stops_the_others_with_one_line(tmp_path):
    run = tmp_path / "kill"
    args = [*ENDLESS_RING, "--nproc", "2", "--out", str(run)]
    args[args.index("--ckpt-every") + 1] = "20"
    proc = launch(*args)
    try:
        wait_for("a checkpoint", lambda: len(checkpoint_events(run)) >= 1, proc)
        ranks(psutil.Process(proc.pid))[1].kill()
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert time.monotonic() - t0 < 90  # no hang: the collectives time out at 30 s here at worst
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ganterm: error:")]
    assert any("process 1 of 2 was killed by SIGKILL" in line for line in lines), err
    ckpt = load_checkpoint(checkpoint_files(run)[-1])  # the last checkpoint loads
    assert ckpt["step"] >= 20


@pytest.mark.slow
def test_resume_across_world_sizes(tmp_path):
    two, one, back = tmp_path / "two", tmp_path / "one", tmp_path / "back"
    r = run_cli(*RING, "--steps", "30", "--nproc", "2", "--out", str(two))
    assert r.returncode == 0, r.stderr
    r = run_cli(*RING, "--steps", "50", "--resume", str(checkpoint_files(two)[-1]), "--out", str(one))
    assert r.returncode == 0, r.stderr
    assert "on cpu" in events(one)[0]["message"] and load_checkpoint(checkpoint_files(one)[-1])["step"] == 50
    r = run_cli(
        *RING, "--steps", "70", "--nproc", "2", "--resume", str(checkpoint_files(one)[-1]), "--out", str(back)
    )
    assert r.returncode == 0, r.stderr
    ckpt = load_checkpoint(checkpoint_files(back)[-1])
    assert ckpt["step"] == 70 and ckpt["world_size"] == 2
    assert metric_steps(back) == list(range(51, 71))
    assert all(e["ranks_max_diff"] == 0.0 for e in checkpoint_events(back))


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ("--algo", "gan"),
        ("--algo", "cgan"),
        ("--algo", "infogan"),
        ("--algo", "vae"),
        ("--loss", "wgan-gp"),  # the penalty's autograd.grad through a DDP-wrapped D
        ("--r1", "1", "--g-ema", "0.999", "--augment", "translation"),
    ],
    ids=["gan", "cgan", "infogan", "vae", "wgan-gp", "r1-ema-augment"],
)
def test_every_algorithm_and_penalty_trains_on_two_processes(tmp_path, options):
    run = tmp_path / "run"
    r = run_cli(
        "train", "shapes", *options, "--steps", "20", "--headless", "--eval-every", "0",
        "--nproc", "2", "--out", str(run), timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert metric_steps(run) == list(range(1, 21))
    assert all(e["ranks_max_diff"] == 0.0 and e["ranks_same_control"] for e in checkpoint_events(run))
    assert (run / "samples").is_dir()


@pytest.mark.slow
def test_a_time_budget_ends_every_rank_at_the_same_step(tmp_path):
    run = tmp_path / "budget"
    r = run_cli(*RING, "--time", "6s", "--nproc", "2", "--out", str(run))
    assert r.returncode == 0, r.stderr
    end = events(run)[-1]
    assert end["kind"] == "end" and end["reason"] == "finished"
    last = checkpoint_events(run)[-1]
    assert last["step"] == end["step"] and last["ranks_same_control"] and last["ranks_max_diff"] == 0.0


@pytest.mark.slow
def test_a_health_decision_is_taken_by_rank_0_and_applied_by_both(tmp_path):
    run = tmp_path / "nan"
    r = run_cli(
        *RING, "--steps", "50", "--ckpt-every", "20", "--inject-nan-at", "25", "--on-nan", "rollback",
        "--nproc", "2", "--out", str(run),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    evs = events(run)
    alert = next(e for e in evs if e["kind"] == "alert")
    rollback = next(e for e in evs if e["kind"] == "rollback")
    assert alert["step"] == 25 and rollback["step"] == 30 and rollback["to_step"] == 20
    # had only rank 0 rolled back, rank 1 would still hold NaN weights and the sums would differ
    last = checkpoint_events(run)[-1]
    assert last["step"] == 50 and last["ranks_max_diff"] == 0.0 and last["ranks_same_control"]


@pytest.mark.slow
def test_sync_bn_on_the_cpu_is_one_clear_line(tmp_path):
    r = run_cli(*RING, "--steps", "5", "--nproc", "2", "--sync-bn", "--out", str(tmp_path / "sbn"))
    assert one_line_error(r).startswith("ganterm: error: --sync-bn needs CUDA GPUs")
    assert r.returncode == 2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_rank_0_shows_the_monitor_in_a_real_terminal_and_q_stops_both(tmp_path):
    socket, out, rc_file = f"ganterm-ddp-{os.getpid()}", tmp_path / "run", tmp_path / "rc"
    command = (
        f"unset COLUMNS LINES; cd {tmp_path} && {sys.executable} -m ganterm train ring --steps 100000 "
        f"--nproc 2 --out {out}; echo $? > {rc_file}; sleep 60"
    )

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True
        ).stdout

    tmux("new-session", "-d", "-s", "gt", "-x", "120", "-y", "40", command)
    try:
        wait_for("the monitor", lambda: "RUNNING" in tmux("capture-pane", "-p", "-t", "gt"))
        assert "cpu ×2" in tmux("capture-pane", "-p", "-t", "gt")
        tmux("send-keys", "-t", "gt", "q")
        wait_for("the exit code", rc_file.exists)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    assert rc_file.read_text().strip() == "0"
    last = checkpoint_events(out)[-1]
    assert last["reason"] == "stop" and last["ranks_same_control"] and last["ranks_max_diff"] == 0.0
    assert events(out)[-1]["kind"] == "end"


UNUSED_LAYER_MODELS = """
import torch
from torch import nn


class D(nn.Module):
    def __init__(self, shape):
        super().__init__()
        c, h, w = shape
        self.score = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 32), nn.ReLU(), nn.Linear(32, 1))
        self.spare = nn.Linear(4, 4)  # never used: DDP must be told, or it waits for its gradient

    def forward(self, x):
        return self.score(x).view(x.shape[0])


class G(nn.Module):
    def __init__(self, z_dim, shape):
        super().__init__()
        self.shape = shape
        c, h, w = shape
        self.net = nn.Sequential(nn.Linear(z_dim, 64), nn.ReLU(), nn.Linear(64, c * h * w))

    def forward(self, z):
        return torch.tanh(self.net(z)).view(z.shape[0], *self.shape)


def build(shape, z_dim):
    return G(z_dim, tuple(shape)), D(tuple(shape))
"""


@pytest.mark.slow
def test_a_user_model_with_an_unused_layer_trains_on_two_processes(tmp_path):
    models = tmp_path / "models.py"
    models.write_text(UNUSED_LAYER_MODELS)
    run = tmp_path / "run"
    r = run_cli(
        "train", "shapes", "--model", f"{models}:build", "--steps", "20", "--headless", "--eval-every", "0",
        "--nproc", "2", "--out", str(run),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    note = next(e for e in events(run) if e["kind"] == "info" and "no gradient" in e["message"])
    assert note["message"].startswith("D has parameters that get no gradient (spare.weight, spare.bias)")
    assert all(e["ranks_max_diff"] == 0.0 and e["ranks_same_control"] for e in checkpoint_events(run))


@pytest.mark.slow
def test_ganterm_fit_under_torchrun(tmp_path):
    """The seed example (ganterm.fit with the user's own modules) as a 2-process torchrun job."""
    run = tmp_path / "fit"
    example = Path(__file__).resolve().parents[1] / "examples" / "seed_gan.py"
    r = torchrun(str(example), "--steps", "20", "--headless", "--out", str(run))
    assert r.returncode == 0, r.stderr
    assert metric_steps(run) == list(range(1, 21))
    last = checkpoint_events(run)[-1]
    assert last["ranks"] == 2 and last["ranks_max_diff"] == 0.0 and last["ranks_same_control"]
