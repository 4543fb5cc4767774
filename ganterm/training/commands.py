"""Commands from the UI or RUN/commands, applied between two steps: pause and resume, loss swap, a
checkpoint now, new noise, an extra sample view, rollback to the last good state; and what the health
monitor's alerts make the run do (pause, roll back or stop on a NaN)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ganterm.channel.control import Command
from ganterm.errors import UsageError

if TYPE_CHECKING:
    from ganterm.training.trainer import Trainer


class Commands:
    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer

    def apply_all(self, commands: list[Command]) -> str | None:
        """Apply in order; "stop" when one of them stops the run."""
        for cmd in commands:
            if self.apply(cmd) == "stop":
                return "stop"
        return None

    def apply(self, cmd: Command) -> str | None:
        t, name, args = self.t, cmd.name, cmd.args
        if name == "stop":
            return "stop"
        if name in ("pause", "resume", "toggle_pause"):
            self.set_paused({"pause": True, "resume": False}.get(name, not t.paused))
        elif name == "swap_loss":
            self.swap_loss(str(args["name"]))
        elif name == "checkpoint":
            t.checkpoints.save(str(args.get("reason", "manual")))
        elif name == "resample" and t.dist.is_main:
            seed = args.get("seed")
            t.sampler.step = t.step
            t.feed.publish_samples(
                t.sampler.random(seed if seed is not None else int(time.time_ns() % 2**31))
            )
            t.publisher.event("resample", "samples from new noise (the fixed noise is unchanged)")
        elif name == "view":
            spec = args.get("spec")
            t.view_spec = dict(spec) if spec else None
            t.publisher.view()
        elif name == "rollback":
            self.rollback(float(args.get("lr_scale", 1.0)), args.get("loss"))
        return None

    def set_paused(self, want: bool, why: str = "") -> None:
        t = self.t
        if want == t.paused:
            return
        t.paused = want
        # the header's step is the step the event names (it otherwise moves only at publish time)
        t.feed.update(state="paused" if want else "running", message=why, step=t.step)
        word = "paused" if want else "resumed"
        t.publisher.event(
            "pause" if want else "resume", f"{word} at step {t.step}{': ' + why if why else ''}"
        )

    def swap_loss(self, name: str) -> None:
        """Between two steps; networks and optimizers stay as they are."""
        t = self.t
        if name == t.algo.loss_name:
            return
        try:
            old = t.algo.swap_loss(name, keep_n_critic=bool(t.cfg.extra.get("n_critic_given")))
        except UsageError as e:
            t.publisher.event("warning", str(e))
            return
        t.swaps.append({"step": t.step, "from": old, "to": name})
        t.health.reset()
        t.feed.update(loss=name)
        t.publisher.event("swap", f"loss {old} -> {name} at step {t.step}", **{"from": old, "to": name})

    def rollback(self, lr_scale: float, loss_name: str | None) -> None:
        t = self.t
        assert t.state is not None
        good = t.checkpoints.good_state
        if good is None:
            t.publisher.event("warning", "nothing to roll back to yet")
            return
        t.state.load_weights(good)  # networks, averages, optimizers (with that step's rates)
        t.state.scale_lr(lr_scale)
        if loss_name:
            self.swap_loss(loss_name)
        t.health.reset()
        t.paused = False
        t.feed.update(state="running", message="")
        # Steps keep counting forward so history and the run directory stay monotonic; the weights are
        # those of the good state.
        t.publisher.event(
            "rollback",
            f"rolled back to the weights of step {good['step']} (lr x{lr_scale:g})",
            to_step=good["step"],
            lr_scale=lr_scale,
        )

    def wait_paused(self) -> str | None:
        """Block between steps while paused; "stop" when a stop arrives meanwhile."""
        t = self.t
        while t.paused:
            if t.dist.world_size > 1:
                # rank 0 waits for a key, then every rank takes the same commands; the others wait in the
                # exchange meanwhile (at most a tenth of a second, far below the collectives' timeout)
                waiting: list[Command] = []
                if t.dist.is_main:
                    first = t.control.wait(0.1)
                    waiting = [first, *t.control.drain()] if first is not None else []
                if self.apply_all(t.sync.exchange(None, waiting)) == "stop" or t.sync.stop_asked():
                    return "stop"
                continue
            if t.control.stop_event.is_set():
                return "stop"
            cmd = t.control.wait(0.1)
            if cmd is not None and self.apply(cmd) == "stop":
                return "stop"
        return None

    def on_alert(self, alert: Any) -> None:
        """A health alert becomes an event; a NaN also acts, as --on-nan says."""
        t = self.t
        t.publisher.event(
            "alert",
            f"{alert.message} — {alert.hint}",
            step=alert.step,
            alert=alert.kind,
            severity=alert.severity,
        )
        if alert.kind != "nonfinite":
            return
        action = t.cfg.on_nan
        if t.dist.world_size > 1:
            # Rank 0 decides; every rank applies it at the next exchange (the same step everywhere).
            if action == "rollback":
                t.control.rollback(lr_scale=0.5)
            elif action == "stop":
                t.control.stop("non-finite loss")
            else:
                t.control.pause()
            return
        if action == "rollback":
            self.rollback(lr_scale=0.5, loss_name=None)
        elif action == "stop":
            t.control.stop("non-finite loss")
        else:
            t.paused = True
            t.feed.update(
                state="paused", message="paused: non-finite loss; press b to roll back", step=t.step
            )
            t.publisher.event("pause", f"paused at step {t.step}: non-finite loss or gradient")
