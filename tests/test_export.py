"""`ganterm export`: GIF / PNG time-lapse of the sample grids and the metrics CSV, on synthetic run dirs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import run_cli
from PIL import Image

from ganterm.errors import GantermError, UsageError
from ganterm.rundir.export import Frame, export_run, gif_duration_ms, thin

# Written to disk out of order; 9,999,999 and 10,000,000 also sort wrongly by name.
STEPS = [500, 20, 10_000_000, 0, 9_999_999, 1000]
ORDER = sorted(STEPS)
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]
GRID = 62  # a 2x2 mosaic of 28x28 digits with tile_images' 2-pixel padding


def grey_of(step: int) -> int:
    return 30 + 35 * ORDER.index(step)  # distinct, flat, and never the black padding or the white label


def write_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(path)


def make_run(root: Path, steps: list[int] = STEPS, colour: bool = False) -> Path:
    run = root / "run"
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "config.json").write_text(json.dumps({"dataset": "mnist", "model": "dcgan", "steps": 2000}))
    for s in steps:
        if colour:
            rgb = [
                (200, 30, 30),
                (30, 200, 30),
                (30, 30, 200),
                (200, 200, 30),
                (30, 200, 200),
                (200, 30, 200),
            ]
            px = np.full((GRID, GRID, 3), rgb[ORDER.index(s)], np.uint8)
        else:
            px = np.full((GRID, GRID), grey_of(s), np.uint8)
        write_png(run / "samples" / f"step_{s:07d}.png", px)
    (run / "samples" / "notes.txt").write_text("not a frame")
    rows = [
        {"step": 1, "time": 0.5, "loss_d": 1.25, "loss_g": 0.75},
        {"step": 2, "time": 1.0, "loss_d": None, "loss_g": 0.5},  # a NaN is written as null
        {"step": 3, "time": 1.5, "loss_d": 1.0, "loss_g": 0.25, "fcd": 12.5},  # a metric that starts late
        {"step": 2, "time": 2.0, "loss_d": 9.0, "loss_g": 9.0},  # a resume re-ran step 2: dropped
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (run / "metrics.jsonl").write_text(text + '{"step": 4, "time": 2.5, "loss_d": 0.')  # torn by a kill
    return run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return make_run(tmp_path)


def gif_frames(path: Path) -> list[tuple[Image.Image, int]]:
    """Each frame as composited by Pillow (GIF stores deltas), with its duration in ms."""
    out = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            out.append((im.convert("RGB"), im.info["duration"]))
    return out


def strip_height(frame: Image.Image) -> int:
    return frame.height - GRID


def grid_pixel(frame: Image.Image, scale: int = 1) -> tuple[int, int, int]:
    """The centre of the mosaic, below the label strip."""
    return frame.getpixel((frame.width // 2, frame.height - GRID * scale // 2))


# --- GIF -------------------------------------------------------------------------------------------


def test_gif_frames_in_step_order_with_step_label_duration_and_loop(run, tmp_path):
    out = tmp_path / "run.gif"
    report = export_run(run, gif=out)
    assert report.warnings == []
    assert "6 frames" in report.lines[0] and "200 ms" in report.lines[0]
    with Image.open(out) as im:
        assert im.n_frames == len(STEPS)
        assert im.info["loop"] == 0
    frames = gif_frames(out)
    for (frame, duration), step in zip(frames, ORDER, strict=True):
        assert duration == 200  # 1000 / 5 fps
        g = grey_of(step)
        assert grid_pixel(frame) == (g, g, g)
        strip = np.asarray(frame)[: strip_height(frame)]
        assert strip.max() > 200 and (strip == 0).mean() > 0.5  # white (antialiased) text on black
    # the labels differ: the widest step's label is not the first one's
    assert not np.array_equal(np.asarray(frames[0][0])[:10], np.asarray(frames[-1][0])[:10])


@pytest.mark.parametrize(("fps", "ms"), [(4, 250), (10, 100), (0.5, 2000)])
def test_gif_duration_from_fps(run, tmp_path, fps, ms):
    assert gif_duration_ms(fps) == ms
    out = tmp_path / "a.gif"
    export_run(run, gif=out, fps=fps)
    assert {d for _, d in gif_frames(out)} == {ms}


def test_gif_duration_rounds_to_what_gif_stores():
    assert gif_duration_ms(8) == 120  # 125 ms cannot be stored: GIF delays are hundredths of a second
    assert gif_duration_ms(50) == 20


def test_scale_upscales_nearest(run, tmp_path):
    out = tmp_path / "a.gif"
    export_run(run, gif=out, scale=3)
    frame, _ = gif_frames(out)[0]
    assert frame.width == GRID * 3
    g = grey_of(ORDER[0])
    grid = np.asarray(frame)[frame.height - GRID * 3 :]
    assert grid.shape[0] == GRID * 3 and (grid == g).all()  # nearest: no new grey levels


def test_colour_grids(tmp_path):
    run = make_run(tmp_path, colour=True)
    out = tmp_path / "c.gif"
    export_run(run, gif=out)
    got = [grid_pixel(f) for f, _ in gif_frames(out)]
    assert got == [
        (200, 30, 30),
        (30, 200, 30),
        (30, 30, 200),
        (200, 200, 30),
        (30, 200, 200),
        (200, 30, 200),
    ]


def test_frames_of_different_sizes_are_padded_to_the_largest(run, tmp_path):
    write_png(run / "samples" / "step_0000700.png", np.full((GRID + 30, GRID + 10), 250, np.uint8))
    out = tmp_path / "frames"
    export_run(run, png_dir=out)
    sizes = {Image.open(p).size for p in out.iterdir()}
    assert len(sizes) == 1
    (w, h) = sizes.pop()
    assert w >= GRID + 10 and h > GRID + 30
    with Image.open(out / "step_0000700.png") as im:
        assert (np.asarray(im.convert("L"))[h - (GRID + 30) :] == 250).sum() == (GRID + 30) * (GRID + 10)


def test_thin_keeps_every_kth_and_the_last():
    frames = [Frame(s, Path(f"step_{s:07d}.png")) for s in range(0, 1000, 100)]
    assert [f.step for f in thin(frames, every=3)] == [0, 300, 600, 900]
    assert [f.step for f in thin(frames, every=4)] == [0, 400, 800, 900]
    assert [f.step for f in thin(frames, max_frames=4)] == [0, 300, 600, 900]
    assert [f.step for f in thin(frames, max_frames=1)] == [900]
    assert thin(frames, max_frames=50) == frames
    assert len(thin(frames, every=2, max_frames=3)) == 3


def test_every_and_max_frames_thin_the_gif(run, tmp_path):
    out = tmp_path / "a.gif"
    export_run(run, gif=out, every=2)  # steps 0, 500, 9,999,999 and the last, 10,000,000
    frames = gif_frames(out)
    assert [grid_pixel(f)[0] for f, _ in frames] == [grey_of(s) for s in (0, 500, 9_999_999, 10_000_000)]
    export_run(run, gif=out, max_frames=2)
    assert [grid_pixel(f)[0] for f, _ in gif_frames(out)] == [grey_of(0), grey_of(10_000_000)]


def test_png_dir_holds_the_labelled_frames(run, tmp_path):
    out = tmp_path / "frames"
    report = export_run(run, png_dir=out)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"step_{s:07d}.png" for s in STEPS)
    assert "6 frames" in report.lines[0]
    for s in STEPS:
        with Image.open(out / f"step_{s:07d}.png") as im:
            frame = im.convert("RGB")
        assert frame.width >= GRID and frame.height > GRID  # wider when the label needs it
        assert grid_pixel(frame) == (grey_of(s),) * 3
    assert not list(out.glob(".*"))  # no temporary files left


def test_checkpoint_path_exports_its_run(run, tmp_path):
    ckpt = run / "checkpoints" / "ckpt_0001000.pt"
    ckpt.write_bytes(b"not read by export")
    export_run(ckpt, gif=tmp_path / "a.gif")
    assert len(gif_frames(tmp_path / "a.gif")) == len(STEPS)


def test_damaged_frame_is_skipped_with_a_warning(run, tmp_path):
    data = (run / "samples" / "step_0000500.png").read_bytes()
    (run / "samples" / "step_0000500.png").write_bytes(data[: len(data) // 2])  # a killed writer's PNG
    (run / "samples" / "step_0000600.png").write_bytes(b"")
    report = export_run(run, gif=tmp_path / "a.gif", png_dir=tmp_path / "frames")
    assert len(gif_frames(tmp_path / "a.gif")) == len(STEPS) - 1
    assert len(list((tmp_path / "frames").iterdir())) == len(STEPS) - 1
    assert len(report.warnings) == 2  # once per damaged file, though both outputs walked the frames
    assert all("step_0000500.png" in w or "step_0000600.png" in w for w in report.warnings)


# --- CSV -------------------------------------------------------------------------------------------


def test_csv_columns_by_name_null_empty_torn_line_skipped(run, tmp_path):
    out = tmp_path / "m.csv"
    report = export_run(run, csv_out=out)
    assert report.lines == [f"wrote {out}: 3 rows, 5 columns"]
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["step", "time", "loss_d", "loss_g", "fcd"],
        ["1", "0.5", "1.25", "0.75", ""],
        ["2", "1.0", "", "0.5", ""],
        ["3", "1.5", "1.0", "0.25", "12.5"],
    ]


def test_csv_works_for_a_point_run(tmp_path):
    run = make_run(tmp_path, steps=[])
    np.save(run / "samples" / "step_0000100.npy", np.zeros((10, 2)))
    export_run(run, csv_out=tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().startswith("step,time,loss_d,loss_g,fcd")


def test_several_outputs_in_one_call(run, tmp_path):
    report = export_run(run, gif=tmp_path / "a.gif", png_dir=tmp_path / "p", csv_out=tmp_path / "m.csv")
    assert len(report.lines) == 3
    assert (tmp_path / "a.gif").is_file() and (tmp_path / "m.csv").is_file()
    assert len(list((tmp_path / "p").iterdir())) == len(STEPS)


def test_in_process_errors_are_ganterm_errors(run, tmp_path):
    with pytest.raises(UsageError, match="--gif FILE, --png-dir DIR, --csv FILE"):
        export_run(run)
    (run / "metrics.jsonl").write_text('{"step": 1, "ti')
    with pytest.raises(GantermError, match="no metric rows"):
        export_run(run, csv_out=tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


# --- the real CLI ----------------------------------------------------------------------------------


def test_cli_writes_gif_and_csv(run, tmp_path):
    r = run_cli("export", str(run), "--gif", str(tmp_path / "a.gif"), "--csv", str(tmp_path / "m.csv"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "a.gif: 6 frames, steps 0-10,000,000, 200 ms each" in r.stdout
    assert "m.csv: 3 rows" in r.stdout
    assert len(gif_frames(tmp_path / "a.gif")) == len(STEPS)


def test_export_does_not_import_torch(run, tmp_path):
    code = (
        "import sys; from ganterm.cli import app; "
        f"app(['export', {str(run)!r}, '--gif', {str(tmp_path / 'a.gif')!r}], standalone_mode=False); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _point_run(root: Path) -> Path:
    run = make_run(root, steps=[])
    np.save(run / "samples" / "step_0000100.npy", np.zeros((10, 2)))
    return run


def _empty_samples(root: Path) -> Path:
    return make_run(root, steps=[])


def _plain_dir(root: Path) -> Path:
    (root / "plain").mkdir()
    (root / "plain" / "x.txt").write_text("hello")
    return root / "plain"


ERRORS = [
    # (name, make RUN, args after RUN with {t} = tmp dir, text expected in the one stderr line)
    ("no output", make_run, [], "--gif FILE, --png-dir DIR, --csv FILE"),
    ("missing run", lambda t: t / "nope", ["--gif", "{t}/a.gif"], "no such run directory"),
    ("not a run dir", _plain_dir, ["--gif", "{t}/a.gif"], "not a ganterm run directory"),
    ("stray file", lambda t: _plain_dir(t) / "x.txt", ["--gif", "{t}/a.gif"], "not a checkpoint"),
    ("point run", _point_run, ["--gif", "{t}/a.gif"], "2-D point runs record .npy frames only"),
    ("no samples yet", _empty_samples, ["--png-dir", "{t}/f"], "no sample images in"),
    ("gif parent missing", make_run, ["--gif", "{t}/no/such/a.gif"], "does not exist"),
    ("gif is a dir", make_run, ["--gif", "{t}"], "is a directory"),
    ("gif suffix", make_run, ["--gif", "{t}/a.png"], "must end in .gif"),
    ("csv parent missing", make_run, ["--csv", "{t}/no/m.csv"], "does not exist"),
    ("png-dir is a file", make_run, ["--png-dir", "{t}/run/config.json"], "overwrite the run's own"),
    ("png-dir over samples", make_run, ["--png-dir", "{t}/run/samples"], "overwrite the run's own"),
    ("csv over metrics", make_run, ["--csv", "{t}/run/metrics.jsonl"], "overwrite the run's own"),
    ("same path twice", make_run, ["--gif", "{t}/a.gif", "--csv", "{t}/a.gif"], "its own path"),
    ("bad fps", make_run, ["--gif", "{t}/a.gif", "--fps", "0"], "--fps"),
    ("bad scale", make_run, ["--gif", "{t}/a.gif", "--scale", "0"], "--scale"),
    ("bad every", make_run, ["--gif", "{t}/a.gif", "--every", "0"], "--every"),
    ("bad max-frames", make_run, ["--gif", "{t}/a.gif", "--max-frames", "0"], "--max-frames"),
    ("fps not a number", make_run, ["--gif", "{t}/a.gif", "--fps", "fast"], "--fps"),
]


@pytest.mark.parametrize(("make", "args", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_cli_errors_are_one_line(tmp_path, make, args, expected):
    run = make(tmp_path)
    r = run_cli("export", str(run), *(a.format(t=tmp_path) for a in args), timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("ganterm: error:") and expected in lines[0], lines[0]
    assert not (tmp_path / "a.gif").exists()  # nothing half-done


def test_png_dir_that_is_a_file(run, tmp_path):
    (tmp_path / "f").write_text("x")
    r = run_cli("export", str(run), "--png-dir", str(tmp_path / "f"))
    assert r.returncode != 0 and len(r.stderr.splitlines()) == 1 and "is a file" in r.stderr


def test_a_failing_output_writes_nothing(run, tmp_path):
    r = run_cli("export", str(run), "--gif", str(tmp_path / "a.gif"), "--csv", str(tmp_path / "no/m.csv"))
    assert r.returncode != 0 and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "a.gif").exists()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_write_failure_is_one_line(run):
    r = run_cli("export", str(run), "--csv", "/proc/ganterm-export.csv")  # passes the checks, fails on open
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "could not write" in r.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_directory(run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = run_cli("export", str(run), "--gif", str(locked / "a.gif"))
    finally:
        locked.chmod(0o700)
    assert r.returncode != 0 and len(r.stderr.splitlines()) == 1 and "not writable" in r.stderr


def test_unwritable_output_directory_is_refused(run, tmp_path, monkeypatch):
    # root passes os.access everywhere, so the check is exercised by pretending (the test above is real)
    monkeypatch.setattr("ganterm.rundir.export.os.access", lambda *_: False)
    with pytest.raises(UsageError, match="is not writable"):
        export_run(run, gif=tmp_path / "a.gif")
    with pytest.raises(UsageError, match="is not writable"):
        export_run(run, png_dir=tmp_path)


def test_csv_without_rows_fails_before_the_gif_is_written(run, tmp_path):
    (run / "metrics.jsonl").write_text('{"step": 1, "ti')
    with pytest.raises(GantermError, match="no metric rows"):
        export_run(run, gif=tmp_path / "a.gif", csv_out=tmp_path / "m.csv")
    assert list(tmp_path.iterdir()) == [run]
