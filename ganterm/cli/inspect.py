"""`ganterm view`, `sample` and `eval`: open checkpoints and run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganterm.cli.app import COLORS, app
from ganterm.errors import CheckpointError, UsageError

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="FILE.py:FN",
        help="Trust this model file for this command: a run trained with --model FILE.py:FN records the "
        "file, but ganterm runs its code only when you name it here (your copy may live elsewhere).",
        show_default=False,
    ),
]


@app.command()
def view(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="A checkpoint (.pt) or a run directory (followed live); several, or a folder of runs, "
            "to compare them on the same charts.",
            show_default=False,
            metavar="PATH",
        ),
    ],
    colors: Annotated[str, typer.Option(help="auto, truecolor, 256, 16, none.")] = "auto",
    model: ModelOption = None,
) -> None:
    """Browse a checkpoint's curves and samples, or follow a run directory while it trains; compare runs.

    A run trained with --model FILE.py:FN shows its curves, events and recorded grids; G is rebuilt
    (new noise, interpolations) only when --model names the file here.
    """
    from ganterm.rundir.runs import find_runs, is_run_dir

    if colors not in COLORS:
        raise UsageError(f"unknown --colors {colors!r}; choose one of: {', '.join(COLORS)}")
    trusted = _trusted(model)
    path = paths[0]
    single = len(paths) == 1 and (path.is_file() or is_run_dir(path) or not path.is_dir())
    if single and not path.exists():
        raise UsageError(f"no such checkpoint or run directory: {path}")
    runs = [path] if single else find_runs(paths)
    for run in runs:
        if run.is_file() and not is_run_dir(run):  # a checkpoint; an events file is a run
            from ganterm.training.checkpoint import load_checkpoint

            ckpt = load_checkpoint(run)  # refuse bad or hostile files before any screen is drawn
            if trusted is not None and (single or _records_model_file(ckpt.get("config"))):
                _sampler(ckpt, run, trusted, "view")  # the named file must build this G, or one line
        elif single and trusted is not None:
            from ganterm.models.user_file import trusted_for
            from ganterm.rundir.reader import read_config

            trusted_for(read_config(run).get("model"), trusted, str(run))  # a file named for a built-in
    color_arg = None if colors == "auto" else colors
    if single:
        from ganterm.tui.app import run_view_app

        raise SystemExit(run_view_app(path, color_arg, trusted))
    from ganterm.tui.app import run_compare_app

    raise SystemExit(run_compare_app(runs, color_arg, trusted))


@app.command()
def sample(
    ckpt: Annotated[
        Path, typer.Argument(help="A checkpoint (.pt) or a run directory (its newest checkpoint).")
    ],
    n: Annotated[int, typer.Option("--n", "-n", help="How many samples.")] = 64,
    out: Annotated[
        Path, typer.Option(help=".npy (raw samples; 2-D data gives (N, 2)) or .png (a grid).")
    ] = Path("samples.png"),
    seed: Annotated[
        int | None, typer.Option(help="Noise seed (default: the run's fixed noise first).")
    ] = None,
    class_: Annotated[
        int | None,
        typer.Option(
            "--class", help="cGAN: samples of this class only; InfoGAN: of this categorical code value."
        ),
    ] = None,
    traverse: Annotated[
        int | None,
        typer.Option(
            help="InfoGAN: the traversal grid of continuous code N (1-based): rows are the categorical "
            "values, columns sweep the code from -2 to 2 at fixed noise (.png only; --n is ignored)."
        ),
    ] = None,
    model: ModelOption = None,
) -> None:
    """Generate samples from a checkpoint into a .npy array or a .png grid.

    cGAN and InfoGAN grids have one row per class (code value) unless --class picks one.
    """
    import numpy as np

    if n <= 0:
        raise UsageError(f"--n must be a positive integer, got {n}")
    if out.suffix not in (".npy", ".png"):
        raise UsageError(f"--out must end in .npy or .png, got {out.name!r}")
    if not out.parent.exists():
        raise UsageError(f"--out: directory {out.parent} does not exist")
    if traverse is not None and out.suffix != ".png":
        raise UsageError("--traverse draws a grid: give --out NAME.png")
    trusted = _trusted(model)
    ckpt_data = _load_ckpt_arg(ckpt)
    from ganterm.training.sampling import to_uint8_images

    sampler = _sampler(ckpt_data, ckpt, trusted, "sample")
    prior = sampler.prior
    algo = ckpt_data.get("algo", "gan")
    if seed is None:
        seed = int(ckpt_data["config"].get("seed", 0)) + 7
    cols = max(1, int(np.ceil(np.sqrt(n))))
    if traverse is not None:
        if not prior.n_cont:
            raise UsageError(f"--traverse needs an InfoGAN checkpoint (continuous codes); this one is {algo}")
        if not 1 <= traverse <= prior.n_cont:
            raise UsageError(f"--traverse takes a code from 1 to {prior.n_cont}, got {traverse}")
        frame = sampler.traversal(traverse - 1, seed=seed)
        x, cols = None, int(frame.cols or 8)
        images = frame.data
    elif class_ is not None:
        groups = prior.groups()
        if not groups:
            raise UsageError(
                f"--class needs a cGAN or InfoGAN checkpoint (labels or codes); this one is {algo}"
            )
        if not 0 <= class_ < groups:
            raise UsageError(f"--class takes a value from 0 to {groups - 1}, got {class_}")
        x = sampler.labelled(n, seed, k=class_)[0]
    elif prior.groups() and out.suffix == ".png":
        latent = prior.fixed(n, seed)  # one row per class / code value
        x, cols = sampler.images(latent).cpu(), sampler.grid_cols(len(latent)) or cols
    else:
        x = sampler.samples(n, seed)
    if out.suffix == ".npy":
        np.save(out, x.numpy())
    elif sampler.kind == "points":
        _save_scatter_png(out, x.numpy(), sampler.real)
    else:
        from PIL import Image

        from ganterm.rundir.writer import tile_images

        if x is not None:
            images = to_uint8_images(x)
        mosaic = tile_images(images, cols=cols)
        Image.fromarray(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic).save(out)
        n = len(images)
    print(f"wrote {n} samples to {out}")


def _save_scatter_png(out: Path, pts, real, size: int = 400) -> None:
    """A plain scatter (real grey, generated orange) without matplotlib."""
    import numpy as np
    from PIL import Image

    both = pts if real is None else np.concatenate([pts, real])
    lim = float(np.abs(both).max()) * 1.1 or 1.0
    img = np.full((size, size, 3), 255, np.uint8)
    for arr, color in ((real, (160, 160, 160)), (pts, (230, 120, 20))):
        if arr is None:
            continue
        ij = ((arr / lim + 1) / 2 * (size - 1)).round().astype(int).clip(0, size - 1)
        img[size - 1 - ij[:, 1], ij[:, 0]] = color
    Image.fromarray(img).save(out)


def _trusted(model: str | None):
    """The model file `--model` names in this command (read and hashed now), or None."""
    if model is None:
        return None
    from ganterm.models.user_file import is_model_file, trust_model_file

    if not is_model_file(model):
        raise UsageError(
            f"--model {model!r}: here it names your model file (FILE.py:FUNCTION) to trust; "
            "a built-in model needs none"
        )
    return trust_model_file(model)


def _records_model_file(config: object) -> bool:
    from ganterm.models.user_file import is_model_file

    return isinstance(config, dict) and is_model_file(config.get("model"))


def _sampler(ckpt_data: dict, path: Path, trusted=None, command: str = "sample"):
    """The generator of a checkpoint whose format is right but whose contents may not fit together; a
    recorded model file builds only from the file `--model` named (else one line saying how)."""
    from ganterm.models.user_file import trusted_for
    from ganterm.training.sampling import Sampler

    config = ckpt_data.get("config")
    recorded = config.get("model") if isinstance(config, dict) else None
    model_file = trusted_for(recorded, trusted, str(path), f"ganterm {command} {path}")
    try:
        return Sampler.from_checkpoint(ckpt_data, model_file, str(path))
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        if model_file is not None and model_file.spec != recorded:
            raise CheckpointError(
                f"{path}: --model {model_file.spec} builds networks that do not match the checkpoint's "
                f"weights (the run was trained with {recorded}; {why})"
            ) from None
        if model_file is not None:  # the file was edited since the run
            raise CheckpointError(
                f"{path}: {recorded} no longer builds networks that match the checkpoint's weights ({why})"
            ) from None
        raise CheckpointError(f"{path}: the checkpoint's contents do not fit its model ({why})") from None


def _load_ckpt_arg(path: Path) -> dict:
    if not path.exists():  # before the torch import (~1 s)
        raise UsageError(f"no such checkpoint or run directory: {path}")
    from ganterm.training.checkpoint import load_checkpoint, newest_loadable

    if path.is_dir():
        found = newest_loadable(path)
        if found is None:
            raise UsageError(f"no loadable checkpoint in {path}")
        return found[1]
    return load_checkpoint(path)


@app.command("eval")
def eval_(
    ckpt: Annotated[
        Path, typer.Argument(help="A checkpoint (.pt) or a run directory (its newest checkpoint).")
    ],
    n: Annotated[int, typer.Option("--n", "-n", help="Samples to evaluate (PacGAN protocol: 2500).")] = 2500,
    seed: Annotated[int, typer.Option(help="Noise seed.")] = 0,
    data_dir: Annotated[
        str | None, typer.Option("--data-dir", help="Dataset cache (image data, FCD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    model: ModelOption = None,
) -> None:
    """Score a checkpoint: modes and high-quality samples for ring/grid (PacGAN), FCD for images."""
    import json

    if n <= 1:
        raise UsageError(f"--n must be an integer > 1, got {n}")
    trusted = _trusted(model)
    ckpt_data = _load_ckpt_arg(ckpt)
    sampler = _sampler(ckpt_data, ckpt, trusted, "eval")
    from ganterm.eval.quality import evaluate_checkpoint, format_quality

    result = evaluate_checkpoint(ckpt_data, n=n, seed=seed, data_dir=data_dir, sampler=sampler)
    print(json.dumps(result) if as_json else format_quality(result))
