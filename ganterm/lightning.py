"""PyTorch Lightning into ganterm: a Logger writing a run directory, and a Callback the viewer steers.

    from ganterm.lightning import GantermControl, GantermLogger

    trainer = lightning.Trainer(logger=GantermLogger("runs/lit-gan"), callbacks=[GantermControl()])
    trainer.fit(model, data)          # meanwhile: ganterm view runs/lit-gan  (p pause, c checkpoint, z stop)

`GantermLogger` is built on `ganterm.Run`: metrics go to metrics.jsonl (the GAN names scripts use,
`loss_d`, `errD`, `D(x)`..., become ganterm's own so the GAN charts appear), hyperparameters to
config.json, and images logged through `logger.log_image(key, images, step)` to samples/. Lightning's own
checkpoints go to RUN/checkpoints/ (as .ckpt files, which the viewer does not load). `GantermControl`
obeys pause, stop and checkpoint at batch boundaries (a checkpoint through `trainer.save_checkpoint`) and
registers `:` commands: `lr VALUE` sets every optimizer's learning rate, plus any given to it.
Only a user who has Lightning imports this module (`pip install 'ganterm[lightning]'`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from ganterm.run import Run
from ganterm.rundir.tensorboard import metric_name

SKIPPED = ("epoch",)  # Lightning adds it to every row; the header's step says as much


class GantermLogger(Logger):
    """A Lightning `Logger` writing a ganterm run directory at `run_dir` (`ganterm view run_dir`)."""

    def __init__(self, run_dir: str | Path, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.path = Path(run_dir)
        self._config: dict[str, Any] = {"source": "ganterm.lightning", **(config or {})}
        self._run: Run | None = None

    # -- what Lightning asks of a logger ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def version(self) -> str:
        return ""  # ModelCheckpoint then saves in save_dir/name/checkpoints: RUN/checkpoints

    @property
    def save_dir(self) -> str:
        return str(self.path.parent)

    @property
    def log_dir(self) -> str:
        return str(self.path)

    @property
    def experiment(self) -> Run:
        """The `ganterm.Run` behind this logger (created on first use)."""
        if self._run is None:
            self._run = Run(self.path, config=self._config)
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        params = params if isinstance(params, Mapping) else vars(params)  # a dict or an argparse Namespace
        self._config.setdefault("hparams", {}).update({str(k): _plain(v) for k, v in params.items()})
        for key in ("dataset", "model", "loss", "steps"):
            if key in params:
                self._config[key] = _plain(params[key])
        if self._run is not None:  # config.json was written when the run began: rewrite it
            _write_json(self.path / "config.json", {**_read_json(self.path / "config.json"), **self._config})

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        run = self.experiment
        row = {metric_name(k): v for k, v in metrics.items() if k not in SKIPPED}
        if row:
            run.log(run.step if step is None else int(step), **row)

    @rank_zero_only
    def log_image(self, key: str, images: Any, step: int | None = None, **kwargs: Any) -> None:
        """A batch (N x C x H x W, or a list of C x H x W images) as one sample grid at `step`."""
        if isinstance(images, (list, tuple)):
            import torch

            images = torch.stack([torch.as_tensor(i) for i in images])
        run = self.experiment
        run.images(run.step if step is None else int(step), images)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None:
            run = self._run
            run.close(None if status == "success" else "stopped" if run.stopped else "error")

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        path = getattr(checkpoint_callback, "last_model_path", "") or getattr(
            checkpoint_callback, "best_model_path", ""
        )
        if path and self._run is not None:
            self._run.event("checkpoint", f"Lightning checkpoint {Path(path).name}", path=str(path))


class GantermControl(Callback):
    """Pause, checkpoint and stop from `ganterm view RUN` at batch boundaries, and `:` commands.

    `commands`: more `:` commands, name -> (help, arg type or None, callback(trainer, module[, value])).
    """

    def __init__(
        self,
        lr: bool = True,
        commands: Mapping[str, tuple[str, type | None, Callable[..., Any]]] | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self.lr = lr
        self.extra = dict(commands or {})
        self.poll_interval = poll_interval
        self.run: Run | None = None
        self._trainer: Any = None
        self._module: Any = None
        self._polled = 0.0
        self.checkpoints: list[Path] = []

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, GantermLogger)]
        if not loggers:
            raise ValueError("GantermControl needs a GantermLogger among the Trainer's loggers")
        if not trainer.is_global_zero:
            return
        self.run = loggers[0].experiment
        self._trainer, self._module = trainer, pl_module
        if self.lr:
            self._register("lr", "set every optimizer's learning rate", float, self._set_lr)
        for name, (help_, arg, fn) in self.extra.items():
            self._register(name, help_, arg, fn)

    def _register(self, name: str, help_: str, arg: type | None, fn: Callable[..., Any]) -> None:
        assert self.run is not None
        try:
            if arg is None:
                self.run.command(name, help_, None, on=lambda: fn(self._trainer, self._module))
            else:
                self.run.command(name, help_, arg, on=lambda v: fn(self._trainer, self._module, v))
        except ValueError:
            pass  # registered by an earlier fit with the same logger

    @staticmethod
    def _set_lr(trainer: Any, module: Any, value: float) -> None:
        for opt in trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = value

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        run = self.run
        if run is None:
            return
        now = time.monotonic()
        if now - self._polled < self.poll_interval:
            return
        self._polled = now
        self._obey(trainer, run)
        if run.paused and not run.stopped:
            run.wait_while_paused()  # blocks here, between two batches, until resume or stop
            self._obey(trainer, run)
        if run.stopped:
            trainer.should_stop = True

    def _obey(self, trainer: Any, run: Run) -> None:
        for cmd in run.commands():
            if cmd.name == "checkpoint":
                self.save(trainer)

    def save(self, trainer: Any) -> Path:
        """A Lightning checkpoint in RUN/checkpoints/, now (what the viewer's `c` does)."""
        assert self.run is not None
        path = self.run.checkpoints / f"step_{trainer.global_step:07d}.ckpt"
        trainer.save_checkpoint(path)
        self.checkpoints.append(path)
        self.run.event("checkpoint", f"saved {path.name}", path=str(path))
        return path


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
