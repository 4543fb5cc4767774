"""`ganterm datasets` and `ganterm export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ganterm.cli.app import app


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
        state = "ready" if r.cached else "not downloaded"
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
) -> None:
    """Export a run: a time-lapse GIF or PNG frames of its sample grids, its metrics as CSV."""
    from ganterm.rundir.export import export_run  # Pillow only, no torch

    report = export_run(
        run, gif=gif, png_dir=png_dir, csv_out=csv, fps=fps, scale=scale, every=every, max_frames=max_frames
    )
    for line in report.warnings:
        sys.stderr.write(f"ganterm: warning: {line}\n")
    for line in report.lines:
        print(line)
