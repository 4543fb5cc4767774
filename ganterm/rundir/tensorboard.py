"""TensorBoard event files followed into a Feed: `ganterm view LOGDIR` (a logdir, one events file, or a
folder of runs, each run's events shown as one ganterm run).

Read with the `tensorboard` package's own loader (`EventFileLoader`, which works without TensorFlow and
keeps its offset between calls), never a hand-written parser: install `ganterm[tensorboard]`. Like
`RunDirReader`, `poll()` reads what is new and nothing read is trusted: tags go through `shown`, a torn
last record (a writer killed mid-write) waits for its end, and a file that is not an events file is
said once as a warning. Scalars become metrics (the GAN tags pytorch/examples and most scripts log are
renamed to ganterm's own, so the D/G and D(x) vs D(G(z)) charts appear); tags with `/` are charted in
groups titled by their prefix; image summaries become sample frames (scrubbable); text summaries become
events. Each poll reads at most READ_PER_POLL seconds of records, so a 1 GB file is caught up over several
polls while the charts already show its beginning. No torch here.
"""

from __future__ import annotations

import io
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from ganterm.channel.feed import Feed, SampleFrame
from ganterm.channel.history import MetricHistory
from ganterm.channel.layout import (
    GAN_GRAD,
    GAN_HEADLINE,
    GAN_LOSS,
    GAN_PROB,
    PALETTE,
    ChartGroup,
    Headline,
    Layout,
    SeriesSpec,
)
from ganterm.channel.text import MESSAGE_LIMIT, is_clean_name, shown
from ganterm.errors import GantermError

EVENTS_NAME = re.compile(r"events\.out\.tfevents\.")
READ_PER_POLL = 0.25  # seconds of reading per poll and file; a longer backlog is read over several polls
MAX_COLUMNS = 64
MAX_FRAMES = 64  # images decoded per poll: while catching up, only the newest are
MAX_SERIES = 8
INSTALL_HINT = "reading TensorBoard logs needs the tensorboard package: pip install 'ganterm[tensorboard]'"

# Normalised tag (lower case, letters and digits only) -> ganterm's metric name.
GAN_TAGS: dict[str, str] = {
    **dict.fromkeys(
        (
            "dloss",
            "lossd",
            "errd",
            "lossdis",
            "lossdisc",
            "discloss",
            "lossdiscriminator",
            "discriminatorloss",
        ),
        "d_loss",
    ),
    **dict.fromkeys(
        ("gloss", "lossg", "errg", "lossgen", "genloss", "lossgenerator", "generatorloss"),
        "g_loss",
    ),
    **dict.fromkeys(("dx", "dreal", "drealx", "realscore", "scorereal", "dxreal"), "d_real"),
    **dict.fromkeys(("dgz", "dgz1", "dfake", "fakescore", "scorefake", "dgzfake"), "d_fake"),
    **dict.fromkeys(("gradd", "dgrad", "gradnormd", "dgradnorm"), "grad_d"),
    **dict.fromkeys(("gradg", "ggrad", "gradnormg", "ggradnorm"), "grad_g"),
}


def metric_name(tag: str) -> str:
    """ganterm's name for a scalar tag: `Loss/D`, `loss_d`, `errD` -> d_loss; `D(x)` -> d_real;
    `D(G(z))`, `D_G_z1` -> d_fake; a group prefix (`train/d_loss`) is looked through; else the tag."""
    for candidate in (tag, tag.rsplit("/", 1)[-1]):
        key = re.sub(r"[^a-z0-9]", "", candidate.lower())
        if key in GAN_TAGS:
            return GAN_TAGS[key]
    return tag


def is_event_file(path: Path) -> bool:
    return path.is_file() and bool(EVENTS_NAME.match(path.name))


def event_files(path: Path) -> list[Path]:
    """The events files of one run: the file itself, or those directly in the folder (name order is
    TensorBoard's: by timestamp)."""
    if path.is_file():
        return [path] if EVENTS_NAME.match(path.name) else []
    try:
        return sorted(p for p in path.iterdir() if EVENTS_NAME.match(p.name) and p.is_file())
    except OSError:
        return []


def is_tensorboard_run(path: Path) -> bool:
    """An events file, or a folder holding events files directly."""
    return bool(event_files(path))


def tensorboard_runs(path: Path) -> list[Path]:
    """The runs inside a TensorBoard logdir that is not one itself (runs nested up to 3 levels)."""
    found: list[Path] = []
    stack = [(path, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            children = sorted(
                (p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True
            )
        except OSError:
            continue
        for child in children:
            if is_tensorboard_run(child):
                found.append(child)
            elif depth < 2:
                stack.append((child, depth + 1))
    return sorted(found)


def tensorboard_layout(names: list[str] | tuple[str, ...]) -> Layout:
    """The GAN's charts when D's and G's losses are there; the other tags grouped by their prefix
    (`Loss/D`, `Loss/G` -> a chart titled "Loss"), tags without one in pairs."""
    names = list(names)
    groups: list[ChartGroup] = []
    headline: tuple[Headline, ...] = ()
    taken: set[str] = set()
    if {"d_loss", "g_loss"} <= set(names):
        for g in (GAN_LOSS, GAN_PROB, GAN_GRAD):
            if any(n in names for n in g.names()):
                groups.append(g)
                taken.update(g.names())
        headline = GAN_HEADLINE
    by_prefix: dict[str, list[str]] = {}
    for n in names:
        if n not in taken:
            by_prefix.setdefault(n.split("/", 1)[0] if "/" in n else "", []).append(n)
    loose = by_prefix.pop("", [])
    for prefix, members in by_prefix.items():
        for i in range(0, len(members), MAX_SERIES):
            groups.append(_group(prefix, members[i : i + MAX_SERIES], len(groups), cut=len(prefix) + 1))
    for i in range(0, len(loose), 2):
        chunk = loose[i : i + 2]
        groups.append(_group(" vs ".join(chunk), chunk, len(groups), cut=0))
    if not headline:
        headline = tuple(Headline(n, n.rsplit("/", 1)[-1]) for n in names[:4])
    return Layout(tuple(groups) or (ChartGroup("metrics", ()),), headline)


def _group(title: str, members: list[str], start: int, cut: int) -> ChartGroup:
    series = tuple(SeriesSpec(n, n[cut:], PALETTE[(start + j) % len(PALETTE)]) for j, n in enumerate(members))
    return ChartGroup(title, series)


def _loader_class() -> Any:
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except ImportError:
        raise GantermError(INSTALL_HINT) from None
    return EventFileLoader


class _EventsFile:
    """One events file read from where the last poll stopped (the loader keeps the offset; a torn
    record is retried once more bytes arrive)."""

    def __init__(self, path: Path, loader: Any) -> None:
        self.path = path
        self.loader = loader(str(path))
        self.pending: Any = None  # the generator of the current Load(), kept while a backlog lasts
        self.records = 0
        self.size_seen = 0

    def read(self, deadline: float) -> tuple[list[Any], bool]:
        """Events until the deadline or the end of the file; True when the end was reached."""
        out = []
        if self.pending is None:
            self.pending = self.loader.Load()
        for event in self.pending:
            out.append(event)
            if len(out) % 64 == 0 and time.monotonic() > deadline:
                return out, False
        self.pending = None
        self.records += len(out)
        return out, True


class TensorBoardReader:
    """Follows one TensorBoard run (an events file, or a folder of them) into a Feed; the same duck
    type as `RunDirReader` (`feed`, `poll()`, `config`, `checkpoint`), so the view and compare screens
    take it unchanged. There is nothing to steer: TensorBoard logs have no command channel."""

    def __init__(self, path: str | Path, feed: Feed | None = None) -> None:
        self.path = Path(path)
        if not is_tensorboard_run(self.path):
            raise GantermError(f"{shown(self.path, 300)} holds no TensorBoard events files")
        self._loader = _loader_class()
        self.feed = feed or Feed(MetricHistory(()))
        self.config: dict[str, Any] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.checkpoint_path: Path | None = None
        self.checkpoints: Any = None  # set by the screens for run directories; unused here
        self._files: dict[Path, _EventsFile] = {}
        self._columns: dict[str, str] = {}  # tag -> metric name, first seen first
        self._last_step: dict[str, int] = {}
        self._last_frame = -1
        self._warned: set[str] = set()
        self.feed.update(run_dir=str(self.path), state="running", model="TensorBoard log")

    def warn(self, key: str, message: str) -> None:
        if key not in self._warned and len(self._warned) < 40:
            self._warned.add(key)
            self.feed.event(
                "warning", shown(message, MESSAGE_LIMIT), max(self._last_step.values(), default=0)
            )

    def poll(self) -> bool:
        """Read whatever is new (at most READ_PER_POLL seconds per file); True when the feed changed."""
        for p in event_files(self.path):
            if p not in self._files:
                self._files[p] = _EventsFile(p, self._loader)
        rows: dict[int, dict[str, float]] = {}
        images: list[tuple[int, str, bytes]] = []
        changed = False
        for f in self._files.values():
            try:
                events, _ = f.read(time.monotonic() + READ_PER_POLL)
            except Exception as e:  # a file removed or unreadable mid-read; the loader raises its own kinds
                self.warn(f"read:{f.path.name}", f"{f.path.name}: {e}")
                f.pending = None
                continue
            for ev in events:
                changed |= self._take(ev, rows, images)
            self._check_file(f)
        if rows:
            self._publish(rows)
            changed = True
        for step, tag, png in images[-MAX_FRAMES:]:
            changed |= self._publish_image(step, tag, png)
        return changed

    def _check_file(self, f: _EventsFile) -> None:
        """A file that yields nothing although it has bytes is no events file (or is damaged at its start)."""
        try:
            size = f.path.stat().st_size
        except OSError:
            return
        if f.records == 0 and f.pending is None and size >= 12 and size == f.size_seen:
            self.warn(
                f"bad:{f.path.name}", f"{shown(f.path.name, 200)} is not a readable TensorBoard events file"
            )
        f.size_seen = size

    def _take(self, ev: Any, rows: dict[int, dict[str, float]], images: list[tuple[int, str, bytes]]) -> bool:
        if not ev.HasField("summary"):
            return False
        step = int(ev.step) if 0 <= ev.step < 2**62 else 0
        changed = False
        for value in ev.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            tag = value.tag
            if not is_clean_name(tag):
                self.warn("tag", "ignored tags that are not plain text")
                continue
            if plugin == "scalars":
                name = self._column(tag)
                if name is None:
                    continue
                rows.setdefault(step, {})[name] = _scalar(value)
            elif plugin == "images":
                strings = value.tensor.string_val
                if len(strings) >= 3:
                    images.append((step, tag, strings[-1]))  # width, height, then the images: the newest
            elif plugin == "text":
                text = b" ".join(value.tensor.string_val).decode("utf-8", "replace")
                tag = tag.removesuffix("/text_summary")  # torch's add_text appends it
                self.feed.event("info", shown(f"{tag}: {text}", MESSAGE_LIMIT), step, tag=shown(tag))
                changed = True
        return changed

    def _column(self, tag: str) -> str | None:
        if tag in self._columns:
            return self._columns[tag]
        if len(self._columns) >= MAX_COLUMNS:
            self.warn("many", f"only the first {MAX_COLUMNS} scalar tags are shown")
            return None
        name = metric_name(tag)
        if name in self._columns.values():
            name = tag  # a second tag for the same GAN figure (D(x) and d_real): kept under its own name
        self._columns[tag] = name
        return name

    def _publish(self, rows: dict[int, dict[str, float]]) -> None:
        """Rows merged by step; a step older than the newest one published for a metric is dropped (the
        history only moves forward)."""
        columns = tuple(dict.fromkeys(self._columns.values()))
        keep = []
        for step in sorted(rows):
            row = rows[step]
            fresh = {k: v for k, v in row.items() if step > self._last_step.get(k, -1)}
            if fresh:
                for k in fresh:
                    self._last_step[k] = step
                keep.append((step, fresh))
        if not keep:
            return
        steps = np.array([s for s, _ in keep], np.int64)
        values = np.array([[r.get(c, math.nan) for c in columns] for _, r in keep], np.float32)
        self.feed.publish(steps, values.reshape(len(keep), len(columns)), columns, step=int(steps[-1]))
        self.feed.update(layout=tensorboard_layout(columns))

    def _publish_image(self, step: int, tag: str, png: bytes) -> bool:
        if step < self._last_frame:
            return False
        try:
            from PIL import Image

            with Image.open(io.BytesIO(png)) as im:
                if im.width * im.height > 4096 * 4096:
                    raise ValueError("image over 16 megapixels")
                im = im.convert("L" if im.mode in ("L", "1", "I", "I;16") else "RGB")
                data = np.asarray(im)
        except Exception as e:  # Pillow raises many kinds on a damaged image
            self.warn(f"image:{tag}", f"image {tag} at step {step} skipped: {e}")
            return False
        data = data[None, :, :, None] if data.ndim == 2 else data[None]
        self._last_frame = step
        # One frame holding the whole logged grid: the panel shows it as one image, as TensorBoard does.
        self.feed.publish_samples(
            SampleFrame(step, "images", data, note=f"TensorBoard {shown(tag, 60)}", cols=1)
        )
        return True


def _scalar(value: Any) -> float:
    from tensorboard.util import tensor_util

    try:
        v = float(np.asarray(tensor_util.make_ndarray(value.tensor)).reshape(-1)[0])
    except (ValueError, IndexError, TypeError):
        return math.nan
    return v if math.isfinite(v) and abs(v) < 3e38 else math.nan
