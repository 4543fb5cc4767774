"""`ganterm export RUN`: a time-lapse of the fixed-noise sample grids (GIF or PNGs) and the metrics as CSV.

Reads only the run directory (samples/step_XXXXXXX.png, metrics.jsonl), never a checkpoint: Pillow and
the standard library, no torch, so an export of a few hundred frames takes a second or two. Everything is
checked before anything is written, and each output goes to a temporary file renamed into place, so a
failure leaves no half-written GIF or CSV behind. The run may come from anyone: its files are read
through rundir/untrusted.py (no links followed, bounded lines, Pillow's pixel limit on the header), and
each frame that will not read is a warning, not a failure.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ganterm.errors import GantermError, UsageError
from ganterm.rundir.untrusted import (
    CHUNK,
    MAX_GRID_PIXELS,
    LineSplitter,
    load_grid,
    open_regular,
    parse_record,
    png_size,
)

FRAME_NAME = re.compile(r"^step_(\d+)\.png$")
MIN_FPS = 0.01  # GIF's longest delay is 655.35 s
MAX_FPS = 50.0  # GIF delays are hundredths of a second, and viewers slow down anything under 2 of them
MAX_SCALE = 16
STRIP_PAD = 3  # pixels around the step label


@dataclass(frozen=True)
class Frame:
    """One recorded sample grid: its step and its PNG."""

    step: int
    path: Path


@dataclass
class ExportReport:
    """What was written (lines for stdout) and what was skipped (warnings for stderr)."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:  # the GIF and the PNGs walk the same frames
            self.warnings.append(message)


# --- the run ---------------------------------------------------------------------------------------


def _is_run_dir(path: Path) -> bool:
    return (path / "config.json").exists() or (path / "metrics.jsonl").exists()


def resolve_run_dir(path: str | Path) -> Path:
    """RUN as given: a run directory, a checkpoint in RUN/checkpoints/, or RUN's checkpoints/ or samples/."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such run directory or checkpoint: {path}")
    if path.is_file():
        run = path.parent.parent
        if path.parent.name == "checkpoints" and _is_run_dir(run):
            return run
        raise UsageError(f"{path} is a file but not a checkpoint in RUN/checkpoints/; give the run directory")
    if _is_run_dir(path):
        return path
    if path.name in ("checkpoints", "samples") and _is_run_dir(path.parent):
        return path.parent
    raise UsageError(f"{path} is not a ganterm run directory (no config.json or metrics.jsonl)")


def sample_frames(run: Path, report: ExportReport | None = None) -> list[Frame]:
    """The run's PNG sample grids in step order (by number, not name: steps may outgrow 7 digits); a
    link (never followed) or anything but a regular file is skipped with a warning."""
    samples = run / "samples"
    names, frames = [], []
    try:
        with os.scandir(samples) as it:
            entries = list(it)
    except OSError:
        entries = []
    for entry in entries:
        names.append(entry.name)
        if not (m := FRAME_NAME.match(entry.name)):
            continue
        if entry.is_file(follow_symlinks=False):
            frames.append(Frame(int(m[1]), samples / entry.name))
        elif report is not None:
            what = "a symbolic link (not followed)" if entry.is_symlink() else "not a regular file"
            report.warn(f"skipped {entry.name}: {what}")
    if frames:
        return sorted(frames, key=lambda f: f.step)
    if any(n.startswith("step_") and n.endswith(".npy") for n in names):
        raise GantermError(
            f"no sample images in {samples} (2-D point runs record .npy frames only; --csv still works)"
        )
    raise GantermError(
        f"no sample images in {samples} (none recorded yet: grids are written every --sample-every steps)"
    )


def thin(frames: list[Frame], every: int = 1, max_frames: int | None = None) -> list[Frame]:
    """Every `every`-th frame, then at most `max_frames` evenly spaced; the last frame is always kept."""
    if every > 1:
        kept = frames[::every]
        if kept[-1] is not frames[-1]:
            kept.append(frames[-1])
        frames = kept
    if max_frames is not None and len(frames) > max_frames:
        if max_frames == 1:
            return [frames[-1]]
        last = len(frames) - 1
        frames = [frames[round(i * last / (max_frames - 1))] for i in range(max_frames)]
    return frames


# --- output paths --------------------------------------------------------------------------------------


def check_output_file(path: Path, option: str) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name")
    _check_parent(path, option)


def check_output_dir(path: Path, option: str) -> None:
    """An existing writable folder, or a new one whose parent exists (parents are not invented)."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{option} {path} is a file; give a folder (new or existing)")
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option}: folder {path} is not writable")
        return
    _check_parent(path, option)


def check_not_source(run: Path, path: Path, option: str) -> None:
    """An export must never overwrite what it reads: the run's logs, config, samples or checkpoints."""
    target, run = path.resolve(), run.resolve()
    logs = ("config.json", "metrics.jsonl", "events.jsonl", "system.jsonl", "status.json")
    sources = [run, *(run / n for n in logs)]
    inputs = (run / "samples", run / "checkpoints", run / "commands")
    if target in sources or any(d == target or d in target.parents for d in inputs):
        raise UsageError(f"{option} {path} would overwrite the run's own files; write it elsewhere")


def _check_parent(path: Path, option: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise UsageError(f"{option}: directory {parent} does not exist")
    if not parent.is_dir():
        raise UsageError(f"{option}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option}: directory {parent} is not writable")


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary name next to `path`, renamed over it on success and removed on failure."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise GantermError(f"could not write {path}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --- frames --------------------------------------------------------------------------------------------


def gif_duration_ms(fps: float) -> int:
    """Milliseconds a frame, rounded to what GIF can store (hundredths of a second)."""
    return max(20, round(100.0 / fps) * 10)


def _label_font(width: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    size = int(min(32, max(10, width // 24)))  # readable on a 28x28x8 grid and on a --scale 4 one
    try:
        return ImageFont.load_default(size)
    except (ImportError, OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


class FrameRenderer:
    """Turns recorded grids into equal-sized labelled frames: upscaled, padded to the largest, step on top.

    Sizes and modes come from the PNG headers first (cheap), so frames can then be decoded one at a time.
    """

    def __init__(self, frames: list[Frame], scale: int, report: ExportReport) -> None:
        self.report = report
        self.scale = scale
        self.frames: list[Frame] = []
        sizes, colour = [], False
        for f in frames:
            try:
                size, mode = _probe(f.path)
            # Pillow can raise nearly anything on a crafted file (SyntaxError, struct.error, EOFError...).
            except Exception as e:
                report.warn(f"skipped unreadable sample image {f.path.name} ({_why(e)})")
                continue
            sizes.append(size)
            colour |= mode not in ("1", "L", "I", "I;16", "F")
            self.frames.append(f)
        if not self.frames:
            raise GantermError(f"no readable sample images among {len(frames)} in {frames[0].path.parent}")
        self.mode = "RGB" if colour else "L"
        self.grid_w = max(w for w, _ in sizes) * scale
        self.grid_h = max(h for _, h in sizes) * scale
        self.font = _label_font(self.grid_w)
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        _, top, _, bottom = probe.textbbox((0, 0), "step 0123456789,", font=self.font)
        text_w = max(probe.textlength(self._label(f.step), font=self.font) for f in self.frames)
        self.text_top = top
        self.strip_h = bottom - top + 2 * STRIP_PAD
        self.size = (max(self.grid_w, int(text_w) + 1 + 2 * STRIP_PAD), self.grid_h + self.strip_h)

    @staticmethod
    def _label(step: int) -> str:
        return f"step {step:,}"

    def render(self, frame: Frame) -> Image.Image:
        grid = load_grid(frame.path).convert(self.mode)  # decodes: a truncated file raises here
        if self.scale > 1:
            grid = grid.resize((grid.width * self.scale, grid.height * self.scale), Image.Resampling.NEAREST)
        canvas = Image.new(self.mode, self.size, 0)
        x = (self.size[0] - grid.width) // 2
        y = self.strip_h + (self.grid_h - grid.height) // 2
        canvas.paste(grid, (x, y))
        white = 255 if self.mode == "L" else (255, 255, 255)
        ImageDraw.Draw(canvas).text(
            (STRIP_PAD, STRIP_PAD - self.text_top), self._label(frame.step), fill=white, font=self.font
        )
        return canvas

    def __iter__(self) -> Iterator[tuple[Frame, Image.Image]]:
        """The frames that decode; a damaged one (a killed writer's) is skipped with a warning."""
        for f in self.frames:
            try:
                grid = self.render(f)
            except Exception as e:  # as in __init__: whatever a crafted file makes Pillow raise
                self.report.warn(f"skipped unreadable sample image {f.path.name} ({_why(e)})")
                continue
            yield f, grid


def _probe(path: Path) -> tuple[tuple[int, int], str]:
    """A grid's size and mode from its header (no decoding): a link, an empty file, a non-PNG or one
    over the pixel limit (a decompression bomb) raises."""
    with open_regular(path) as fh:
        head = fh.read(24)
        if not head:
            raise ValueError("empty file")
        w, h = png_size(head)
        if w * h > min(MAX_GRID_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_GRID_PIXELS):
            raise ValueError(f"{w}x{h} pixels, over the pixel limit (a decompression bomb?)")
        fh.seek(0)
        with Image.open(fh, formats=["PNG"]) as im:
            return im.size, im.mode


def _why(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:120]


def _to_gif_palette(im: Image.Image) -> Image.Image:
    """Colour frames get their own 256 colours by fast octree: Pillow's default (median cut) for GIF
    takes 60-300 ms a frame on a noisy 8x8 grid, this about 1 ms. Grey frames are stored as they are."""
    if im.mode == "L":
        return im
    return im.quantize(256, method=Image.Quantize.FASTOCTREE)


def write_gif(renderer: FrameRenderer, out: Path, fps: float) -> str:
    duration = gif_duration_ms(fps)
    written: list[int] = []

    def images() -> Iterator[Image.Image]:
        for f, im in renderer:
            written.append(f.step)
            yield _to_gif_palette(im)

    stream = images()
    first = next(stream, None)
    if first is None:
        raise GantermError(f"no readable sample images in {renderer.frames[0].path.parent}")
    with _atomic(out) as tmp:
        first.save(tmp, format="GIF", save_all=True, append_images=stream, duration=duration, loop=0)
    return (
        f"wrote {out}: {len(written)} frames, {_span(written)}, {duration} ms each, "
        f"{renderer.size[0]}x{renderer.size[1]}"
    )


def write_png_dir(renderer: FrameRenderer, out: Path) -> str:
    try:
        out.mkdir(exist_ok=True)
    except OSError as e:
        raise GantermError(f"could not create {out}: {e.strerror or e}") from None
    written: list[int] = []
    for f, im in renderer:
        dest = out / f.path.name
        with _atomic(dest) as tmp:
            im.save(tmp, format="PNG")
        written.append(f.step)
    if not written:
        raise GantermError(f"no readable sample images in {renderer.frames[0].path.parent}")
    return f"wrote {len(written)} frames to {out}/ ({_span(written)})"


def _span(steps: list[int]) -> str:
    return f"steps {steps[0]:,}-{steps[-1]:,}" if len(steps) > 1 else f"step {steps[0]:,}"


# --- metrics -------------------------------------------------------------------------------------------


def metric_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of metrics.jsonl, streamed; a torn or foreign line is skipped.

    As in `ganterm view`, a row whose step does not exceed an earlier one's (a resume after a kill
    re-runs steps) is dropped, so the CSV's steps only go up.
    """
    last = None
    split = LineSplitter()  # a 100 MB line is skipped without being held
    with open_regular(path) as fh:
        while True:
            chunk = fh.read(CHUNK)
            lines = split.feed(chunk) if chunk else [split.rest()]
            for line in lines:
                row = parse_record(line)
                step = None if row is None else row.get("step")
                if not isinstance(step, int) or isinstance(step, bool):
                    continue
                if last is not None and step <= last:
                    continue
                last = step
                yield row
            if not chunk:
                return


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def scan_metrics(run: Path) -> tuple[list[str], int]:
    """The CSV's columns (step, time, then every metric named in any row, first seen first) and row count.

    Metrics travel by name, so a new one needs no change here. A first pass over the file, so a run of
    millions of steps is never held in memory.
    """
    src = run / "metrics.jsonl"
    if not src.is_file():
        raise GantermError(f"no metrics in {run} (no metrics.jsonl)")
    names: dict[str, None] = {}  # an ordered set
    n = 0
    try:
        for row in metric_rows(src):
            names.update(dict.fromkeys(k for k in row if k not in ("step", "time")))
            n += 1
    except OSError as e:
        raise GantermError(f"could not read {src}: {e.strerror or e}") from None
    if n == 0:
        raise GantermError(f"no metric rows in {src} (the run has not logged a step yet)")
    return ["step", "time", *names], n


def write_csv(run: Path, out: Path, scan: tuple[list[str], int] | None = None) -> str:
    columns, n = scan or scan_metrics(run)
    with _atomic(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        # a live run grows: write the rows the scan saw, no more
        for row in itertools.islice(metric_rows(run / "metrics.jsonl"), n):
            w.writerow([_cell(row.get(c)) for c in columns])
    return f"wrote {out}: {n:,} rows, {len(columns)} columns"


# --- the command ---------------------------------------------------------------------------------------


def _check_options(fps: float, scale: int, every: int, max_frames: int | None) -> None:
    if not (MIN_FPS <= fps <= MAX_FPS):
        raise UsageError(
            f"--fps must be from {MIN_FPS:g} to {MAX_FPS:g} (a GIF frame lasts 1/100 s to 655 s), got {fps:g}"
        )
    if not (1 <= scale <= MAX_SCALE):
        raise UsageError(f"--scale must be an integer from 1 to {MAX_SCALE}, got {scale}")
    if every < 1:
        raise UsageError(f"--every must be a positive integer, got {every}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"--max-frames must be a positive integer, got {max_frames}")


def export_run(
    run: str | Path,
    *,
    gif: str | Path | None = None,
    png_dir: str | Path | None = None,
    csv_out: str | Path | None = None,
    fps: float = 5.0,
    scale: int = 1,
    every: int = 1,
    max_frames: int | None = None,
) -> ExportReport:
    """Write each requested output; every argument and input is checked before the first byte is written."""
    outputs = {"--gif": gif, "--png-dir": png_dir, "--csv": csv_out}
    given = {k: Path(v) for k, v in outputs.items() if v is not None}
    if not given:
        raise UsageError("nothing to export; give at least one of --gif FILE, --png-dir DIR, --csv FILE")
    _check_options(fps, scale, every, max_frames)
    if len({p.resolve() for p in given.values()}) < len(given):
        raise UsageError("give each output its own path (" + ", ".join(given) + " share one)")
    run_dir = resolve_run_dir(run)
    for option, path in given.items():
        check_not_source(run_dir, path, option)
        (check_output_dir if option == "--png-dir" else check_output_file)(path, option)
    if "--gif" in given and given["--gif"].suffix.lower() != ".gif":
        raise UsageError(f"--gif must end in .gif, got {given['--gif'].name!r}")
    scan = scan_metrics(run_dir) if "--csv" in given else None

    report = ExportReport()
    renderer = None
    if "--gif" in given or "--png-dir" in given:
        frames = thin(sample_frames(run_dir, report), every, max_frames)
        renderer = FrameRenderer(frames, scale, report)
    if renderer is not None and "--gif" in given:
        report.lines.append(write_gif(renderer, given["--gif"], fps))
    if renderer is not None and "--png-dir" in given:
        report.lines.append(write_png_dir(renderer, given["--png-dir"]))
    if "--csv" in given:
        report.lines.append(write_csv(run_dir, given["--csv"], scan))
    return report
