"""The GAN trainer: one loop, top to bottom, that publishes to a Feed and obeys a Control.

It imports no UI. Under the TUI it runs in a worker thread; headless it runs in the main thread.
The only host syncs are at publish time (every `publish_every` steps), except on the CPU where
checking each step for NaN costs nothing and lets us catch a NaN at the step it happens.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganterm import __version__
from ganterm.config import TrainConfig, recipe_key
from ganterm.errors import GantermError, UsageError
from ganterm.gan.augment import DiffAugment
from ganterm.gan.budget import TimeBudget
from ganterm.gan.checkpoint import load_checkpoint, save_checkpoint, to_numpy_tree
from ganterm.gan.control import Command, Control
from ganterm.gan.ema import EMA
from ganterm.gan.feed import Feed
from ganterm.gan.history import METRIC_COLUMNS, MetricHistory
from ganterm.gan.losses import GANLoss, get_loss, gradient_penalty, r1_penalty
from ganterm.gan.models import build_models
from ganterm.gan.rundir import RunDirWriter, default_run_dir
from ganterm.gan.sampling import generate, make_frame
from ganterm.gan.schedule import lr_factor

# The step total of a time-budgeted run before its speed is known: far enough that every schedule
# (rate decay, instance noise) is still at its start.
UNKNOWN_TOTAL = 2**31 - 1


def pick_device(spec: str) -> torch.device:
    """auto -> cuda, then mps, then cpu; an explicit device that is absent is a one-line error."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: no CUDA GPU is available here; use --device cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    if spec == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple MPS is not available here; use --device cpu or auto")
    return torch.device(spec)


def has_fast_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively: CUDA with bf16, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private but stable since torch 2.1
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def grad_norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Total L2 norm of the gradients, as a tensor (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@contextmanager
def frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """Parameters that need no gradient inside the block (autograd then skips their weight gradients)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


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
    ) -> None:
        self.cfg = cfg
        self.progress = progress  # rich download/decode bars on stderr (headless); else the feed's message
        self.feed = feed or Feed()
        self.control = control or Control()
        self.run_dir: Path | None = None
        self.step = 0
        self.paused = False
        self.last_checkpoint: Path | None = None
        self._saved_step = -1

    # ------------------------------------------------------------------------------------------
    # setup: device, data, models (scratch or resume), optimizers, fixed noise, run directory
    # ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.feed.update(state="starting", message="loading data and building models ...")
        resume_ckpt = load_checkpoint(cfg.resume) if cfg.resume else None
        if resume_ckpt is not None:
            self._check_resume_config(resume_ckpt)
        self.device = pick_device(cfg.device)
        if recipe_key(cfg.dataset) in ("ring", "grid") and "OMP_NUM_THREADS" not in os.environ:
            # 2-D toy MLPs are far too small to split across cores; a second thread only waits (and on a
            # busy machine made ring ~50x slower). Fixed per dataset, so a resumed run computes the same.
            torch.set_num_threads(1)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)

        from ganterm.data.progress import LineProgress
        from ganterm.data.registry import load_dataset

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
        self.data = data
        self.gen = torch.Generator(device=data.device if data.data is not None else self.device)
        self.gen.manual_seed(cfg.seed)

        self.loss: GANLoss = get_loss(str(cfg.loss))
        self.gp_safe = cfg.loss == "wgan-gp"
        self.G, self.D = build_models(
            str(cfg.model), data.shape, int(cfg.z_dim), gp_safe=self.gp_safe, **(cfg.model_options or {})
        )
        self.G.to(self.device)
        self.D.to(self.device)
        if len(data.shape) == 3 and self.device.type in ("cpu", "cuda"):
            # NHWC weights let oneDNN / cuDNN run the convs without a layout reorder around each one.
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        betas = tuple(cfg.betas)  # type: ignore[arg-type]
        # One fused kernel per optimizer step (CPU and CUDA); MPS keeps the multi-tensor path.
        fused = self.device.type in ("cpu", "cuda")

        def adam(params: Any, lr: float | None) -> torch.optim.Adam:
            return torch.optim.Adam(
                params, lr=lr, betas=betas, fused=fused or None, foreach=None if fused else True
            )

        self.opt_g = adam(self.G.parameters(), cfg.lr_g)
        self.opt_d = adam(self.D.parameters(), cfg.lr_d)
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.n_critic = int(cfg.n_critic or self.loss.n_critic)
        self.augment = DiffAugment(cfg.augment)
        # Samples, evaluation and `ganterm sample` use the weight average when there is one.
        self.g_ema = EMA(self.G, float(cfg.g_ema)) if cfg.g_ema else None
        self._lr_f = 1.0  # the decay factor the optimizers' rates carry now

        n_fixed = cfg.n_samples if data.kind == "images" else 1000
        noise_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.fixed_noise = torch.randn(n_fixed, int(cfg.z_dim), generator=noise_gen).to(self.device)
        self.real_preview: np.ndarray | None = None
        if data.kind == "points":
            self.real_preview = (
                data.sample(1000, torch.Generator(self.gen.device).manual_seed(cfg.seed + 2))
                .float()
                .cpu()
                .numpy()
            )

        self.step_cap = self._step_cap()
        self.budget = TimeBudget(float(cfg.time_limit)) if cfg.time_limit else None
        self.total_steps = self._total_steps()
        self.steps_per_epoch = max(1, data.size // int(cfg.batch_size))
        self.swaps: list[dict[str, Any]] = []
        self.history = MetricHistory()
        self.health = self._make_health()
        self.good_state: dict[str, Any] | None = None
        self.autocast_dtype = self._autocast_dtype()
        if cfg.compile:
            self.G = torch.compile(self.G)  # type: ignore[assignment]
            self.D = torch.compile(self.D)  # type: ignore[assignment]

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
        self.writer = RunDirWriter(out, self._config_record(), resume=resume_ckpt is not None)
        self.run_dir = out
        self.feed.replace_history(self.history)
        self.feed.update(
            state="running",
            message="",
            dataset=cfg.dataset,
            model=str(cfg.model),
            loss=self.loss.name,
            device=str(self.device),
            total_steps=0 if self.total_steps == UNKNOWN_TOTAL else self.total_steps,
            run_dir=str(out),
            step=self.step,
        )
        what = f"resumed from {cfg.resume} at step {self.step}" if resume_ckpt else "started"
        self._event(
            "start",
            f"{what}: {cfg.dataset} / {cfg.model} / {self.loss.name} on {self.device}{self._data_note()}",
            run_dir=str(out),
        )

    def _data_note(self) -> str:
        """What a folder run read off its images (size, colour, class folders), for the start event."""
        if "classes" not in self.data.info:
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
        from ganterm.gan.health import HealthMonitor

        return HealthMonitor()

    def _config_record(self) -> dict[str, Any]:
        rec = self.cfg.to_dict()
        rec.update(
            ganterm_version=__version__,
            data_shape=list(self.data.shape),
            data_kind=self.data.kind,
            total_steps=None if self.total_steps == UNKNOWN_TOTAL else self.total_steps,
            device_resolved=str(self.device),
        )
        return rec

    # Hyper-parameters that change what a resumed run computes; the rest (steps, out, device...) may differ.
    _RESUME_KEYS = ("dataset", "model", "z_dim", "batch_size", "image_size", "channels", "model_options")

    def _check_resume_config(self, ckpt: dict[str, Any]) -> None:
        saved = TrainConfig.from_dict(ckpt["config"])
        for key in self._RESUME_KEYS:
            a, b = getattr(saved, key), getattr(self.cfg, key)
            if key == "model_options":  # checkpoints from before the field hold None
                a, b = a or {}, b or {}
            if a != b:
                raise UsageError(
                    f"--resume: checkpoint has {key}={a!r} but this run asks {key}={b!r}; "
                    f"drop the option or pass --{key.replace('_', '-')} {a}"
                )

    # ------------------------------------------------------------------------------------------
    # state: checkpoint payloads, resume, in-memory rollback
    # ------------------------------------------------------------------------------------------
    def state_payload(self) -> dict[str, Any]:
        g, d = self._plain_models()
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "gen": self.gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        last = self.feed.frames()
        return {
            "ganterm_version": __version__,
            "config": self.cfg.to_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": self.step / self.steps_per_epoch,
            "data_kind": self.data.kind,
            "data_shape": list(self.data.shape),
            "gp_safe": self.gp_safe,
            "loss_name": self.loss.name,
            "n_critic": self.n_critic,
            "lr_g": self.opt_g.param_groups[0]["lr"],
            "lr_d": self.opt_d.param_groups[0]["lr"],
            "swaps": list(self.swaps),
            # plain values of each event's data come along (a swap's "to" labels its chart marker in view)
            "events": [
                {**_plain_fields(e.data), "step": e.step, "kind": e.kind, "message": e.message}
                for e in self.feed.events()[-200:]
            ],
            "G": g.state_dict(),
            "G_ema": self.g_ema.state_dict() if self.g_ema else None,
            "lr_factor": self._lr_f,
            "D": d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(),
            "real_preview": self.real_preview,
            "rng": rng,
            "history": self.history.state_dict(),
            "samples": last[-1].data if last and last[-1].kind == "images" else None,
            "health": self.health.state_dict(),
            "saved_at": time.time(),
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        g, d = self._plain_models()
        g.load_state_dict(ckpt["G"])
        d.load_state_dict(ckpt["D"])
        if self.g_ema:
            self.g_ema.load_state_dict(ckpt.get("G_ema") or ckpt["G"])
        self._lr_f = float(ckpt.get("lr_factor", 1.0))
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        self.step = int(ckpt["step"])
        self.fixed_noise = ckpt["fixed_noise"].to(self.device)
        if (
            ckpt.get("loss_name")
            and ckpt["loss_name"] != self.loss.name
            and not self.cfg.extra.get("loss_given")
        ):
            self.loss = get_loss(str(ckpt["loss_name"]))
        self.n_critic = int(ckpt.get("n_critic", self.n_critic))
        self.swaps = list(ckpt.get("swaps", []))
        rng = ckpt.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "gen" in rng:
            self.gen.set_state(rng["gen"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        if ckpt.get("history"):
            self.history = MetricHistory.from_state_dict(to_numpy_tree(ckpt["history"]))
        if ckpt.get("health"):
            self.health.load_state_dict(ckpt["health"])

    def _plain_models(self) -> tuple[nn.Module, nn.Module]:
        """G and D without a torch.compile wrapper: their state dicts keep the plain parameter names."""
        return getattr(self.G, "_orig_mod", self.G), getattr(self.D, "_orig_mod", self.D)

    def _weights_finite(self) -> bool:
        with torch.no_grad():
            return all(bool(torch.isfinite(p).all()) for p in [*self.g_params, *self.d_params])

    def _remember_good_state(self) -> None:
        """An in-memory copy to roll back to without touching the disk."""
        g, d = self._plain_models()
        self.good_state = copy.deepcopy(
            {
                "step": self.step,
                "G": g.state_dict(),
                "D": d.state_dict(),
                "G_ema": self.g_ema.state_dict() if self.g_ema else None,
                "lr_factor": self._lr_f,
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
            }
        )

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
        except Exception as e:
            self.feed.update(state="error", message=f"{type(e).__name__}: {e}")
            self._event("error", f"training stopped by {type(e).__name__}: {e}")
            self._save("error")  # never lose what was trained
            raise
        finally:
            self.writer.close()

    def _loop(self) -> None:
        cfg = self.cfg
        B = int(cfg.batch_size)
        pending: list[torch.Tensor] = []
        pending_steps: list[int] = []
        check_each_step = self.device.type == "cpu"
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
            if self._apply_commands(self.control.drain()) == "stop" or self.control.stop_event.is_set():
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
            metrics = self.train_step(B, nan=inject_nan_at is not None and self.step + 1 == inject_nan_at)
            self.step += 1
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
                if self.paused or self.control.stop_event.is_set():
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

    def _done(self) -> bool:
        if self.step_cap is not None and self.step >= self.step_cap:
            return True
        return self.budget is not None and self.budget.expired()

    @property
    def sample_G(self) -> nn.Module:
        """The generator that samples and evaluation use: the weight average when the run keeps one."""
        return self.g_ema.model if self.g_ema else self.G

    def _decay_lr(self) -> None:
        """Scale both rates by the schedule's change since the last step; a rollback's lr scale survives."""
        f = lr_factor(
            self.step,
            self.total_steps,
            str(self.cfg.lr_decay or "none"),
            float(self.cfg.lr_decay_start or 0.0),
        )
        if f != self._lr_f:
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] *= f / self._lr_f
            self._lr_f = f

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

    def _d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of a batch: through the run's DiffAugment transforms (fresh ones per call)."""
        return self.augment(x, self.gen) if self.augment else x

    def _noise_like(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=self.gen, device=self.gen.device).to(self.device)

    def train_step(self, B: int, nan: bool = False) -> torch.Tensor:
        """n_critic D updates then one G update; returns the step's metrics as one tensor (no sync)."""
        G, D, loss = self.G, self.D, self.loss
        dev = self.device.type
        ac = self.autocast_dtype
        z_dim = int(self.cfg.z_dim)
        sigma = self.instance_noise_std()
        fake_noise: torch.Tensor | None = None
        for _ in range(self.n_critic):
            # -- Update D: make it score real data high and generated data low (per the loss) --
            real = self.data.sample(B, self.gen).to(self.device, non_blocking=True)
            z = torch.randn(B, z_dim, generator=self.gen, device=self.gen.device).to(self.device)
            real_in = self._d_input(real)
            if sigma:
                real_in = real_in + sigma * self._noise_like(real)
                fake_noise = sigma * self._noise_like(real)
            with torch.autocast(dev, dtype=ac or torch.bfloat16, enabled=ac is not None):
                fake = G(z)
                real_logits = D(real_in).float()
                fake_in = self._d_input(fake.detach())
                fake_in = fake_in if fake_noise is None else fake_in + fake_noise
                fake_logits = D(fake_in).float()
            loss_d = loss.d_loss(real_logits, fake_logits)
            if loss.gp_weight:
                loss_d = loss_d + loss.gp_weight * gradient_penalty(D, real, fake.detach().float(), self.gen)
            every = int(self.cfg.r1_every or 1)
            if self.cfg.r1 and self.step % every == 0:
                # lazy (StyleGAN2): every k-th step at k times the weight costs 1/k of the double backward
                loss_d = loss_d + 0.5 * float(self.cfg.r1) * every * r1_penalty(D, real_in)
            if nan:
                loss_d = loss_d * float("nan")  # fault injection for tests (--inject-nan-at)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            gn_d = grad_norm(self.d_params)
            self.opt_d.step()
            if loss.clip:
                with torch.no_grad():
                    torch._foreach_clamp_min_(self.d_params, -loss.clip)
                    torch._foreach_clamp_max_(self.d_params, loss.clip)

        # -- Update G: make D score the generated batch as real (reuses the last critic step's fake) --
        # D's weights are frozen for this pass: their gradients would be thrown away by the next D step's
        # zero_grad, and skipping them saves a third of D's backward (G's gradient is the same).
        with frozen(self.d_params):
            with torch.autocast(dev, dtype=ac or torch.bfloat16, enabled=ac is not None):
                fake_g = self._d_input(fake)
                fake_logits_g = D(fake_g if fake_noise is None else fake_g + fake_noise).float()
            loss_g = loss.g_loss(fake_logits_g)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        gn_g = grad_norm(self.g_params)
        self.opt_g.step()
        if self.g_ema:
            self.g_ema.update(self.step + 1)
        with torch.no_grad():
            return torch.stack(
                [
                    loss_d.detach().float(),
                    loss_g.detach().float(),
                    loss.score(real_logits.detach()).float(),
                    loss.score(fake_logits.detach()).float(),
                    gn_g.float().to(loss_d.device),
                    gn_d.float().to(loss_d.device),
                ]
            )

    # ------------------------------------------------------------------------------------------
    # publishing (the only host syncs)
    # ------------------------------------------------------------------------------------------
    def _flush(self, steps: list[int], rows: list[torch.Tensor]) -> None:
        values = torch.stack(rows).cpu().numpy()  # one CPU-GPU sync point for `publish_every` steps
        steps_arr = np.asarray(steps, np.int64)
        latest = dict(zip(METRIC_COLUMNS, values[-1].tolist(), strict=True))
        if self.budget is not None:
            self.total_steps = self._total_steps()
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
            step=self.step,
            epoch=self.step / self.steps_per_epoch,
            steps_per_s=self._rate,
            images_per_s=self._rate * int(self.cfg.batch_size) * self.n_critic,
            eta_s=eta,
            total_steps=self.total_steps,
            loss=self.loss.name,
            **latest,
            **extra,
        )
        self._safe_io("metrics", lambda: self.writer.write_metrics(steps_arr, values, time.time()))
        for s, row in zip(steps, values, strict=True):
            m = dict(zip(METRIC_COLUMNS, row.tolist(), strict=True))
            m["probabilistic"] = self.loss.probabilistic
            m["loss"] = self.loss.name
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
        if action == "rollback":
            self._rollback(lr_scale=0.5, loss_name=None)
        elif action == "stop":
            self.control.stop("non-finite loss")
        else:
            self.paused = True
            self.feed.update(state="paused", message="paused: non-finite loss; press b to roll back")
            self._event("pause", f"paused at step {self.step}: non-finite loss or gradient")

    def _publish_samples(self) -> None:
        z = self.fixed_noise
        G = self.sample_G
        with torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.bfloat16,
            enabled=self.autocast_dtype is not None,
        ):
            x = generate(G, z)
        frame = make_frame(self.step, x, self.data.kind, self.real_preview)
        self.feed.publish_samples(frame)
        if frame.kind == "images":
            self._safe_io("samples", lambda: self.writer.write_samples(frame))
        if self.step > 0:
            for alert in self.health.observe_samples(self.step, frame.data):
                self._on_alert(alert)

    def _evaluate(self) -> None:
        """The run's quality figure (PacGAN modes/HQ for 2-D data, FCD for images), in this thread."""
        from ganterm.eval.quality import evaluate_generator

        try:
            q = evaluate_generator(self.sample_G, self.data, seed=self.cfg.seed, device=self.device)
        except Exception as e:  # evaluation must never kill training
            self._event("warning", f"quality evaluation failed: {type(e).__name__}: {e}")
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
        if reason in ("final", "stop", "error") and self._saved_step == self.step:
            return self.last_checkpoint  # the periodic save of this very step already holds it
        if not self._weights_finite():
            self._event(
                "warning",
                f"not saving non-finite weights at step {self.step}; "
                f"last good checkpoint: {self.last_checkpoint}",
            )
            return None
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
        if math.isfinite(self.feed.snapshot.d_loss) and math.isfinite(self.feed.snapshot.g_loss):
            self._remember_good_state()
        self._event("checkpoint", f"saved {path} ({reason})", path=str(path), reason=reason)
        return path

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
        elif name == "resample":
            seed = args.get("seed")
            gen = torch.Generator().manual_seed(seed if seed is not None else int(time.time_ns() % 2**31))
            z = torch.randn(*self.fixed_noise.shape, generator=gen).to(self.device)
            x = generate(self.sample_G, z)
            self.feed.publish_samples(make_frame(self.step, x, self.data.kind, self.real_preview))
            self._event("resample", "samples from new noise (the fixed noise is unchanged)")
        elif name == "rollback":
            self._rollback(float(args.get("lr_scale", 1.0)), args.get("loss"))
        return None

    def swap_loss(self, name: str) -> None:
        """Between two steps; models and optimizers stay as they are."""
        try:
            new = get_loss(name)
        except UsageError as e:
            self._event("warning", str(e))
            return
        if new.name == self.loss.name:
            return
        old = self.loss.name
        self.loss = new
        if not self.cfg.extra.get("n_critic_given"):
            self.n_critic = new.n_critic
        self.swaps.append({"step": self.step, "from": old, "to": new.name})
        self.health.reset()
        self.feed.update(loss=new.name)
        self._event("swap", f"loss {old} -> {new.name} at step {self.step}", **{"from": old, "to": new.name})

    def _rollback(self, lr_scale: float, loss_name: str | None) -> None:
        if self.good_state is None:
            self._event("warning", "nothing to roll back to yet")
            return
        s = self.good_state
        g, d = self._plain_models()
        g.load_state_dict(s["G"])
        d.load_state_dict(s["D"])
        if self.g_ema:
            self.g_ema.load_state_dict(s["G_ema"])
        self._lr_f = s["lr_factor"]  # the restored optimizers carry the rates of that step
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] *= lr_scale
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
            if self.control.stop_event.is_set():
                return "stop"
            cmd = self.control.wait(0.1)
            if cmd is not None and self._apply(cmd) == "stop":
                return "stop"
        return None
