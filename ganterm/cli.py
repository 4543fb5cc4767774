"""The `ganterm` command.

Heavy modules are imported inside each command: torch alone costs ~1 s, Textual ~0.15 s, and
`ganterm --help` must stay well under a quarter of a second.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ganterm.errors import CheckpointError, GantermError, UsageError

app = typer.Typer(
    name="ganterm",
    help="Train GANs and watch them learn, in the terminal: live loss charts, sample grids, checkpoints.\n\n"
    "Start with `ganterm train` (an embedded toy dataset, no download), then `ganterm view runs/...`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COLORS = ("auto", "truecolor", "256", "16", "none")


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"ganterm: error: {message}\n")
    raise SystemExit(code)


@app.command()
def train(
    dataset: Annotated[
        str,
        typer.Argument(
            help="ring, grid, shapes (embedded, no download), mnist, fashion-mnist, cifar10, folder:PATH "
            "or a directory of images. Default: shapes."
        ),
    ] = "shapes",
    algo: Annotated[
        str | None,
        typer.Option(
            help="gan (default), cgan (class-conditional: G and a projection D take the label), infogan "
            "(a 10-way and two continuous codes that Q recovers; key t sweeps them) or vae (the foil: "
            "reconstruction + KL, no discriminator). Each trains with no other flag."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="mlp, dcgan (images) or toy (2-D data); default per dataset. Or your own networks: "
            "FILE.py:FUNCTION, where FUNCTION(shape, z_dim) returns (G, D); G maps (N, z_dim) to "
            "(N, *shape), D returns one logit per sample. sample and view load the file again to rebuild G."
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
    colors: Annotated[
        str, typer.Option(help="Colour depth of the TUI: auto, truecolor, 256, 16, none.")
    ] = "auto",
    inject_nan_at: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Train a GAN and watch it live (a TUI on a terminal, a progress line otherwise)."""
    from ganterm.config import TrainConfig, parse_betas, parse_duration, parse_model_file, resolve

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
    if model is not None and parse_model_file(model) is not None:
        from ganterm.gan.user_models import absolute_spec

        model = absolute_spec(model)  # recorded absolute, so sample/view find it from anywhere
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
        extra=extra,
    )
    _check_dataset_name(dataset)
    cfg = resolve(cfg)
    if nproc is not None and nproc < 1:
        raise UsageError(f"--nproc {nproc}: give 1 or more processes")
    under_torchrun = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1
    if nproc is not None and nproc > 1 and not under_torchrun:
        from ganterm.launch import launch, without_option

        raise SystemExit(launch(nproc, ["train", *without_option(sys.argv[1:], "--nproc")[1:]]))
    dist = None
    if under_torchrun:
        from ganterm.gan.distributed import from_environment  # joins the process group (torch)

        dist = from_environment()
        if not dist.is_main:  # the monitor, the run directory and the progress line are rank 0's
            raise SystemExit(_train_headless(cfg, dist, quiet=True))
    if headless or not sys.stdout.isatty():
        raise SystemExit(_train_headless(cfg, dist))
    from ganterm.sysmon import SystemSampler
    from ganterm.tui.app import run_train_app  # ~0.15 s of Textual, only for the TUI

    system = SystemSampler().start()  # its own thread: CPU, memory, GPUs for the pane and system.jsonl
    try:
        code = run_train_app(cfg, None if colors == "auto" else colors, system, dist)
    finally:
        system.stop()
    raise SystemExit(code)


def _check_dataset_name(name: str) -> None:
    """Fail before any heavy import on a name that cannot be a dataset."""
    from ganterm.config import RECIPES

    if name.startswith("folder:"):
        folder = name[len("folder:") :]
        if not folder or not os.path.isdir(os.path.expanduser(folder)):
            raise UsageError(
                f"folder {folder!r} is not an existing directory; give folder:PATH, a folder of images"
            )
        return
    if name in RECIPES or os.path.isdir(name):
        return
    choices = [*[k for k in RECIPES if k != "folder"], "folder:PATH"]
    raise UsageError(f"unknown dataset {name!r}; choose one of: {', '.join(choices)}")


def _train_headless(cfg, dist=None, quiet: bool = False) -> int:
    """The progress line instead of the TUI; `quiet` (DDP ranks other than 0): training only."""
    from ganterm.gan.control import Control
    from ganterm.gan.feed import Feed
    from ganterm.gan.train import Trainer  # imports torch (~1 s)
    from ganterm.report import HeadlessReporter
    from ganterm.sysmon import SystemSampler

    feed, control = Feed(), Control()
    stop_on_signals(control)
    if quiet:
        try:
            Trainer(cfg, feed, control, dist=dist).run()
        finally:
            dist.close()
        return 0
    system = SystemSampler()
    system.record_run(feed)  # RUN/system.jsonl once the trainer has made RUN
    system.start()
    reporter = HeadlessReporter(feed, system=system)
    reporter.start()
    trainer = Trainer(cfg, feed, control, progress=True, evaluator=default_evaluator(), dist=dist)
    stop_serving = serve_run_commands(trainer, feed, control)  # `ganterm view RUN` can pause it over SSH
    try:
        trainer.run()
    except GantermError:
        raise
    except Exception as e:  # a network that raised mid-run (user code): one line, the checkpoint is kept
        if _is_out_of_memory(e) or os.environ.get("GANTERM_DEBUG"):
            raise
        from ganterm.gan.shape_check import stopped_line

        raise GantermError(stopped_line(e, trainer.step, trainer.last_checkpoint)) from None
    finally:
        stop_serving()
        reporter.stop()
        system.stop()
        if dist is not None:
            dist.close()
    return 0


# What a headless `ganterm train` accepts through RUN/commands/ beyond the built-ins (for status.json).
TRAINER_COMMANDS = (
    {"name": "swap_loss", "help": "swap the loss: minimax, ns, lsgan, wgan, wgan-gp, hinge", "arg": "str"},
    {"name": "rollback", "help": "restore the last good state, learning rates times VALUE", "arg": "float"},
)
STATUS_EVERY_S = 2.0


def serve_run_commands(trainer, feed, control):
    """A daemon thread: RUN/commands/ -> `control`, and the run's state -> RUN/status.json.

    It waits until the trainer has made its run directory. Returns the function that stops it (after a
    last status saying how the run ended). The trainer's own events (pause, resume, checkpoint, end)
    are the acknowledgements the viewer sees.
    """
    import contextlib
    import threading
    import time as _time

    from ganterm.commands_channel import BUILTIN_COMMANDS, CommandReceiver, write_status

    done = threading.Event()

    def forward(name: str, args: dict) -> None:
        if name in ("pause", "resume", "toggle_pause"):
            getattr(control, name)()
        elif name == "checkpoint":
            control.checkpoint("manual")
        elif name == "stop":
            control.stop(reason=str(args.get("reason", "viewer")))
        elif name == "swap_loss" and (args.get("value") or args.get("name")):
            control.swap_loss(str(args.get("value") or args.get("name")))
        elif name == "rollback":
            try:
                lr_scale = float(args.get("value", args.get("lr_scale", 1.0)))
            except (TypeError, ValueError):
                return
            control.rollback(lr_scale=lr_scale, loss=args.get("loss"))

    def status(run_dir: Path) -> None:
        snap = feed.snapshot
        record = {
            "source": "ganterm train",
            "state": snap.state,
            "step": snap.step,
            "commands": [*BUILTIN_COMMANDS, *TRAINER_COMMANDS],
        }
        # The run directory may be gone for now; the trainer recreates it at its next checkpoint.
        with contextlib.suppress(OSError):
            write_status(run_dir, record)

    def serve() -> None:
        while trainer.run_dir is None:
            if done.wait(0.2):
                return
        run_dir = Path(trainer.run_dir)
        try:
            receiver = CommandReceiver(run_dir)
        except OSError:
            return
        shown, beat = None, 0.0
        while True:
            for cmd in receiver.poll():
                forward(cmd.name, cmd.args)
            now = _time.monotonic()
            if feed.snapshot.state != shown or now - beat >= STATUS_EVERY_S:
                shown, beat = feed.snapshot.state, now
                status(run_dir)
            if done.wait(0.25):
                status(run_dir)  # the last word: finished, stopped or error
                return

    thread = threading.Thread(target=serve, name="run-commands", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(timeout=5)

    return stop


def default_evaluator():
    """The trainer's quality figures (PacGAN modes, FCD, class and code accuracy), handed in so the
    training loop itself imports no evaluation code."""
    from ganterm.eval.quality import evaluate_sampler

    return evaluate_sampler


def stop_on_signals(control) -> None:
    """Ctrl-C, SIGTERM and SIGHUP (the SSH connection dropped) all finish the step, checkpoint, exit 0.

    A second signal while stopping is ignored: the final checkpoint must not be torn by impatience.
    """

    def handler(signum: int, _frame: object) -> None:
        control.stop(reason=signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, handler)


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
) -> None:
    """Browse a checkpoint's curves and samples, or follow a run directory while it trains; compare runs."""
    from ganterm.gan.multirun import find_runs, is_run_dir

    if colors not in COLORS:
        raise UsageError(f"unknown --colors {colors!r}; choose one of: {', '.join(COLORS)}")
    path = paths[0]
    single = len(paths) == 1 and (path.is_file() or is_run_dir(path) or not path.is_dir())
    if single and not path.exists():
        raise UsageError(f"no such checkpoint or run directory: {path}")
    runs = [path] if single else find_runs(paths)
    for run in runs:
        if run.is_file():
            from ganterm.gan.checkpoint import load_checkpoint

            ckpt = load_checkpoint(run)  # refuse bad or hostile files before any screen is drawn
            from ganterm.config import parse_model_file

            if parse_model_file(str((ckpt.get("config") or {}).get("model"))):
                _sampler(ckpt, run)  # the user's model file (--model FILE.py:FN) must still build G
    color_arg = None if colors == "auto" else colors
    if single:
        from ganterm.tui.app import run_view_app

        raise SystemExit(run_view_app(path, color_arg))
    from ganterm.tui.app import run_compare_app

    raise SystemExit(run_compare_app(runs, color_arg))


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
    ckpt_data = _load_ckpt_arg(ckpt)
    from ganterm.gan.sampling import to_uint8_images

    sampler = _sampler(ckpt_data, ckpt)
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

        from ganterm.gan.rundir import tile_images

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


def _sampler(ckpt_data: dict, path: Path):
    """The generator of a checkpoint whose format is right but whose contents may not fit together."""
    from ganterm.gan.sampling import Sampler

    try:
        return Sampler.from_checkpoint(ckpt_data)
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        model = str((ckpt_data.get("config") or {}).get("model"))
        if ":" in model:  # `--model FILE.py:FUNCTION`: the file was edited since the run
            raise CheckpointError(
                f"{path}: {model} no longer builds networks that match the checkpoint's weights ({why})"
            ) from None
        raise CheckpointError(f"{path}: the checkpoint's contents do not fit its model ({why})") from None


def _load_ckpt_arg(path: Path) -> dict:
    if not path.exists():  # before the torch import (~1 s)
        raise UsageError(f"no such checkpoint or run directory: {path}")
    from ganterm.gan.checkpoint import load_checkpoint, newest_loadable

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
) -> None:
    """Score a checkpoint: modes and high-quality samples for ring/grid (PacGAN), FCD for images."""
    import json

    if n <= 1:
        raise UsageError(f"--n must be an integer > 1, got {n}")
    ckpt_data = _load_ckpt_arg(ckpt)
    from ganterm.eval.quality import evaluate_checkpoint, format_quality

    result = evaluate_checkpoint(ckpt_data, n=n, seed=seed, data_dir=data_dir)
    print(json.dumps(result) if as_json else format_quality(result))


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
    from ganterm.export import export_run  # Pillow only, no torch

    report = export_run(
        run, gif=gif, png_dir=png_dir, csv_out=csv, fps=fps, scale=scale, every=every, max_frames=max_frames
    )
    for line in report.warnings:
        sys.stderr.write(f"ganterm: warning: {line}\n")
    for line in report.lines:
        print(line)


def main() -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    from typer import Abort
    from typer._click.exceptions import ClickException

    try:
        app(standalone_mode=False)
    except GantermError as e:
        if os.environ.get("RANK", "0") not in ("", "0") and not getattr(e, "every_rank", False):
            raise SystemExit(e.exit_code) from None  # rank 0 says it once for the whole run
        _fail(str(e), e.exit_code)
    except ClickException as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if getattr(e, "ctx", None) else ""
        _fail(e.format_message().replace("\n", " ") + hint, e.exit_code)
    except (Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None
    except OSError as e:
        _fail(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "), 1)
    except Exception as e:
        if _is_out_of_memory(e):
            _fail(OUT_OF_MEMORY, 1)
        if os.environ.get("GANTERM_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [""])[0][:200]
        _fail(f"internal error: {type(e).__name__}: {first} (run with GANTERM_DEBUG=1 for the traceback)", 1)


OUT_OF_MEMORY = (
    "the GPU ran out of memory; lower --batch-size or --image-size, use a smaller model (--model mlp), "
    "or try --precision bf16 (the last good checkpoint is in the run directory)"
)


def _is_out_of_memory(e: BaseException) -> bool:
    """torch.OutOfMemoryError, recognised without importing torch when no command did."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return oom is not None and isinstance(e, oom)
