"""`ganterm datasets` and `ganterm export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ganterm.cli.app import app
from ganterm.errors import UsageError


@app.command()
def datasets(
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Dataset cache to inspect.")] = None,
) -> None:
    """List the datasets: what each is, whether it is cached, and where."""
    from ganterm.data.cache import cache_dir
    from ganterm.data.registry import list_datasets

    rows = list_datasets(data_dir)
    width = max(len(r.name) for r in rows)
    print(f"cache: {cache_dir(data_dir)}")
    for r in rows:
        state = r.state or ("ready" if r.cached else "not downloaded")
        print(f"  {r.name:<{width}}  {state:<14}  {r.description}  [{r.location}]")


@app.command()
def export(
    run: Annotated[
        Path, typer.Argument(help="A run directory, or a checkpoint in RUN/checkpoints/ (its run is used).")
    ],
    gif: Annotated[
        Path | None,
        typer.Option(
            help="Write a time-lapse GIF: the fixed-noise sample grids (RUN/samples/*.png) in step order, "
            "one frame each, the step written on it, looping forever."
        ),
    ] = None,
    png_dir: Annotated[
        Path | None,
        typer.Option("--png-dir", help="Write the same labelled frames as PNGs into this folder."),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            help="Write the metric history (RUN/metrics.jsonl) as CSV: step, time, then every metric by name."
        ),
    ] = None,
    fps: Annotated[
        float, typer.Option(help="GIF frames per second (a frame lasts a whole number of 1/100 s; <= 50).")
    ] = 5.0,
    scale: Annotated[
        int, typer.Option(help="Upscale the grids by this integer factor, nearest neighbour (1-16).")
    ] = 1,
    every: Annotated[
        int, typer.Option(metavar="K", help="Keep every K-th recorded grid (the last is always kept).")
    ] = 1,
    max_frames: Annotated[
        int | None,
        typer.Option("--max-frames", metavar="N", help="At most N frames, evenly spaced over the run."),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            "--tensorboard",
            metavar="DIR",
            help="Write the metrics, sample grids and events as TensorBoard events in DIR "
            "(needs ganterm[tensorboard]).",
        ),
    ] = None,
) -> None:
    """Export a run: a GIF or PNG frames of its sample grids, its metrics as CSV, or TensorBoard events."""
    from ganterm.rundir.export import export_run, resolve_run_dir  # Pillow only, no torch
    from ganterm.rundir.reader import read_config

    if (gif or png_dir) and read_config(resolve_run_dir(run)).get("data_kind") == "points":
        raise UsageError(
            f"{run} is a 2-D point run: those record no sample images, so --gif and --png-dir have "
            "nothing to show; --csv exports its metrics"
        )
    if tensorboard is not None:
        from ganterm.rundir.tensorboard_writer import export_tensorboard

        for line in export_tensorboard(run, tensorboard):
            print(line)
        if not (gif or png_dir or csv):
            return
    report = export_run(
        run, gif=gif, png_dir=png_dir, csv_out=csv, fps=fps, scale=scale, every=every, max_frames=max_frames
    )
    for line in report.warnings:
        sys.stderr.write(f"ganterm: warning: {line}\n")
    for line in report.lines:
        print(line)
