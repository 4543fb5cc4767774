"""The run's checkpoints, as Lightning's checkpoint connector does it: the payload is made from each part's
own state (the training state, the algorithm, the sampler's latents, the history, the health monitor),
and one restore hands each part its state back. Also the in-memory good state a rollback returns to, and
what the run directory's config.json records."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganterm import __version__
from ganterm.algos.prior import Latent
from ganterm.channel.history import MetricHistory
from ganterm.config import TrainConfig
from ganterm.errors import UsageError, first_line
from ganterm.training.checkpoint import save_checkpoint, to_numpy_tree

if TYPE_CHECKING:
    from ganterm.training.trainer import Trainer

# Hyper-parameters that change what a resumed run computes; the rest (steps, out, device...) may differ.
RESUME_KEYS = ("dataset", "algo", "model", "z_dim", "batch_size", "image_size", "channels", "model_options")


def plain_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The str / int / float / bool entries: what a weights_only checkpoint can hold without doubt."""
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))}


def check_resume_config(saved_cfg: dict[str, Any], cfg: TrainConfig) -> None:
    """A resumed run must compute what the saved one computed: the keys that decide it must agree."""
    saved = TrainConfig.from_dict(saved_cfg)
    for key in RESUME_KEYS:
        a, b = getattr(saved, key), getattr(cfg, key)
        if key == "model_options":  # checkpoints from before the field hold None
            a, b = a or {}, b or {}
        if key == "algo":  # checkpoints from before the field are GANs
            a, b = a or "gan", b or "gan"
        if a != b:
            raise UsageError(
                f"--resume: checkpoint has {key}={a!r} but this run asks {key}={b!r}; "
                f"resume with the checkpoint's {key}"
            )


class Checkpointer:
    """Writes, restores and remembers; the trainer owns the parts, this decides what crosses to disk."""

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.last: Path | None = None
        self.saved_step = -1
        self.good_state: dict[str, Any] | None = None
        self.rank_rngs: list[Any] = []

    # -- what a run directory and a checkpoint hold -------------------------------------------------
    def config_record(self) -> dict[str, Any]:
        t = self.t
        rec = t.cfg.to_dict()
        rec.update(
            ganterm_version=__version__,
            data_shape=list(t.data.shape),
            data_kind=t.data.kind,
            total_steps=t.length.known_total() or None,
            device_resolved=str(t.device),
            world_size=t.dist.world_size,
            layout=t.algo.layout.to_dict(),
            prior=t.algo.prior.to_dict(),
            views=list(t.algo.views),
        )
        return rec

    def payload(self) -> dict[str, Any]:
        t = self.t
        assert t.state is not None
        last = t.feed.frames()
        return {
            "ganterm_version": __version__,
            "config": t.cfg.to_dict(),
            "algo": t.algo.name,
            "total_steps": t.length.total,
            "epoch": t.step / t.length.steps_per_epoch,
            "data_kind": t.data.kind,
            "data_shape": list(t.data.shape),
            "prior": t.algo.prior.to_dict(),
            "layout": t.algo.layout.to_dict(),
            "views": list(t.algo.views),
            **t.algo.state_extra(),
            "lrs": t.state.lrs(),
            "swaps": list(t.swaps),
            # plain values of each event's data come along (a swap's "to" labels its chart marker in view)
            "events": [
                {**plain_fields(e.data), "step": e.step, "kind": e.kind, "message": e.message}
                for e in t.feed.events()[-200:]
            ],
            **t.state.state_dict(t.device),  # modules, emas, optimizers, lr_factor, step, rng
            "world_size": t.dist.world_size,
            # every rank's RNG, so a run resumed on as many processes continues exactly (rank 0's is "rng")
            "rank_rngs": self.rank_rngs if t.dist.world_size > 1 else None,
            "fixed_latent": t.sampler.fixed_latent.state_dict(),
            "real_preview": t.sampler.real,
            "recon_batch": None if t.sampler.recon_batch is None else t.sampler.recon_batch.cpu(),
            "history": t.history.state_dict(),
            "samples": last[-1].data if last and last[-1].kind == "images" else None,
            "health": t.health.state_dict(),
            "saved_at": time.time(),
        }

    # -- resume --------------------------------------------------------------------------------------
    def restore(self, ckpt: dict[str, Any]) -> None:
        t = self.t
        assert t.state is not None
        try:
            t.state.load_state_dict(ckpt, t.device)
        except (KeyError, RuntimeError) as e:
            raise UsageError(
                f"--resume: the checkpoint's networks do not fit this run ({first_line(e, 160)})"
            ) from None
        self._restore_rank_rng(ckpt)
        t.sampler.fixed_latent = Latent.from_state_dict(ckpt["fixed_latent"]).to(t.device)
        if ckpt.get("recon_batch") is not None:
            t.sampler.recon_batch = ckpt["recon_batch"].float().to(t.device)
        t.algo.restore_extra(ckpt, loss_given=bool(t.cfg.extra.get("loss_given")))
        t.swaps = list(ckpt.get("swaps", []))
        if ckpt.get("history"):
            t.history = MetricHistory.from_state_dict(to_numpy_tree(ckpt["history"]))
        if ckpt.get("health"):
            t.health.load_state_dict(ckpt["health"])

    def _restore_rank_rng(self, ckpt: dict[str, Any]) -> None:
        """Rank r > 0 continues its own batch stream when the checkpoint has one for it (same world size);
        otherwise (resumed on more processes than saved it) it starts a fresh stream of its own."""
        t = self.t
        assert t.state is not None
        if t.dist.rank == 0:
            return
        saved = ckpt.get("rank_rngs") or []
        if len(saved) == t.dist.world_size:
            t.state.load_rng_state(saved[t.dist.rank], t.device)
        else:
            t.state.gen.manual_seed(t.dist.rank_seed(int(t.cfg.seed)) + t.state.step)

    def remember_good_state(self) -> None:
        """An in-memory copy to roll back to without touching the disk."""
        assert self.t.state is not None
        self.good_state = self.t.state.snapshot()

    # -- writing -------------------------------------------------------------------------------------
    def save(self, reason: str) -> Path | None:
        t = self.t
        assert t.state is not None
        if reason in ("final", "stop", "error") and self.saved_step == t.step:
            return self.last  # the periodic save of this very step already holds it
        if not t.state.weights_finite():
            t.publisher.event(
                "warning",
                f"not saving non-finite weights at step {t.step}; last good checkpoint: {self.last}",
            )
            return None
        agree: dict[str, Any] = {}
        if t.dist.world_size > 1:
            if reason == "error":  # a rank is lost: no collective can run; rank 0 writes what it has
                self.rank_rngs = []
            else:
                self.rank_rngs = t.dist.gather(t.state.rng_state(t.device))
                agree = t.dist.agreement(t.state.all_params(), t.sync.fingerprint())
        if not t.dist.is_main or t.writer is None:
            self.saved_step = t.step
            if t.publisher.metrics_finite:
                self.remember_good_state()  # every rank rolls back to the same weights
            return None
        if agree and (agree["ranks_max_diff"] > 0 or not agree["ranks_same_control"]):
            t.publisher.event(
                "warning",
                f"the {agree['ranks']} processes disagree at step {t.step} (largest weight-sum "
                f"difference {agree['ranks_max_diff']:.3g}, same control state: "
                f"{agree['ranks_same_control']}); writing rank 0's",
            )
        path = t.writer.checkpoint_path(t.step)
        payload = self.payload()
        try:
            if not t.writer.ensure_exists():
                t.publisher.event(
                    "warning",
                    f"run directory {t.writer.path} was deleted; recreated it "
                    "(checkpoints saved before are gone)",
                )
            t.writer.checkpoints.mkdir(parents=True, exist_ok=True)
            save_checkpoint(path, payload)
        except OSError as e:
            t.feed.event(
                "warning",
                f"checkpoint at step {t.step} FAILED: {e.strerror or e}; previous one kept: {self.last}",
            )
            return None
        self.last = path
        self.saved_step = t.step
        if t.publisher.metrics_finite:
            self.remember_good_state()
        t.publisher.event("checkpoint", f"saved {path} ({reason})", path=str(path), reason=reason, **agree)
        return path
