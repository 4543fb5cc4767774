"""A run's metrics and sample grids as TensorBoard events, so a team's TensorBoard keeps working:
`ganterm train --tensorboard` (RUN/tensorboard/) and `ganterm export RUN --tensorboard DIR`.

Written with the `tensorboard` package's own event writer and protos (`ganterm[tensorboard]`), imported
when a writer is made: no torch, no TensorFlow. Scalars are plain `simple_value` summaries and grids PNG
image summaries, as torch's SummaryWriter writes them, so TensorBoard's loader reads the same values.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganterm.errors import GantermError, UsageError
from ganterm.rundir.export import metric_rows, resolve_run_dir, sample_frames
from ganterm.rundir.untrusted import CHUNK, LineSplitter, grid_array, open_regular, parse_record

INSTALL_HINT = "writing TensorBoard events needs the tensorboard package: pip install 'ganterm[tensorboard]'"
TAGS = {"d_loss": "Loss/D", "g_loss": "Loss/G", "d_real": "D(x)", "d_fake": "D(G(z))"}


def tag_of(name: str) -> str:
    """The tag a metric is written under: the GAN's read back as ganterm's own names by `view`."""
    return TAGS.get(name, name)


class TensorBoardWriter:
    """`metrics(steps, values, names)`, `image(step, uint8 array)`, `text(step, tag, message)`, `close()`."""

    def __init__(self, logdir: str | Path) -> None:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            raise GantermError(INSTALL_HINT) from None
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        self._writer = EventFileWriter(str(self.logdir), flush_secs=10)

    def _add(self, step: int, values: list[Any], wall_time: float | None = None) -> None:
        ev = self._event(step=int(step), summary=self._summary(value=values))
        if wall_time is not None:
            ev.wall_time = wall_time
        else:
            import time

            ev.wall_time = time.time()
        self._writer.add_event(ev)

    def metrics(
        self, steps: Sequence[int] | np.ndarray, values: np.ndarray, names: Sequence[str], times: Any = None
    ) -> None:
        """Rows of metrics ((n, len(names))); NaN cells are skipped (a metric not logged at that step)."""
        values = np.asarray(values, np.float64).reshape(len(steps), len(names))
        tags = [tag_of(n) for n in names]
        for i, step in enumerate(steps):
            row = [
                self._summary.Value(tag=t, simple_value=float(v))
                for t, v in zip(tags, values[i], strict=True)
                if math.isfinite(v)
            ]
            if row:
                self._add(int(step), row, None if times is None else float(times[i]))

    def image(self, step: int, image: np.ndarray, tag: str = "samples") -> None:
        """One grid: (H, W), (H, W, C) or (1, H, W, C) uint8, C 1 or 3."""
        from PIL import Image

        arr = np.asarray(image, np.uint8)
        if arr.ndim == 4:
            arr = arr[0]
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
        img = self._summary.Image(
            height=arr.shape[0],
            width=arr.shape[1],
            colorspace=1 if arr.ndim == 2 else 3,
            encoded_image_string=buf.getvalue(),
        )
        self._add(step, [self._summary.Value(tag=tag, image=img)])

    def text(self, step: int, tag: str, message: str) -> None:
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2

        tensor = tensor_pb2.TensorProto(
            dtype=7,  # DT_STRING
            string_val=[message.encode()],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
            ),
        )
        meta = self._summary_metadata("text")
        self._add(step, [self._summary.Value(tag=tag, tensor=tensor, metadata=meta)])

    @staticmethod
    def _summary_metadata(plugin: str) -> Any:
        from tensorboard.compat.proto import summary_pb2

        return summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)
        )

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def export_tensorboard(run: str | Path, out: str | Path) -> list[str]:
    """A finished (or running) run directory's metrics, sample grids and events as TensorBoard events in
    `out`; returns the report lines."""
    run_dir = resolve_run_dir(run)
    out = Path(out)
    if out.resolve() == run_dir.resolve():
        raise UsageError(
            f"--tensorboard {out}: give a folder of its own (RUN/tensorboard, or one outside RUN)"
        )
    writer = TensorBoardWriter(out)
    n_rows = n_grids = n_events = 0
    try:
        path = run_dir / "metrics.jsonl"
        if path.exists():
            for row in metric_rows(path):
                names = [k for k, v in row.items() if k not in ("step", "time") and _number(v)]
                if names:
                    t = row.get("time")
                    writer.metrics(
                        [row["step"]],
                        np.array([[float(row[k]) for k in names]]),
                        names,
                        times=[t] if _number(t) else None,
                    )
                    n_rows += 1
        try:
            frames = sample_frames(run_dir)
        except GantermError:
            frames = []
        for frame in frames:
            try:
                writer.image(frame.step, grid_array(frame.path))
                n_grids += 1
            except Exception:  # Pillow on a damaged grid: skipped, as `export --gif` skips it
                continue
        events = run_dir / "events.jsonl"
        if events.exists():
            for rec in _records(events):
                step, kind, message = rec.get("step"), rec.get("kind"), rec.get("message")
                if isinstance(step, int) and step >= 0 and isinstance(kind, str) and isinstance(message, str):
                    writer.text(step, f"events/{kind}", message)
                    n_events += 1
    finally:
        writer.close()
    return [f"TensorBoard events in {out}: {n_rows} metric rows, {n_grids} sample grids, {n_events} events"]


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Every JSON record of a JSON-lines file (torn and foreign lines skipped), in file order."""
    split = LineSplitter()
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            yield from filter(None, map(parse_record, split.feed(chunk)))
        rec = parse_record(split.rest())
        if rec is not None:
            yield rec


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
