"""TensorBoard logs: `ganterm view LOGDIR` (the reader, the dispatch, a live file, a torn record, a file
that is not one, the compare view) and `ganterm export RUN --tensorboard DIR` read back by TensorBoard's
own loader. Event files are written by torch's real SummaryWriter, as a pytorch/examples script does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
torch = pytest.importorskip("torch")

from test_tui_fixtures import sync  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from ganterm.run import Run  # noqa: E402
from ganterm.rundir import tensorboard as tb  # noqa: E402
from ganterm.rundir.reader import RunDirReader  # noqa: E402
from ganterm.rundir.runs import find_runs, is_run_dir, open_reader  # noqa: E402
from ganterm.rundir.tensorboard import TensorBoardReader, metric_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def dcgan_log(logdir: Path, steps: range, writer: SummaryWriter | None = None) -> SummaryWriter:
    """What pytorch/examples dcgan logs, through SummaryWriter: the four figures and a grid."""
    w = writer or SummaryWriter(str(logdir))
    for i in steps:
        w.add_scalar("Loss_D", 1.0 + 1 / (i + 1), i)
        w.add_scalar("Loss_G", 2.0 - 1 / (i + 1), i)
        w.add_scalar("D(x)", 0.8, i)
        w.add_scalar("D(G(z))", 0.2, i)
        w.add_scalar("Loss/aux", float(i), i)
        if i % 10 == 0:
            w.add_image("fake_samples", torch.full((3, 20, 30), i / 100), i)
            w.add_text("note", f"epoch {i}", i)
    w.flush()
    return w


def test_gan_tags_are_recognised() -> None:
    names = {t: metric_name(t) for t in ("Loss/D", "loss_d", "errD", "Loss_G", "D(x)", "D_G_z1", "D(G(z))")}
    assert names == {
        "Loss/D": "d_loss",
        "loss_d": "d_loss",
        "errD": "d_loss",
        "Loss_G": "g_loss",
        "D(x)": "d_real",
        "D_G_z1": "d_fake",
        "D(G(z))": "d_fake",
    }
    assert metric_name("train/d_loss") == "d_loss" and metric_name("D_G_z2") == "D_G_z2"


def test_a_summary_writer_logdir_is_followed_live(tmp_path: Path) -> None:
    logdir = tmp_path / "dcgan"
    w = dcgan_log(logdir, range(30))
    assert is_run_dir(logdir)
    reader = open_reader(logdir)
    assert isinstance(reader, TensorBoardReader)
    assert reader.poll()
    snap = reader.feed.snapshot
    assert [g.title for g in snap.layout.groups] == ["loss", "D(x) vs D(G(z))", "Loss"]
    assert snap.metrics["d_loss"] == pytest.approx(1 + 1 / 30) and snap.metrics["d_fake"] == pytest.approx(
        0.2
    )
    frames = reader.feed.frames()
    assert [f.step for f in frames] == [0, 10, 20]  # one per logged grid: the scrubber walks them
    assert frames[0].data.shape == (1, 20, 30, 3)
    assert [e.message for e in reader.feed.events()][:1] == ["note: epoch 0"]
    assert not reader.poll()  # nothing new: an idle poll changes nothing
    dcgan_log(logdir, range(30, 41), w)  # the script goes on writing: only the new records are read
    assert reader.poll()
    assert reader.feed.snapshot.step == 40 and [f.step for f in reader.feed.frames()][-1] == 40
    assert len(reader.feed.series("d_loss").x) == 41
    w.close()


def test_a_torn_last_record_waits_and_a_foreign_file_is_said(tmp_path: Path) -> None:
    logdir = tmp_path / "torn"
    dcgan_log(logdir, range(5)).close()
    (path,) = tb.event_files(logdir)
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # a writer killed mid-record
    reader = TensorBoardReader(logdir)
    reader.poll()
    assert reader.feed.snapshot.step == 4  # every whole record is read; the torn one waits
    with path.open("ab") as f:
        f.write(whole[-7:])  # the record completed: read on, nothing lost
    reader.poll()
    assert not [e for e in reader.feed.events() if e.kind == "warning"]

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "events.out.tfevents.1.host").write_bytes(b"this is not a TFRecord file at all\n" * 20)
    reader = TensorBoardReader(bad)
    reader.poll()
    reader.poll()
    warnings = [e.message for e in reader.feed.events() if e.kind == "warning"]
    assert warnings == ["events.out.tfevents.1.host is not a readable TensorBoard events file"]


def test_a_big_backlog_is_read_over_several_polls(tmp_path: Path, monkeypatch) -> None:
    w = SummaryWriter(str(tmp_path / "big"))
    for i in range(3000):
        w.add_scalar("loss", float(i), i)
    w.close()
    monkeypatch.setattr(tb, "READ_PER_POLL", 0.0)  # every poll stops after its first batch of records
    reader = TensorBoardReader(tmp_path / "big")
    reader.poll()
    assert 0 < reader.feed.snapshot.step < 2999
    for _ in range(200):
        if not reader.poll():
            break
    assert reader.feed.snapshot.step == 2999


def ganterm_run(path: Path) -> Path:
    run = Run(path, config={"dataset": "toy"})
    for i in range(20):
        run.log(i, d_loss=1.0 + i / 100, g_loss=0.5, d_real=0.7, d_fake=0.3)
    run.images(10, np.full((4, 8, 8, 1), 200, np.uint8))
    run.event("info", "hello")
    run.close()
    return path


def test_a_logdir_of_runs_and_a_ganterm_run_compare(tmp_path: Path) -> None:
    dcgan_log(tmp_path / "tb" / "exp" / "a", range(3)).close()
    dcgan_log(tmp_path / "tb" / "exp" / "b", range(3)).close()
    mine = ganterm_run(tmp_path / "runs" / "ganterm-run")
    runs = find_runs([tmp_path / "tb", mine])
    assert runs == [tmp_path / "tb" / "exp" / "a", tmp_path / "tb" / "exp" / "b", mine]
    readers = [open_reader(p) for p in runs]
    assert [type(r) for r in readers] == [TensorBoardReader, TensorBoardReader, RunDirReader]


@sync
async def test_view_and_compare_screens_take_the_tensorboard_reader(tmp_path: Path) -> None:
    from ganterm.tui.app import compare_app, view_app
    from ganterm.tui.widgets.samples import SamplePanel

    logdir = tmp_path / "dcgan"
    dcgan_log(logdir, range(30)).close()
    app = view_app(logdir)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        for _ in range(60):
            await pilot.pause(0.05)
            if screen.query_one("#samples", SamplePanel).frame is not None:
                break
        assert screen.steer_dir is None  # no command channel in a TensorBoard log
        assert screen.feed.snapshot.layout.groups[0].title == "loss"
        assert screen.query_one("#samples", SamplePanel).frame is not None
    app = compare_app([logdir, ganterm_run(tmp_path / "ganterm-run")])
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        assert len(app.screen.runs) == 2


def test_export_tensorboard_reads_back_in_tensorboards_loader(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    run = ganterm_run(tmp_path / "run")
    out = tmp_path / "tb-out"
    res = subprocess.run(
        [sys.executable, "-m", "ganterm", "export", str(run), "--tensorboard", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    assert "20 metric rows, 1 sample grids" in res.stdout
    values: dict[str, dict[int, float]] = {}
    plugins = set()
    for path in tb.event_files(out):
        for ev in EventFileLoader(str(path)).Load():
            for v in ev.summary.value:
                plugins.add(v.metadata.plugin_data.plugin_name)
                if v.metadata.plugin_data.plugin_name == "scalars":
                    values.setdefault(v.tag, {})[ev.step] = float(tensor_util.make_ndarray(v.tensor))
    assert values["Loss/D"][19] == pytest.approx(1.19) and values["D(G(z))"][0] == pytest.approx(0.3)
    assert len(values["Loss/G"]) == 20
    assert {"scalars", "images", "text"} <= plugins
    back = TensorBoardReader(out)  # and ganterm reads it as the GAN run it was
    back.poll()
    assert back.feed.snapshot.metrics["d_loss"] == pytest.approx(1.19) and back.feed.frames()


def test_train_tensorboard_writes_the_runs_metrics_and_grids(tmp_path: Path) -> None:
    """`ganterm train --tensorboard`: RUN/tensorboard/ holds every metric row with the values of
    metrics.jsonl, and a sample grid per recorded step, read back by TensorBoard's own loader."""
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganterm",
            "train",
            "shapes",
            "--steps",
            "6",
            "--headless",
            "--out",
            str(run),
            "--tensorboard",
            "--sample-every",
            "3",
            "--eval-every",
            "0",
            "--model",
            "mlp",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ea = EventAccumulator(str(run / "tensorboard"))
    ea.Reload()
    d = {e.step: e.value for e in ea.Scalars("Loss/D")}
    assert sorted(d) == [r["step"] for r in rows]
    assert all(d[r["step"]] == pytest.approx(r["d_loss"], rel=1e-6) for r in rows)
    assert [e.step for e in ea.Images("samples")] == [0, 3, 6]
