"""`ganterm.Run` (your own loop, our monitor) and the file command channel both sides of it use."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import cli_env, events, metric_steps, start_cli, wait_for
from PIL import Image
from test_tui_fixtures import sync

import ganterm
from ganterm.run import Run, to_uint8_nhwc
from ganterm.rundir.commands import (
    CommandReceiver,
    parse_command_line,
    pending_commands,
    read_status,
    send_command,
    status_is_live,
)
from ganterm.rundir.reader import RunDirReader
from ganterm.rundir.writer import tile_images

ROOT = Path(__file__).resolve().parent.parent


def metric_lines(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def snap_metric(snap: object, name: str) -> float:
    """A snapshot's metric, by name (the reader is moving from fixed columns to named metrics)."""
    return snap.metric(name) if hasattr(snap, "metric") else getattr(snap, name)


def kinds(run_dir: Path) -> list[str]:
    return [e["kind"] for e in events(run_dir)]


# -- logging ------------------------------------------------------------------------------------------
def test_lazy_attribute_and_cheap_import(tmp_path):
    code = (
        "import sys, numpy as np, ganterm\n"
        "assert 'ganterm.run' not in sys.modules\n"
        f"run = ganterm.Run({str(tmp_path)!r})\n"
        "run.log(1, d_loss=np.float32(0.5)); run.images(1, np.zeros((4, 3, 8, 8))); run.close()\n"
        "print(sorted(sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = r.stdout
    assert "'torch'" not in loaded and "'textual'" not in loaded
    assert ganterm.Run is Run and "Run" in dir(ganterm)
    with pytest.raises(AttributeError):
        _ = ganterm.NoSuchThing


def test_log_images_events_read_back_into_a_feed(tmp_path):
    import torch

    run_dir = tmp_path / "run"
    with Run(run_dir, config={"dataset": "shapes", "model": "mine", "steps": 50}) as run:
        for step in range(1, 51):
            loss = torch.tensor(0.5, requires_grad=True) * 2  # a 0-d tensor that needs grad
            run.log(step, d_loss=loss, g_loss=np.float32(step / 10), d_real=0.75, lr=2e-4, nan=float("nan"))
        run.images(50, np.zeros((4, 1, 8, 8), np.float32))
        run.event("info", "hello", extra=3)
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["dataset"] == "shapes" and cfg["source"] == "ganterm.Run" and "started" in cfg

    rows = metric_lines(run_dir)
    assert [r["step"] for r in rows] == list(range(1, 51))
    assert rows[-1]["d_loss"] == 1.0 and rows[-1]["g_loss"] == pytest.approx(5.0)
    assert rows[0]["lr"] == 2e-4 and rows[0]["nan"] is None  # any name; NaN as null
    assert (run_dir / "samples" / "step_0000050.png").exists()

    reader = RunDirReader(run_dir)
    assert reader.poll()
    snap = reader.feed.snapshot
    assert (snap.step, snap.dataset, snap.total_steps, snap.state) == (50, "shapes", 50, "finished")
    assert snap_metric(snap, "d_loss") == 1.0 and snap_metric(snap, "d_real") == 0.75
    evs = reader.feed.read(since=0).events
    assert [e.kind for e in evs] == ["start", "info", "end"]
    assert evs[1].message == "hello" and evs[1].data["extra"] == 3 and evs[1].step == 50


def test_device_tensors_are_copied_once_per_flush(tmp_path):
    import torch

    class OnDevice(torch.Tensor):  # stands in for a CUDA tensor: the logger defers what is not on the CPU
        @property
        def is_cpu(self) -> bool:
            return False

    run = Run(tmp_path / "run", flush_interval=3600)
    loss = (torch.tensor(0.25, requires_grad=True) * 2).as_subclass(OnDevice)
    run.log(1, d_loss=loss, n=torch.tensor(3).as_subclass(OnDevice), lr=0.5)
    run.log(2, d_loss=torch.ones(1).as_subclass(OnDevice), lr=0.5)
    assert isinstance(run._rows[0][2]["d_loss"], torch.Tensor)  # held (detached) until the flush
    assert not run._rows[0][2]["d_loss"].requires_grad
    run.close()
    rows = [(r["d_loss"], r.get("n"), r["lr"]) for r in metric_lines(run.path)]
    assert rows == [(0.5, 3, 0.5), (1, None, 0.5)]


def test_log_rejects_what_it_cannot_write(tmp_path):
    import torch

    with Run(tmp_path / "run") as run:
        with pytest.raises(ValueError, match="shape"):
            run.log(1, d_loss=torch.ones(3))
        with pytest.raises(TypeError, match="not a number"):
            run.log(1, d_loss="high")
        with pytest.raises(ValueError, match="own fields"):
            run.log(1, time=3.0)


GRID = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # N C H W, distinct values
NHWC = GRID.transpose(0, 2, 3, 1)
SCALED = (NHWC / 119.0 * 255 + 0.5).astype(np.uint8)  # 0..119 stretched over 0..255


@pytest.mark.parametrize(
    ("layout", "make", "expected"),
    [
        ("uint8 NCHW", lambda: GRID.astype(np.uint8), NHWC.astype(np.uint8)),
        ("uint8 NHWC", lambda: NHWC.astype(np.uint8), NHWC.astype(np.uint8)),
        ("[0,1] NCHW", lambda: GRID / 119.0, SCALED),
        ("[-1,1] NHWC", lambda: (NHWC / 59.5 - 1).astype(np.float32), SCALED),
        ("[-1,1] NCHW", lambda: GRID / 59.5 - 1, SCALED),
        ("grey NCHW", lambda: np.full((3, 1, 4, 4), 1.0, np.float32), np.full((3, 4, 4, 1), 255, np.uint8)),
        ("grey NHW", lambda: np.full((3, 4, 4), 0.0, np.float32), np.zeros((3, 4, 4, 1), np.uint8)),
        (
            "[-1,1] grey",
            lambda: np.array([[[[-1.0, 0.0, 1.0, 1.0]]]]),
            np.array([[[[0], [128], [255], [255]]]]),
        ),
    ],
)
def test_image_layouts_and_ranges(tmp_path, layout, make, expected):
    got = to_uint8_nhwc(make())
    assert got.dtype == np.uint8 and got.shape == expected.shape, layout
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1, layout  # rounding only
    with Run(tmp_path / "run") as run:
        png = run.images(7, make())
    mosaic = np.asarray(Image.open(png))
    want = tile_images(got, max(1, int(np.sqrt(len(got)))))  # the trainer's tiling
    assert np.array_equal(mosaic, want[..., 0] if want.shape[-1] == 1 else want)


def test_images_from_a_torch_tensor(tmp_path):
    import torch

    x = torch.linspace(-1, 1, 2 * 3 * 6 * 6).reshape(2, 3, 6, 6).requires_grad_()
    got = to_uint8_nhwc(x * 1)
    assert got.shape == (2, 6, 6, 3) and got.min() == 0 and got.max() == 255
    with Run(tmp_path / "run") as run:
        assert run.images(1, x.double(), max_images=1) is not None
    assert np.asarray(Image.open(tmp_path / "run" / "samples" / "step_0000001.png")).shape == (10, 10, 3)
    with pytest.raises(ValueError, match="channel"):
        to_uint8_nhwc(np.zeros((2, 5, 6, 7)))


def test_rows_wait_in_memory_until_the_interval_or_close(tmp_path):
    run_dir = tmp_path / "run"
    run = Run(run_dir, flush_interval=3600)
    for step in range(1, 11):
        run.log(step, d_loss=0.1)
    assert metric_lines(run_dir) == []  # batched: nothing written per step
    run.close()
    assert [r["step"] for r in metric_lines(run_dir)] == list(range(1, 11))
    run.close()  # twice is fine (atexit calls it too)

    by_rows = Run(tmp_path / "rows", flush_interval=3600, flush_rows=4)
    for step in range(1, 6):
        by_rows.log(step, d_loss=0.1)
    assert [r["step"] for r in metric_lines(tmp_path / "rows")] == [1, 2, 3, 4]
    by_rows.close()

    by_time = Run(tmp_path / "time", flush_interval=0.05)
    by_time.log(1, d_loss=0.1)
    threading.Event().wait(0.1)  # past the interval: the next log writes both rows
    by_time.log(2, d_loss=0.2)
    assert [r["step"] for r in metric_lines(tmp_path / "time")] == [1, 2]
    by_time.close()


def test_rows_are_flushed_at_exit_without_close(tmp_path):
    code = (
        "import sys, ganterm\n"
        f"run = ganterm.Run({str(tmp_path / 'run')!r}, flush_interval=3600)\n"
        "for s in range(1, 6): run.log(s, d_loss=0.5)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [x["step"] for x in metric_lines(tmp_path / "run")] == [1, 2, 3, 4, 5]
    assert kinds(tmp_path / "run")[-1] == "end"


# -- the channel --------------------------------------------------------------------------------------
def test_commands_arrive_in_order_once(tmp_path):
    run = Run(tmp_path / "run", poll_interval=0)
    run.command("lr", help="set the learning rate", arg=float)
    for name, args in [("checkpoint", {}), ("lr", {"value": "0.5"}), ("lr", {"value": 0.25})]:
        send_command(run.path, name, args)
    assert len(pending_commands(run.path)) == 3
    got = run.commands()
    assert [(c.name, c.arg) for c in got] == [("checkpoint", None), ("lr", 0.5), ("lr", 0.25)]
    assert pending_commands(run.path) == [] and run.commands() == []
    assert len(list((run.path / "commands" / "done").glob("*.json"))) == 3
    evs = [e for e in events(run.path) if e["kind"] == "command"]
    assert [e["message"] for e in evs] == ["checkpoint requested", "lr 0.5", "lr 0.25"]
    run.close()


def test_registered_callbacks_bad_arguments_and_unknown_names(tmp_path):
    seen: list[object] = []
    run = Run(tmp_path / "run", poll_interval=0)
    run.command("lr", arg=float, on=seen.append)
    run.command("reset", on=lambda: seen.append("reset"))
    run.command("verbose", arg=bool, on=seen.append)
    with pytest.raises(ValueError):
        run.command("stop")
    for name, args in [("lr", {"value": "x"}), ("nope", {}), ("reset", {}), ("verbose", {"value": "false"})]:
        send_command(run.path, name, args)
    assert [c.name for c in run.commands()] == ["reset", "verbose"]
    assert seen == ["reset", False]
    warnings = [e["message"] for e in events(run.path) if e["kind"] == "warning"]
    assert any("lr" in w and "bad argument" in w for w in warnings) and any("nope" in w for w in warnings)
    run.close()


def test_two_receivers_share_commands_without_duplicates(tmp_path):
    for i in range(20):
        send_command(tmp_path, "lr", {"value": i})
    (tmp_path / "commands" / "garbage.json").write_text("{not json")
    a, b = CommandReceiver(tmp_path), CommandReceiver(tmp_path)
    got: list[int] = []
    for _ in range(3):
        got += [c.arg for c in a.poll()] + [c.arg for c in b.poll()]
    assert sorted(got) == list(range(20))
    assert (tmp_path / "commands" / "done" / "garbage.bad").exists()  # kept for a human, never delivered


def test_commands_and_status_survive_restarts(tmp_path):
    run_dir = tmp_path / "run"
    first = Run(run_dir)
    first.command("lr", arg=float)
    first.log(10, d_loss=1.0)
    status = read_status(run_dir)  # what a viewer started now sees
    assert status is not None and status_is_live(status)
    assert status["state"] == "running" and status["pid"] > 0
    assert "lr" in [c["name"] for c in status["commands"]]
    first.close()
    assert read_status(run_dir)["state"] == "finished" and not status_is_live(read_status(run_dir))

    # The viewer sends while no script runs; the next script on the directory takes them, in order.
    send_command(run_dir, "lr", {"value": 0.1})
    send_command(run_dir, "pause")
    send_command(run_dir, "stop")
    second = Run(run_dir, poll_interval=0)
    second.command("lr", arg=float)
    assert second.should_stop() and second.paused
    assert [(c.name, c.arg) for c in second.commands()] == [("lr", 0.1), ("pause", None), ("stop", None)]
    assert read_status(run_dir)["state"] == "stopping"
    second.close()
    assert read_status(run_dir)["state"] == "stopped"
    assert kinds(run_dir) == ["start", "end", "start", "command", "pause", "stop", "end"]


def test_wait_while_paused_blocks_until_resume_or_stop(tmp_path):
    run = Run(tmp_path / "run", poll_interval=0)
    run.log(5, d_loss=0.1)
    send_command(run.path, "pause")
    assert not run.should_stop() and run.paused
    assert read_status(run.path)["state"] == "paused"

    waiter = threading.Thread(target=run.wait_while_paused, kwargs={"poll": 0.01})
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # still paused
    send_command(run.path, "resume")
    waiter.join(30)
    assert not waiter.is_alive() and not run.paused

    send_command(run.path, "pause")
    run.should_stop()
    waiter = threading.Thread(target=run.wait_while_paused, kwargs={"poll": 0.01})
    waiter.start()
    send_command(run.path, "stop")
    waiter.join(30)
    assert not waiter.is_alive() and run.should_stop()
    run.close()
    assert [e["kind"] for e in events(run.path)][1:] == ["pause", "resume", "pause", "stop", "end"]
    assert events(run.path)[1]["message"] == "paused at step 5"


def test_parse_command_line():
    status = {"commands": [{"name": "lr", "arg": "float"}, {"name": "n", "arg": "int"}, {"name": "go"}]}
    assert parse_command_line(" lr 1e-3 ", status) == ("lr", {"value": 0.001})
    assert parse_command_line("n 0x10", status) == ("n", {"value": 16})
    assert parse_command_line("go", status) == ("go", {})
    assert parse_command_line("pause", status) == ("pause", {})
    for bad, why in [("", "type"), ("lr", "needs a float"), ("lr fast", "expected a float"), ("bogus", "lr")]:
        with pytest.raises(ValueError, match=why):
            parse_command_line(bad, status)
    assert parse_command_line("anything 3", None) == ("anything", {"value": "3"})  # no status: as typed


# -- the example and the headless trainer, as processes -----------------------------------------------
def test_own_loop_example_runs_and_obeys_queued_commands(tmp_path):
    run_dir = tmp_path / "run"
    send_command(run_dir, "lr", {"value": 1e-3})  # queued before the script starts
    cmd = [sys.executable, str(ROOT / "examples" / "own_loop.py"), "--steps", "12", "--out", str(run_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=cli_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert metric_steps(run_dir) == list(range(1, 13))
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(metric_lines(run_dir)[-1])
    assert (run_dir / "samples" / "step_0000012.png").exists()
    evs = events(run_dir)
    assert [e["message"] for e in evs if e["kind"] == "command"] == ["lr 0.001"]
    assert evs[-1]["kind"] == "end" and evs[-1]["reason"] == "finished"

    send_command(run_dir, "stop")  # a restart of the script stops at its first step
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=cli_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert events(run_dir)[-1]["reason"] == "stopped" and events(run_dir)[-1]["step"] == 1


def test_headless_train_is_paused_and_stopped_through_the_channel(tmp_path):
    from ganterm.training.checkpoint import checkpoint_files, load_checkpoint

    run = tmp_path / "run"
    args = ("train", "shapes", "--steps", "100000", "--headless", "--out", str(run))
    proc = start_cli(*args, "--ckpt-every", "100000", "--sample-every", "100000", "--eval-every", "0")
    try:
        wait_for("training", lambda: len(metric_steps(run)) >= 2 and read_status(run) is not None, proc)
        assert "swap_loss" in [c["name"] for c in read_status(run)["commands"]]
        send_command(run, "pause")
        wait_for("the pause", lambda: (read_status(run) or {}).get("state") == "paused", proc)
        assert "pause" in kinds(run)
        send_command(run, "stop", {"reason": "viewer"})
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    ckpt = load_checkpoint(checkpoint_files(run)[-1])
    end = events(run)[-1]
    assert end["kind"] == "end" and end["reason"] == "stopped" and end["step"] == ckpt["step"] > 0
    assert [e for e in events(run) if e["kind"] == "checkpoint"][-1]["reason"] == "stop"
    assert read_status(run)["state"] == "stopped"


# -- the viewer's keys --------------------------------------------------------------------------------
@sync
async def test_view_keys_send_commands_and_show_the_answer(tmp_path):
    from textual.widgets import Input

    from ganterm.tui.app import GantermApp
    from ganterm.tui.screens.view import ViewScreen
    from ganterm.tui.steering import CommandPrompt, ConfirmScreen

    run = Run(tmp_path / "run", config={"dataset": "shapes", "model": "own"}, poll_interval=0)
    run.command("lr", help="set the learning rate", arg=float)
    for step in range(1, 21):
        run.log(step, d_loss=0.5, g_loss=1.0)
    run.flush()

    def sent() -> list[tuple[str, dict]]:
        out = []
        for name in pending_commands(run.path):
            data = json.loads((run.path / "commands" / name).read_text())
            out.append((data["name"], data["args"]))
        return out

    screen = ViewScreen(run.path, color_system="truecolor")
    app = GantermApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        assert sent() == [("pause", {})]
        assert screen.feed.snapshot.message == "sent pause"
        await pilot.press("p")  # the script has not answered yet: the second press resumes
        assert sent() == [("pause", {}), ("resume", {})]

        assert run.should_stop() is False and not run.paused  # the script takes both
        for _ in range(100):  # the reader thread polls every 0.5 s, the screen the feed 4 times a second
            if screen.feed.snapshot.message == "":
                break
            await pilot.pause(0.1)
        assert [e.kind for e in screen.feed.read(since=0).events][-2:] == ["pause", "resume"]
        assert screen.feed.snapshot.message == ""  # answered

        await pilot.press("z")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert sent() == []
        await pilot.press("z", "y")
        assert sent() == [("stop", {"reason": "viewer"})]

        await pilot.press("colon")
        assert isinstance(app.screen, CommandPrompt)
        app.screen.query_one(Input).value = "lr fast"
        await pilot.press("enter")
        assert isinstance(app.screen, CommandPrompt)  # refused: says why, stays open
        app.screen.query_one(Input).value = "lr 0.5"
        await pilot.press("enter")
        assert not isinstance(app.screen, CommandPrompt)
        assert sent()[-1] == ("lr", {"value": 0.5})
    run.close()
