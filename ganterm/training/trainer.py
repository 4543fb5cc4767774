"""The training loop: commands, cadence, publishing, checkpoints, rollback. It knows no algorithm.

What is trained and how (GAN, cGAN, InfoGAN, VAE) is the algorithm's (`gan/algorithms/`); what is
saved and restored is the training state's (`training/state.py`); quality figures come from an evaluator
the caller hands in. The loop imports no UI and no evaluation code. Under the TUI it runs in a worker
thread; headless it runs in the main thread. The only host syncs are at publish time (every
`publish_every` steps), except on the CPU where checking each step for NaN costs nothing and lets us
catch a NaN at the step it happens.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganterm import __version__
from ganterm.algos.catalog import Algorithm, StepContext, build_algorithm
from ganterm.algos.losses import get_loss
from ganterm.algos.prior import Latent
from ganterm.channel.control import Command, Control
from ganterm.channel.feed import Feed
from ganterm.channel.history import MetricHistory
from ganterm.config import TrainConfig, recipe_key
from ganterm.errors import GantermError, UsageError, first_line
from ganterm.models.shape_check import check_shapes
from ganterm.rundir.files import RunDirWriter, default_run_dir
from ganterm.training.budget import TimeBudget
from ganterm.training.checkpoint import load_checkpoint, save_checkpoint, to_numpy_tree
from ganterm.training.device import has_fast_bf16, pick_device
from ganterm.training.ema import EMA
from ganterm.training.ranks import Exchange, RankLostError, Solo
from ganterm.training.sampling import Sampler
from ganterm.training.schedule import lr_factor
from ganterm.training.state import TrainingState, plain

__all__ = ["UNKNOWN_TOTAL", "Evaluator", "Trainer", "has_fast_bf16", "pick_device"]

# The step total of a time-budgeted run before its speed is known: far enough that every schedule
# (rate decay, instance noise) is still at its start.
UNKNOWN_TOTAL = 2**31 - 1

# (sampler, dataset, seed, device) -> quality figures by name; see ganterm.eval.quality.evaluate_sampler
Evaluator = Callable[..., dict[str, float]]

RECON_IMAGES = 32  # real images kept for a VAE's reconstructions view


def _plain_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The str / int / float / bool entries: what a weights_only checkpoint can hold without doubt."""
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))}


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        feed: Feed | None = None,
        control: Control | None = None,
        *,
        progress: bool = False,
        evaluator: Evaluator | None = None,
        dist: Solo | None = None,
        data: Any = None,
        networks: tuple[torch.nn.Module, torch.nn.Module] | None = None,
    ) -> None:
        """`data` and `networks` (ganterm.fit's): a dataset and (G, D) in place of the registry's."""
        self.cfg = cfg
        self._given_data, self._given_networks = data, networks
        # This process's place in a DDP run (Solo: the only one). Rank 0 owns the feed's consumers, the
        # run directory and checkpoints; every rank trains, and all apply rank 0's decisions together.
        self.dist = dist or Solo()
        cfg.world_size = self.dist.world_size
        self._expired = False  # the time budget's verdict as rank 0 last sent it (DDP)
        self._stop_agreed = False  # a stop every rank has heard of (DDP)
        self._rank_rngs: list[Any] = []
        self._setup_notes: list[str] = []  # said once the run directory exists
        self._metrics_finite = True  # the last published metric row (all ranks hold the same, averaged)
        self.progress = progress  # rich download/decode bars on stderr (headless); else the feed's message
        self.feed = feed or Feed()
        self.control = control or Control()
        self.evaluator = evaluator
        self.run_dir: Path | None = None
        self.paused = False
        self.last_checkpoint: Path | None = None
        self._saved_step = -1
        self._rate = 0.0
        self.state: TrainingState | None = None
        self.view_spec: dict[str, Any] | None = None  # the extra sample view the UI asked for

    @property
    def step(self) -> int:
        return self.state.step if self.state is not None else 0

    # ------------------------------------------------------------------------------------------
    # setup: device, data, algorithm and its networks (scratch or resume), fixed latents, run dir
    # ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.feed.update(state="starting", message="loading data and building models ...")
        resume_ckpt = load_checkpoint(cfg.resume) if cfg.resume else None
        if resume_ckpt is not None:
            self._check_resume_config(resume_ckpt)
        self.device = self.dist.device(pick_device(cfg.device))
        if recipe_key(cfg.dataset) in ("ring", "grid") and "OMP_NUM_THREADS" not in os.environ:
            # 2-D toy MLPs are far too small to split across cores; a second thread only waits (and on a
            # busy machine made ring ~50x slower). Fixed per dataset, so a resumed run computes the same.
            torch.set_num_threads(1)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.data = self._given_data if self._given_data is not None else self._load_data()
        gen = torch.Generator(device=self.data.device if self.data.data is not None else self.device)
        gen.manual_seed(self.dist.rank_seed(cfg.seed))  # each rank draws its own batches

        self.algo: Algorithm = build_algorithm(cfg, self.data.shape, self.data.n_classes)
        if self._given_networks is not None:
            self.algo.networks = self._given_networks  # the algorithm wraps them as it wraps its own
        self.state = self._build_state(gen)
        self.algo.setup(self.state)
        # one batch through G and D: a network that does not fit the data fails here, in one line
        nets = {name: plain(m) for name, m in self.state.modules.items()}
        check_shapes(self.algo, nets, self.data, int(cfg.batch_size), self.device)
        self.prior = self.algo.prior

        n_fixed = cfg.n_samples if self.data.kind == "images" else 1000
        fixed = self.prior.fixed(n_fixed, cfg.seed + 1).to(self.device)
        real_preview = recon = None
        if self.data.kind == "points":
            real_preview = (
                self.data.sample(1000, torch.Generator(gen.device).manual_seed(cfg.seed + 2))
                .float()
                .cpu()
                .numpy()
            )
        if "recon" in self.algo.views:
            recon = self.data.sample(
                RECON_IMAGES, torch.Generator(gen.device).manual_seed(cfg.seed + 3)
            ).float()
        self.autocast_dtype = self._autocast_dtype()
        self.sampler = Sampler(
            self.algo,
            self.state.sampling_modules(),
            fixed,
            self.data.kind,
            0,
            real_preview,
            recon,
            device=self.device,
            autocast=self.autocast_dtype,
        )

        self.step_cap = self._step_cap()
        self.budget = TimeBudget(float(cfg.time_limit)) if cfg.time_limit else None
        self.total_steps = self._total_steps()
        self.steps_per_epoch = max(1, self.data.size // int(cfg.batch_size))
        self.swaps: list[dict[str, Any]] = []
        self.history = MetricHistory(tuple(self.algo.metrics))
        self.health = self._make_health()
        self.good_state: dict[str, Any] | None = None
        if cfg.compile:
            for name, net in list(self.state.modules.items()):
                self.state.modules[name] = torch.compile(net)  # type: ignore[assignment]

        if resume_ckpt is not None:
            self._restore(resume_ckpt)
        out = (
            Path(cfg.out)
            if cfg.out
            else (
                Path(cfg.resume).resolve().parent.parent
                if cfg.resume and self._is_run_ckpt(Path(cfg.resume))
                else default_run_dir(cfg.dataset, str(cfg.model))
            )
        )
        self.writer = (
            RunDirWriter(out, self._config_record(), resume=resume_ckpt is not None)
            if self.dist.is_main
            else None
        )
        self.run_dir = out
        self.feed.replace_history(self.history)
        self.feed.update(
            state="running",
            message="",
            dataset=cfg.dataset,
            model=str(cfg.model),
            algo=self.algo.name,
            loss=self._loss_name(),
            layout=self.algo.layout,
            views=tuple(self.algo.views),
            prior=self.prior.to_dict(),
            device=str(self.device)
            if self.dist.world_size == 1
            else f"{self.device} ×{self.dist.world_size}",
            total_steps=0 if self.total_steps == UNKNOWN_TOTAL else self.total_steps,
            run_dir=str(out),
            step=self.step,
        )
        what = f"resumed from {cfg.resume} at step {self.step}" if resume_ckpt else "started"
        family = f"{self.algo.name} / {cfg.model}" + (f" / {self._loss_name()}" if self.algo.loss else "")
        self._event(
            "start",
            f"{what}: {cfg.dataset} / {family} on {self._where()}{self._data_note()}",
            run_dir=str(out),
            world_size=self.dist.world_size,
            global_batch=self.dist.world_size * int(cfg.batch_size),
        )
        for note in self._setup_notes:
            self._event("info", note)

    def _where(self) -> str:
        if self.dist.world_size == 1:
            return str(self.device)
        n, b = self.dist.world_size, int(self.cfg.batch_size)
        return (
            f"{n} processes ({self.dist.backend}, {self.device.type}), global batch {n * b} ({b} per process)"
        )

    def _load_data(self) -> Any:
        from ganterm.data.progress import LineProgress
        from ganterm.data.registry import load_dataset

        cfg = self.cfg
        self.feed.update(message=f"loading dataset {cfg.dataset} ...")
        data = load_dataset(
            cfg.dataset,
            image_size=cfg.image_size or None,
            channels=cfg.channels or None,
            data_dir=cfg.data_dir,
            # Under the TUI a stderr bar would tear the screen: the header line shows progress instead.
            progress=self.progress or LineProgress(lambda line: self.feed.update(message=line)),
            seed=cfg.seed,
        )
        if self.device.type != "cpu" and data.data is not None and self._fits_on_device(data.data):
            data = data.to(self.device)  # whole dataset on the GPU: no host-to-device copy per batch
        return data

    def _build_state(self, gen: torch.Generator) -> TrainingState:
        """The algorithm's networks on the device, an Adam per optimizer group, weight averages."""
        cfg = self.cfg
        nets = self.algo.build()
        for net in nets.values():
            net.to(self.device)
            if len(self.data.shape) == 3 and self.device.type in ("cpu", "cuda"):
                # NHWC weights let oneDNN / cuDNN run the convs without a layout reorder around each one.
                net.to(memory_format=torch.channels_last)
        betas = tuple(cfg.betas)  # type: ignore[arg-type]
        # One fused kernel per optimizer step (CPU and CUDA); MPS keeps the multi-tensor path.
        fused = self.device.type in ("cpu", "cuda")
        state = TrainingState(nets, {}, gen)
        for name, (members, lr) in self.algo.optimizer_groups().items():
            state.optimizers[name] = torch.optim.Adam(
                state.params(*members),
                lr=lr,
                betas=betas,
                fused=fused or None,
                foreach=None if fused else True,
            )
        if cfg.g_ema:
            # Samples, evaluation and `ganterm sample` use the weight average when there is one.
            state.emas = {name: EMA(nets[name], float(cfg.g_ema)) for name in self.algo.ema_networks()}
        # Under DDP the step calls the wrapped networks (gradients averaged in backward); samples,
        # averages and state dicts reach the plain ones (`plain`). The optimizers hold the same parameters.
        unused = self._parameters_without_gradient(nets) if self.dist.world_size > 1 else {}
        for name, params in unused.items():
            shown = ", ".join(params[:3]) + (f" and {len(params) - 3} more" if len(params) > 3 else "")
            self._setup_notes.append(
                f"{name} has parameters that get no gradient ({shown}): DDP looks for unused "
                "parameters in each of its backward passes (find_unused_parameters)"
            )
        state.modules = {
            name: self.dist.wrap(net, bool(cfg.sync_bn), find_unused=name in unused)
            for name, net in nets.items()
        }
        return state

    def _parameters_without_gradient(self, nets: dict[str, torch.nn.Module]) -> dict[str, list[str]]:
        """Names of each network's trainable parameters that one step of the algorithm leaves without a
        gradient. DDP must be told of those (or it waits for their gradients for ever and fails at the
        next step); looking for them in every backward costs a graph walk, so only networks that have
        some pay it. The step runs once on copies, with a rate of 0 and its own RNG."""
        import copy

        probe = TrainingState(copy.deepcopy(nets), {}, torch.Generator(self.device).manual_seed(0))
        for name, (members, _) in self.algo.optimizer_groups().items():
            probe.optimizers[name] = torch.optim.SGD(probe.params(*members), lr=0.0)
        self.algo.setup(probe)
        ctx = StepContext(
            batch=lambda n: tuple(
                None if t is None else t.to(self.device) for t in self.data.sample_xy(n, probe.gen)
            ),  # type: ignore[arg-type]
            batch_size=min(int(self.cfg.batch_size), 16),
            device=self.device,
            autocast=None,
            step=0,
        )
        self.algo.step(probe, ctx)
        return {
            name: missing
            for name, net in probe.modules.items()
            if (missing := [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None])
        }

    def _loss_name(self) -> str:
        return self.algo.loss.name if self.algo.loss is not None else ""

    def _data_note(self) -> str:
        """What a folder run read off its images (size, colour, class folders), for the start event."""
        if "classes" not in self.data.info or recipe_key(self.cfg.dataset) != "folder":
            return ""
        shape = self.data.shape
        parts = [f"{shape[1]}x{shape[2]} {'grey' if shape[0] == 1 else 'colour'}"]
        derived = self.cfg.extra.get("derived")
        if derived:
            parts[0] += f" ({derived})"
        classes = self.data.info["classes"]
        parts.append(
            f"{len(classes)} classes from sub-folders" if classes else "no labels (a flat folder: no FCD)"
        )
        if self.cfg.time_limit:
            parts.append(f"time budget {self.cfg.time_limit:g} s")
        return "; " + "; ".join(parts)

    @staticmethod
    def _is_run_ckpt(p: Path) -> bool:
        return (
            p.resolve().parent.name == "checkpoints" and (p.resolve().parent.parent / "config.json").exists()
        )

    def _fits_on_device(self, x: torch.Tensor) -> bool:
        if self.device.type != "cuda":
            return True
        free, _ = torch.cuda.mem_get_info(self.device)
        return x.numel() * x.element_size() < 0.4 * free

    def _autocast_dtype(self) -> torch.dtype | None:
        """bf16 autocast for the forward passes, or None for plain fp32 (bit-reproducible on the CPU).

        "auto" picks bf16 where it was measured to pay: image models on hardware with native bf16
        (1.5-1.7x on a Zen 5 CPU, benchmarks/README.md). The 2-D toy models keep fp32: not measured to
        gain, and their quality figures measure distances of a few hundredths.
        """
        p = self.cfg.precision
        if p == "bf16" or (p == "auto" and self.data.kind == "images" and has_fast_bf16(self.device)):
            return torch.bfloat16
        return None

    def _step_cap(self) -> int | None:
        """The last step --steps or --epochs allow; None when only a time budget ends the run."""
        cfg = self.cfg
        if cfg.epochs is not None:
            return max(1, math.ceil(cfg.epochs * self.data.size / int(cfg.batch_size)))
        if cfg.steps is None and cfg.time_limit is not None:
            return None
        return int(cfg.steps or 1)

    def _total_steps(self) -> int:
        """The step total the schedules and the progress bar use: the cap, or the budget's estimate."""
        cap = self.step_cap
        if self.budget is None:
            return int(cap or 1)
        estimate = self.budget.estimate_total(self.step)
        if estimate is None:  # no step timed yet: schedules stay at their start until one is
            return cap if cap is not None else UNKNOWN_TOTAL
        return min(cap, estimate) if cap is not None else estimate

    def _make_health(self) -> Any:
        from ganterm.training.health import HealthMonitor

        return HealthMonitor()

    def _config_record(self) -> dict[str, Any]:
        rec = self.cfg.to_dict()
        rec.update(
            ganterm_version=__version__,
            data_shape=list(self.data.shape),
            data_kind=self.data.kind,
            total_steps=None if self.total_steps == UNKNOWN_TOTAL else self.total_steps,
            device_resolved=str(self.device),
            world_size=self.dist.world_size,
            layout=self.algo.layout.to_dict(),
            prior=self.prior.to_dict(),
            views=list(self.algo.views),
        )
        return rec

    # Hyper-parameters that change what a resumed run computes; the rest (steps, out, device...) may differ.
    _RESUME_KEYS = (
        "dataset",
        "algo",
        "model",
        "z_dim",
        "batch_size",
        "image_size",
        "channels",
        "model_options",
    )

    def _check_resume_config(self, ckpt: dict[str, Any]) -> None:
        saved = TrainConfig.from_dict(ckpt["config"])
        for key in self._RESUME_KEYS:
            a, b = getattr(saved, key), getattr(self.cfg, key)
            if key == "model_options":  # checkpoints from before the field hold None
                a, b = a or {}, b or {}
            if key == "algo":  # checkpoints from before the field are GANs
                a, b = a or "gan", b or "gan"
            if a != b:
                raise UsageError(
                    f"--resume: checkpoint has {key}={a!r} but this run asks {key}={b!r}; "
                    f"drop the option or pass --{key.replace('_', '-')} {a}"
                )

    # ------------------------------------------------------------------------------------------
    # state: checkpoint payloads, resume, in-memory rollback
    # ------------------------------------------------------------------------------------------
    def state_payload(self) -> dict[str, Any]:
        assert self.state is not None
        last = self.feed.frames()
        return {
            "ganterm_version": __version__,
            "config": self.cfg.to_dict(),
            "algo": self.algo.name,
            "total_steps": self.total_steps,
            "epoch": self.step / self.steps_per_epoch,
            "data_kind": self.data.kind,
            "data_shape": list(self.data.shape),
            "prior": self.prior.to_dict(),
            "layout": self.algo.layout.to_dict(),
            "views": list(self.algo.views),
            **self.algo.state_extra(),
            "lrs": self.state.lrs(),
            "swaps": list(self.swaps),
            # plain values of each event's data come along (a swap's "to" labels its chart marker in view)
            "events": [
                {**_plain_fields(e.data), "step": e.step, "kind": e.kind, "message": e.message}
                for e in self.feed.events()[-200:]
            ],
            **self.state.state_dict(self.device),  # modules, emas, optimizers, lr_factor, step, rng
            "world_size": self.dist.world_size,
            # every rank's RNG, so a run resumed on as many processes continues exactly (rank 0's is "rng")
            "rank_rngs": self._rank_rngs if self.dist.world_size > 1 else None,
            "fixed_latent": self.sampler.fixed_latent.state_dict(),
            "real_preview": self.sampler.real,
            "recon_batch": None if self.sampler.recon_batch is None else self.sampler.recon_batch.cpu(),
            "history": self.history.state_dict(),
            "samples": last[-1].data if last and last[-1].kind == "images" else None,
            "health": self.health.state_dict(),
            "saved_at": time.time(),
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        assert self.state is not None
        try:
            self.state.load_state_dict(ckpt, self.device)
        except (KeyError, RuntimeError) as e:
            raise UsageError(
                f"--resume: the checkpoint's networks do not fit this run ({first_line(e, 160)})"
            ) from None
        self._restore_rank_rng(ckpt)
        self.sampler.fixed_latent = Latent.from_state_dict(ckpt["fixed_latent"]).to(self.device)
        if ckpt.get("recon_batch") is not None:
            self.sampler.recon_batch = ckpt["recon_batch"].float().to(self.device)
        if self.algo.loss is not None:
            name = ckpt.get("loss_name")
            if name and name != self.algo.loss.name and not self.cfg.extra.get("loss_given"):
                self.algo.loss = get_loss(str(name))
            self.algo.n_critic = int(ckpt.get("n_critic", self.algo.n_critic))
        self.swaps = list(ckpt.get("swaps", []))
        if ckpt.get("history"):
            self.history = MetricHistory.from_state_dict(to_numpy_tree(ckpt["history"]))
        if ckpt.get("health"):
            self.health.load_state_dict(ckpt["health"])

    def _restore_rank_rng(self, ckpt: dict[str, Any]) -> None:
        """Rank r > 0 continues its own batch stream when the checkpoint has one for it (same world size);
        otherwise (resumed on more processes than saved it) it starts a fresh stream of its own."""
        assert self.state is not None
        if self.dist.rank == 0:
            return
        saved = ckpt.get("rank_rngs") or []
        if len(saved) == self.dist.world_size:
            self.state.load_rng_state(saved[self.dist.rank], self.device)
        else:
            self.state.gen.manual_seed(self.dist.rank_seed(int(self.cfg.seed)) + self.state.step)

    def _remember_good_state(self) -> None:
        """An in-memory copy to roll back to without touching the disk."""
        assert self.state is not None
        self.good_state = self.state.snapshot()

    # ------------------------------------------------------------------------------------------
    # the loop
    # ------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Set up, train until done or stopped, always finish with a checkpoint of the last good state."""
        try:
            self.setup()
        except GantermError as e:
            self.feed.update(state="error", message=str(e))
            self.feed.event("error", str(e))
            raise
        try:
            self._loop()
        except RankLostError as e:
            self.feed.update(state="error", message=str(e))
            self._event("error", f"training stopped: {e}")
            last = self._save("error") or self.last_checkpoint  # rank 0 writes its weights alone
            where = f"; last checkpoint: {last}" if last else ""
            raise RankLostError(f"{e}; stopped at step {self.step}{where}") from None
        except Exception as e:
            self.feed.update(state="error", message=f"{type(e).__name__}: {e}")
            self._event("error", f"training stopped by {type(e).__name__}: {e}")
            self._save("error")  # never lose what was trained
            raise
        finally:
            if self.writer is not None:
                self.writer.close()

    def _loop(self) -> None:
        assert self.state is not None
        cfg = self.cfg
        pending: list[torch.Tensor] = []
        pending_steps: list[int] = []
        # On the CPU a NaN is caught at its step; under DDP only at publish time, when every rank does.
        check_each_step = self.device.type == "cpu" and self.dist.world_size == 1
        t_last, step_last = time.perf_counter(), self.step
        self._rate = 0.0
        self._publish_samples()
        self._remember_good_state()
        inject_nan_at = cfg.extra.get("inject_nan_at")
        stop_reason = "finished"
        if self.budget is not None:
            self.budget.start(self.step)
            self.total_steps = self._total_steps()
        while not self._done():
            if self._apply_commands(self._exchange(pending_steps)) == "stop" or self._stop_asked():
                stop_reason = "stopped"
                break
            if self.paused:
                if self.budget is not None:
                    self.budget.pause()  # a paused run spends none of its time budget
                waited = self._wait_paused()
                if self.budget is not None:
                    self.budget.resume()
                t_last, step_last = time.perf_counter(), self.step  # a pause is not slow training
                if waited == "stop":
                    stop_reason = "stopped"
                    break
                continue

            self._decay_lr()
            nan = inject_nan_at is not None and self.step + 1 == inject_nan_at
            metrics = self.train_step(int(cfg.batch_size), nan=nan)
            self.state.step += 1
            pending.append(metrics)
            pending_steps.append(self.step)
            nonfinite = check_each_step and not bool(torch.isfinite(metrics).all())
            last = self._done()
            if nonfinite or len(pending) >= cfg.publish_every or last:
                now = time.perf_counter()
                rate_now = (self.step - step_last) / max(now - t_last, 1e-9)
                self._rate = rate_now if self._rate == 0 else 0.7 * self._rate + 0.3 * rate_now
                t_last, step_last = now, self.step
                self._flush(pending_steps, pending)
                pending, pending_steps = [], []
                if self.paused or self._stop_asked():
                    continue
            if self.step % int(cfg.sample_every) == 0:
                self._publish_samples()
            if self.step % int(cfg.ckpt_every) == 0:
                self._save("periodic")
            if cfg.eval_every and self.step % int(cfg.eval_every) == 0:
                self._evaluate()
        if self.budget is not None and stop_reason == "finished":
            self.total_steps = self.step  # the budget is spent: this is the run's last step
        if pending:
            self._flush(pending_steps, pending)
        self._publish_samples()
        self._save("final" if stop_reason == "finished" else "stop")
        state = "finished" if stop_reason == "finished" else "stopped"
        self.feed.update(state=state, eta_s=0.0 if state == "finished" else None)
        self._event("end", f"{state} at step {self.step}", reason=stop_reason)

    def train_step(self, batch_size: int, nan: bool = False) -> torch.Tensor:
        """One step of the algorithm; returns its metric row as one tensor (no host sync)."""
        assert self.state is not None
        ctx = StepContext(
            batch=self._batch,
            batch_size=batch_size,
            device=self.device,
            autocast=self.autocast_dtype,
            step=self.step,
            instance_noise=self.instance_noise_std(),
            inject_nan=nan,
        )
        row = self.algo.step(self.state, ctx)
        self.state.update_emas()
        return row

    def _batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        assert self.state is not None
        x, y = self.data.sample_xy(n, self.state.gen)
        x = x.to(self.device, non_blocking=True)
        return x, None if y is None else y.to(self.device, non_blocking=True)

    def _done(self) -> bool:
        if self.step_cap is not None and self.step >= self.step_cap:
            return True
        if self.dist.world_size > 1:
            return self._expired  # rank 0's clock, sent to all at the last exchange
        return self.budget is not None and self.budget.expired()

    def _exchange(
        self, pending: list[int] | None = None, queued: list[Command] | None = None
    ) -> list[Command]:
        """The commands to apply before the next step. One process: whatever the UI queued. Under DDP,
        on the steps where metrics are published (so every rank is here together): rank 0's commands,
        its time budget's verdict and step total go to all; a stop asked on any rank stops all."""
        if self.dist.world_size == 1:
            return self.control.drain()
        if pending:  # mid publish interval: nothing crosses, nothing is applied
            return []
        mine = Exchange(
            stop=self.control.stop_event.is_set(),
            expired=self.budget is not None and self.budget.expired(),
            total=self._total_steps() if self.budget is not None else 0,
            commands=(self.control.drain() if queued is None else queued) if self.dist.is_main else [],
        )
        got = self.dist.exchange(mine)
        if got.total:
            self.total_steps = got.total
        self._expired = got.expired
        self._stop_agreed = self._stop_agreed or got.stop
        return got.commands

    def _stop_asked(self) -> bool:
        """A stop (signal, `z`, health) ends the loop; under DDP only once every rank has heard of it, so
        that all stop at the same step and write the last checkpoint together."""
        if self.dist.world_size == 1:
            return self.control.stop_event.is_set()
        return self._stop_agreed

    def _decay_lr(self) -> None:
        """Scale every rate by the schedule's change since the last step; a rollback's lr scale survives."""
        assert self.state is not None
        f = lr_factor(
            self.step,
            self.total_steps,
            str(self.cfg.lr_decay or "none"),
            float(self.cfg.lr_decay_start or 0.0),
        )
        if f != self.state.lr_factor:
            self.state.scale_lr(f / self.state.lr_factor)
            self.state.lr_factor = f

    def instance_noise_std(self) -> float:
        """Std of the noise on D's inputs at this step: linear from --instance-noise to 0 where the rate
        decay starts (half-way without one). Blurring both distributions early gives G a gradient
        towards modes it has not found yet; the sharp end of training then runs without it."""
        start = float(self.cfg.instance_noise or 0.0)
        if not start:
            return 0.0
        decay = str(self.cfg.lr_decay or "none")
        end = (float(self.cfg.lr_decay_start or 0.0) if decay != "none" else 0.5) * self.total_steps
        return start * max(0.0, 1.0 - self.step / end) if end > 0 else 0.0

    # ------------------------------------------------------------------------------------------
    # publishing (the only host syncs)
    # ------------------------------------------------------------------------------------------
    def _flush(self, steps: list[int], rows: list[torch.Tensor]) -> None:
        # one CPU-GPU sync point for `publish_every` steps (under DDP the rows are the ranks' average)
        values = self.dist.mean(torch.stack(rows)).cpu().numpy()
        self._metrics_finite = bool(np.isfinite(values[-1]).all())
        if not self.dist.is_main:
            return  # rank 0 publishes, writes and watches health
        steps_arr = np.asarray(steps, np.int64)
        names = tuple(self.algo.metrics)
        if self.budget is not None and self.dist.world_size == 1:
            self.total_steps = self._total_steps()  # under DDP it arrives with the exchange
        remaining = self.total_steps - self.step
        eta = remaining / self._rate if self._rate > 0 else None
        if self.budget is not None:
            eta = self.budget.left() if eta is None else min(eta, self.budget.left())
        extra: dict[str, Any] = {}
        if self.device.type == "cuda":
            extra["gpu_mem_bytes"] = int(torch.cuda.memory_allocated(self.device))
        self.feed.publish(
            steps_arr,
            values,
            names,
            step=self.step,
            epoch=self.step / self.steps_per_epoch,
            steps_per_s=self._rate,
            images_per_s=self._rate * int(self.cfg.batch_size) * self.algo.n_critic,
            eta_s=eta,
            total_steps=self.total_steps,
            loss=self._loss_name(),
            **extra,
        )
        self._safe_io("metrics", lambda: self.writer.write_metrics(steps_arr, values, time.time(), names))
        probabilistic, loss = self.algo.probabilistic(), self._loss_name() or None
        for s, row in zip(steps, values, strict=True):
            m: dict[str, Any] = dict(zip(names, row.tolist(), strict=True))
            m["probabilistic"] = probabilistic
            m["loss"] = loss
            for alert in self.health.observe(s, m):
                self._on_alert(alert)
                if alert.kind == "nonfinite":
                    return  # the rest of the batch is downstream of the NaN

    def _on_alert(self, alert: Any) -> None:
        self._event(
            "alert",
            f"{alert.message} — {alert.hint}",
            step=alert.step,
            alert=alert.kind,
            severity=alert.severity,
        )
        if alert.kind != "nonfinite":
            return
        action = self.cfg.on_nan
        if self.dist.world_size > 1:
            # Rank 0 decides; every rank applies it at the next exchange (the same step everywhere).
            if action == "rollback":
                self.control.rollback(lr_scale=0.5)
            elif action == "stop":
                self.control.stop("non-finite loss")
            else:
                self.control.pause()
            return
        if action == "rollback":
            self._rollback(lr_scale=0.5, loss_name=None)
        elif action == "stop":
            self.control.stop("non-finite loss")
        else:
            self.paused = True
            self.feed.update(state="paused", message="paused: non-finite loss; press b to roll back")
            self._event("pause", f"paused at step {self.step}: non-finite loss or gradient")

    def _publish_samples(self) -> None:
        if not self.dist.is_main:
            return  # samples, their health checks and the run directory are rank 0's
        self.sampler.step = self.step
        frame = self.sampler.fixed()
        self.feed.publish_samples(frame)
        if frame.kind == "images":
            self._safe_io("samples", lambda: self.writer.write_samples(frame))
        self._publish_view()
        if self.step > 0:
            for alert in self.health.observe_samples(self.step, frame.data):
                self._on_alert(alert)

    def _publish_view(self) -> None:
        """The extra view the UI shows (traversal, one class, reconstructions), from the same weights."""
        if self.view_spec is None or not self.dist.is_main:
            return
        self.sampler.step = self.step
        frame = self.sampler.view_frame(self.view_spec)
        if frame is not None:
            self.feed.publish_samples(frame)

    def _evaluate(self) -> None:
        """The run's quality figures from the evaluator the caller handed in, in this thread."""
        if self.evaluator is None or not self.dist.is_main:
            return
        self.sampler.step = self.step
        try:
            q = self.evaluator(self.sampler, self.data, seed=self.cfg.seed, device=self.device)
        except Exception as e:  # evaluation must never kill training
            self._event("warning", f"quality evaluation failed: {type(e).__name__}: {e}")
            return
        if not q:
            return
        self.feed.update(quality=q)
        text = ", ".join(f"{k} {v:.4g}" for k, v in q.items())
        self._event("quality", f"quality at step {self.step}: {text}", **q)

    def _event(self, kind: str, message: str, step: int | None = None, **data: Any) -> None:
        ev = self.feed.event(kind, message, self.step if step is None else step, **data)
        if getattr(self, "writer", None) is not None:
            self._safe_io("events", lambda: self.writer.write_event(ev))

    def _safe_io(self, what: str, fn: Any) -> Any:
        """Disk trouble (full, read-only, vanished dir) is shown, never fatal to training."""
        try:
            return fn()
        except OSError as e:
            if what not in getattr(self, "_io_warned", set()):
                self._io_warned = getattr(self, "_io_warned", set()) | {what}
                self.feed.event("warning", f"could not write {what}: {e.strerror or e}; training goes on")
            return None

    def _save(self, reason: str) -> Path | None:
        assert self.state is not None
        if reason in ("final", "stop", "error") and self._saved_step == self.step:
            return self.last_checkpoint  # the periodic save of this very step already holds it
        if not self.state.weights_finite():
            self._event(
                "warning",
                f"not saving non-finite weights at step {self.step}; "
                f"last good checkpoint: {self.last_checkpoint}",
            )
            return None
        agree: dict[str, Any] = {}
        if self.dist.world_size > 1:
            if reason == "error":  # a rank is lost: no collective can run; rank 0 writes what it has
                self._rank_rngs = []
            else:
                self._rank_rngs = self.dist.gather(self.state.rng_state(self.device))
                agree = self.dist.agreement(self.state.all_params(), self._control_fingerprint())
        if not self.dist.is_main or self.writer is None:
            self._saved_step = self.step
            if self._metrics_finite:
                self._remember_good_state()  # every rank rolls back to the same weights
            return None
        if agree and (agree["ranks_max_diff"] > 0 or not agree["ranks_same_control"]):
            self._event(
                "warning",
                f"the {agree['ranks']} processes disagree at step {self.step} (largest weight-sum "
                f"difference {agree['ranks_max_diff']:.3g}, same control state: "
                f"{agree['ranks_same_control']}); writing rank 0's",
            )
        path = self.writer.checkpoint_path(self.step)
        payload = self.state_payload()
        try:
            if not self.writer.ensure_exists():
                self._event(
                    "warning",
                    f"run directory {self.writer.path} was deleted; recreated it "
                    "(checkpoints saved before are gone)",
                )
            self.writer.checkpoints.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, payload)
        except OSError as e:
            self.feed.event(
                "warning",
                f"checkpoint at step {self.step} FAILED: {e.strerror or e}; "
                f"previous one kept: {self.last_checkpoint}",
            )
            return None
        self.last_checkpoint = path
        self._saved_step = self.step
        if self._metrics_finite:
            self._remember_good_state()
        self._event("checkpoint", f"saved {path} ({reason})", path=str(path), reason=reason, **agree)
        return path

    def _control_fingerprint(self) -> dict[str, Any]:
        """What every rank must agree on between steps: a command applied at different steps shows here."""
        assert self.state is not None
        return {
            "step": self.step,
            "loss": self._loss_name(),
            "n_critic": getattr(self.algo, "n_critic", 1),
            "swaps": [dict(sw) for sw in self.swaps],
            "lrs": self.state.lrs(),
            "paused": self.paused,
        }

    # ------------------------------------------------------------------------------------------
    # commands from the UI (applied between steps)
    # ------------------------------------------------------------------------------------------
    def _apply_commands(self, commands: list[Command]) -> str | None:
        for cmd in commands:
            if self._apply(cmd) == "stop":
                return "stop"
        return None

    def _apply(self, cmd: Command) -> str | None:
        name, args = cmd.name, cmd.args
        if name == "stop":
            return "stop"
        if name in ("pause", "resume", "toggle_pause"):
            want = {"pause": True, "resume": False}.get(name, not self.paused)
            if want != self.paused:
                self.paused = want
                self.feed.update(state="paused" if want else "running", message="")
                self._event(
                    "pause" if want else "resume", f"{'paused' if want else 'resumed'} at step {self.step}"
                )
        elif name == "swap_loss":
            self.swap_loss(str(args["name"]))
        elif name == "checkpoint":
            self._save(str(args.get("reason", "manual")))
        elif name == "resample" and self.dist.is_main:
            seed = args.get("seed")
            self.sampler.step = self.step
            self.feed.publish_samples(
                self.sampler.random(seed if seed is not None else int(time.time_ns() % 2**31))
            )
            self._event("resample", "samples from new noise (the fixed noise is unchanged)")
        elif name == "view":
            spec = args.get("spec")
            self.view_spec = dict(spec) if spec else None
            self._publish_view()
        elif name == "rollback":
            self._rollback(float(args.get("lr_scale", 1.0)), args.get("loss"))
        return None

    def swap_loss(self, name: str) -> None:
        """Between two steps; networks and optimizers stay as they are."""
        if self.algo.loss is None:
            self._event("warning", f"--algo {self.algo.name} has no GAN loss to swap")
            return
        try:
            get_loss(name)
        except UsageError as e:
            self._event("warning", str(e))
            return
        if name == self.algo.loss.name:
            return
        old = self.algo.swap_loss(name, keep_n_critic=bool(self.cfg.extra.get("n_critic_given")))
        self.swaps.append({"step": self.step, "from": old, "to": name})
        self.health.reset()
        self.feed.update(loss=name)
        self._event("swap", f"loss {old} -> {name} at step {self.step}", **{"from": old, "to": name})

    def _rollback(self, lr_scale: float, loss_name: str | None) -> None:
        assert self.state is not None
        if self.good_state is None:
            self._event("warning", "nothing to roll back to yet")
            return
        s = self.good_state
        self.state.load_weights(s)  # networks, averages, optimizers (with that step's rates)
        self.state.scale_lr(lr_scale)
        if loss_name:
            self.swap_loss(loss_name)
        self.health.reset()
        self.paused = False
        self.feed.update(state="running", message="")
        # Steps keep counting forward so history and the run directory stay monotonic; the weights are
        # those of the good state.
        self._event(
            "rollback",
            f"rolled back to the weights of step {s['step']} (lr x{lr_scale:g})",
            to_step=s["step"],
            lr_scale=lr_scale,
        )

    def _wait_paused(self) -> str | None:
        while self.paused:
            if self.dist.world_size > 1:
                # rank 0 waits for a key, then every rank takes the same commands; the others wait in the
                # exchange meanwhile (at most a tenth of a second, far below the collectives' timeout)
                waiting: list[Command] = []
                if self.dist.is_main:
                    first = self.control.wait(0.1)
                    waiting = [first, *self.control.drain()] if first is not None else []
                if self._apply_commands(self._exchange(None, waiting)) == "stop" or self._stop_asked():
                    return "stop"
                continue
            if self.control.stop_event.is_set():
                return "stop"
            cmd = self.control.wait(0.1)
            if cmd is not None and self._apply(cmd) == "stop":
                return "stop"
        return None

    # Plain (uncompiled) networks by name: tests and tools reach the weights through these.
    def network(self, name: str) -> torch.nn.Module:
        assert self.state is not None
        return plain(self.state.modules[name])
