"""`ganterm view RUN_A RUN_B ...`: several runs on the same charts (issue 12, compare runs).

Run directories are written in the run-dir format directly (config.json, metrics.jsonl, one recorded
grid), as tests/test_export.py does; the readers are polled once before the app starts, so the screens
are deterministic. Update the snapshots with `pytest tests/test_compare.py --snapshot-update`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_tui_fixtures import sync

from ganterm.errors import UsageError
from ganterm.rundir.runs import RUN_COLORS, find_runs, run_color, short_names
from ganterm.tui.app import GantermApp
from ganterm.tui.screens.compare import CompareScreen, RunLegend
from ganterm.tui.widgets.charts import CompareChart
from ganterm.tui.widgets.samples import SamplePanel
from ganterm.tui.widgets.status import StatusLine

REPO = Path(__file__).resolve().parents[1]
GAN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "grad_g", "grad_d")
VAE_METRICS = ("elbo", "recon", "kl", "grad")


def write_run(
    root: Path, name: str, *, algo: str = "gan", loss: str = "hinge", steps: int = 300, level: float = 1.0
) -> Path:
    """A finished run directory: smooth metrics scaled by `level`, events, one recorded grid whose grey
    value is `level`'s, so each run's samples can be told apart."""
    run = root / name
    (run / "samples").mkdir(parents=True)
    config = {"dataset": "ring", "model": "toy", "algo": algo, "loss": loss, "steps": steps}
    (run / "config.json").write_text(json.dumps(config))
    names = VAE_METRICS if algo == "vae" else GAN_METRICS
    rows = []
    for step in range(1, steps + 1):
        row: dict = {"step": step, "time": step * 0.01}
        for j, metric in enumerate(names):
            row[metric] = round(
                level * (0.5 + j * 0.2) + 0.3 * np.exp(-step / 80) + 0.05 * np.sin(step / 7), 5
            )
        rows.append(row)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    events = [
        {"step": 0, "time": 0.0, "kind": "start", "message": f"started: {name}"},
        {"step": steps, "time": 3.0, "kind": "end", "message": f"finished {name}"},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    grey = int(min(255, 60 * level))
    Image.fromarray(np.full((4 * 28, 4 * 28), grey, np.uint8)).save(run / "samples" / f"step_{steps:07d}.png")
    return run


def compare_screen(paths: list[Path]) -> CompareScreen:
    """The screen the CLI builds, its readers polled once so everything is there before the first frame."""
    screen = CompareScreen(find_runs(paths), color_system="truecolor", chart_interval=0)
    for run in screen.runs:
        assert run.reader is not None
        run.reader.poll()
    return screen


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    return [
        write_run(tmp_path, "ring-hinge-s1", loss="hinge", level=1.0),
        write_run(tmp_path, "ring-ns-s1", loss="ns", level=2.0),
    ]


@pytest.fixture
def four_runs(tmp_path: Path) -> Path:
    """A parent folder holding four runs (and a stray folder that is not a run)."""
    parent = tmp_path / "runs"
    for i, loss in enumerate(("hinge", "ns", "wgan-gp", "lsgan")):
        write_run(parent, f"mnist-{loss}-seed0", loss=loss, level=1.0 + i * 0.5, steps=200 + 100 * i)
    (parent / "notes").mkdir()
    return parent


# -- finding, naming and colouring runs (torch- and Textual-free) -------------------------------------
def test_short_names_keep_only_what_differs():
    paths = [Path("runs/ring-hinge-s1"), Path("runs/ring-ns-s1"), Path("runs/ring-wgan-gp-s1")]
    assert short_names(paths) == ["hinge", "ns", "wgan-gp"]
    # the same folder name in two places: the part of the path that differs
    assert short_names([Path("a/x/run"), Path("b/x/run")]) == ["a", "b"]
    assert short_names([Path("only")]) == ["only"]


def test_colours_are_stable_per_position():
    assert [run_color(i) for i in range(3)] == list(RUN_COLORS[:3])
    assert run_color(len(RUN_COLORS)) == RUN_COLORS[0]
    assert len(set(RUN_COLORS)) == len(RUN_COLORS)


def test_a_parent_folder_stands_for_its_runs(four_runs: Path):
    runs = find_runs([four_runs])
    assert [p.name for p in runs] == sorted(f"mnist-{x}-seed0" for x in ("hinge", "ns", "wgan-gp", "lsgan"))
    # a run named twice (directly and through its folder) is drawn once
    assert len(find_runs([runs[0], four_runs])) == 4


def test_bad_paths_are_refused(tmp_path: Path):
    with pytest.raises(UsageError, match="no such checkpoint or run directory"):
        find_runs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="is not a ganterm run directory"):
        find_runs([tmp_path / "empty"])


# -- the screen --------------------------------------------------------------------------------------
def legend_names(chart: CompareChart) -> list[str]:
    return [s.name for s in chart.chart_series()]


@sync
async def test_two_runs_overlaid_with_hide_pin_and_sample_keys(two_runs: list[Path]):
    screen = compare_screen(two_runs)
    app = GantermApp(screen)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        loss, aux = screen.query(CompareChart)
        assert legend_names(loss) == ["hinge", "ns"]
        assert [s.color for s in loss.chart_series()] == list(RUN_COLORS[:2])
        assert loss.metric() == ("d_loss", "loss · D") and aux.metric() == ("g_loss", "loss · G")
        # the samples are the selected run's: run 1's grid is darker than run 2's
        panel = screen.query_one("#samples", SamplePanel)
        first = panel.frame
        assert first is not None and int(first.data.max()) == 60

        await pilot.press("v")
        assert screen.selected == 1 and screen.feed is screen.runs[1].feed
        for _ in range(50):
            if panel.frame is not None and panel.frame is not first:
                break
            await pilot.pause(0.05)
        assert panel.frame is not None and int(panel.frame.data.max()) == 120
        assert "ring · toy · ns" in str(screen.query_one(StatusLine).render())  # the header is run 2's

        await pilot.press("u")  # pin run 2: drawn last, on top
        assert screen.pinned == "ns"
        await pilot.press("1")  # select run 1 by number and hide it
        await pilot.press("h")
        assert legend_names(loss) == ["ns"] and legend_names(aux) == ["ns"]
        await pilot.press("h")
        assert legend_names(loss) == ["hinge", "ns"]
        await pilot.press("2", "u")  # unpin
        assert screen.pinned is None

        legend = screen.query_one(RunLegend)
        assert legend.selected == 1 and not legend.hidden


@sync
async def test_key_a_shows_every_runs_samples_side_by_side(two_runs: list[Path]):
    screen = compare_screen(two_runs)
    app = GantermApp(screen)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        panels = [screen.query_one(f"#run-samples-{i}", SamplePanel) for i in range(2)]
        assert screen.query_one("#all-samples").display and not screen.query_one("#samples").display
        assert [int(p.frame.data.max()) for p in panels if p.frame is not None] == [60, 120]
        assert panels[1].caption.startswith("2 ns · step 300")
        await pilot.press("a")
        assert not screen.query_one("#all-samples").display and screen.query_one("#samples").display


@sync
async def test_no_room_side_by_side_says_so(four_runs: Path):
    screen = compare_screen([four_runs])
    app = GantermApp(screen)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert not screen.query_one("#all-samples").display and screen.query_one("#samples").display


@sync
async def test_runs_of_different_algorithms_share_charts_by_metric_name(tmp_path: Path):
    gan = write_run(tmp_path, "gan-run", algo="gan")
    vae = write_run(tmp_path, "vae-run", algo="vae")
    screen = compare_screen([gan, vae])
    app = GantermApp(screen)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        loss, aux = screen.query(CompareChart)
        names = [name for name, _ in loss.metrics()]
        assert names[: len(GAN_METRICS)] == ["d_loss", "g_loss", "d_real", "d_fake", "grad_d", "grad_g"]
        assert {"elbo", "recon", "kl", "grad"} <= set(names)
        assert legend_names(loss) == ["gan"]  # the VAE has no D loss: simply absent
        for _ in range(names.index("recon") - 1):
            await pilot.press("g")
        assert aux.metric() is not None and aux.metric()[0] == "recon"
        assert legend_names(aux) == ["vae"]


@sync
async def test_a_live_run_keeps_following(two_runs: list[Path]):
    screen = compare_screen(two_runs)
    app = GantermApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        feed = screen.runs[1].feed
        assert feed.snapshot.step == 300
        with open(two_runs[1] / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": 301, "time": 4.0, "d_loss": 9.0, "g_loss": 9.0}) + "\n")
        for _ in range(100):  # the reader thread polls every 0.5 s
            if feed.snapshot.step == 301:
                break
            await pilot.pause(0.1)
        assert feed.snapshot.step == 301


@sync
async def test_the_cursor_is_cached_when_the_step_is_unchanged(two_runs: list[Path]):
    screen = compare_screen(two_runs)
    app = GantermApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        loss = screen.query(CompareChart).first()
        loss.set_cursor(150)
        await pilot.pause()
        drawn = loss.renders
        loss.set_cursor(150)
        await pilot.pause()
        assert loss.renders == drawn  # unchanged: nothing redrawn
        loss.set_cursor(200)
        await pilot.pause()
        assert loss.renders == drawn + 1


# -- snapshots ---------------------------------------------------------------------------------------
def test_snapshot_two_runs(snap_compare, two_runs: list[Path]):
    assert snap_compare(GantermApp(compare_screen(two_runs)), terminal_size=(160, 50))


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_snapshot_two_runs_small(snap_compare, two_runs: list[Path], size):
    """Issue 23: y numbers on both charts and a footer that fits at the first-class small sizes."""
    assert snap_compare(GantermApp(compare_screen(two_runs)), terminal_size=size)


def test_snapshot_four_runs_from_a_parent_folder(snap_compare, four_runs: Path):
    assert snap_compare(GantermApp(compare_screen([four_runs])), terminal_size=(160, 50))


def test_snapshot_four_runs_one_hidden_one_pinned_small(snap_compare, four_runs: Path):
    screen = compare_screen([four_runs])
    assert snap_compare(GantermApp(screen), terminal_size=(80, 24), press=["h", "v", "u", "x"])


def test_snapshot_four_runs_samples_side_by_side(snap_compare, four_runs: Path):
    assert snap_compare(GantermApp(compare_screen([four_runs])), terminal_size=(160, 50), press=["a"])


# -- the CLI: bad paths are one line and a non-zero exit ----------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["{t}/missing", "{t}/ring-ns-s1"], "no such checkpoint or run directory"),
        (["{t}/ring-hinge-s1", "{t}/empty"], "is not a ganterm run directory"),
        (["{t}/empty"], "is not a ganterm run directory"),
        (["{t}/ring-hinge-s1", "{t}/bad.pt"], "bad.pt"),
    ],
)
def test_cli_refuses_bad_paths_in_one_line(tmp_path: Path, two_runs: list[Path], args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    argv = [a.format(t=tmp_path) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "ganterm", "view", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


# -- checkpoints beside run directories (trains a tiny run with the real CLI: slow) ---------------------
@pytest.mark.slow
@sync
async def test_a_checkpoint_compared_with_a_run_directory(tmp_path: Path):
    out = tmp_path / "ring-trained"
    subprocess.run(
        [sys.executable, "-m", "ganterm", "train", "ring", "--steps", "60", "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    ckpt = sorted((out / "checkpoints").glob("ckpt_*.pt"))[-1]
    written = write_run(tmp_path, "ring-written", steps=60)
    screen = CompareScreen(find_runs([ckpt, written]), color_system="truecolor", chart_interval=0)
    assert screen.runs[0].reader is None  # a checkpoint: loaded once by the worker
    app = GantermApp(screen)
    async with app.run_test(size=(160, 50)) as pilot:
        loss = screen.query(CompareChart).first()
        panel = screen.query_one("#samples", SamplePanel)
        for _ in range(300):  # torch loads in the worker thread, then the sampler is rebuilt
            if len(legend_names(loss)) == 2 and panel.frame is not None:
                break
            await pilot.pause(0.1)
        assert legend_names(loss) == [run.name for run in screen.runs]
        assert screen.runs[0].feed.snapshot.step == 60
        assert panel.frame is not None and panel.frame.kind == "points"  # regenerated from the checkpoint
