"""What the ranks of a DDP run agree on between steps: rank 0's commands, its time budget's verdict and
step total, a stop asked on any rank. One process needs none of it: `exchange` is then the UI's queue.
They cross in one `Ranks.exchange` per publish interval, so a decision takes effect at the same step on
every rank, which is what keeps their weights identical."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganterm.channel.control import Command
from ganterm.training.ranks import Exchange

if TYPE_CHECKING:
    from ganterm.training.trainer import Trainer


class RankSync:
    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.expired = False  # the time budget's verdict as rank 0 last sent it
        self.stop_agreed = False  # a stop every rank has heard of

    def exchange(
        self, pending: list[int] | None = None, queued: list[Command] | None = None
    ) -> list[Command]:
        """The commands to apply before the next step. Under DDP only on the steps where metrics are
        published (every rank is there together); mid-interval nothing crosses and nothing applies."""
        t = self.t
        if t.dist.world_size == 1:
            return t.control.drain()
        if pending:
            return []
        budget = t.length.budget
        mine = Exchange(
            stop=t.control.stop_event.is_set(),
            expired=budget is not None and budget.expired(),
            total=t.length.estimate(t.step) if budget is not None else 0,
            commands=(t.control.drain() if queued is None else queued) if t.dist.is_main else [],
        )
        got = t.dist.exchange(mine)
        if got.total:
            t.length.total = got.total
        self.expired = got.expired
        self.stop_agreed = self.stop_agreed or got.stop
        return got.commands

    def stop_asked(self) -> bool:
        """A stop (signal, `z`, health) ends the loop; under DDP only once every rank has heard of it, so
        that all stop at the same step and write the last checkpoint together."""
        if self.t.dist.world_size == 1:
            return self.t.control.stop_event.is_set()
        return self.stop_agreed

    def done(self) -> bool:
        """The run has trained every step it may: its cap, or its time budget (rank 0's clock under DDP)."""
        t = self.t
        if t.length.capped(t.step):
            return True
        return self.expired if t.dist.world_size > 1 else t.length.expired()

    def fingerprint(self) -> dict[str, Any]:
        """What every rank must agree on between steps: a command applied at different steps shows here."""
        t = self.t
        assert t.state is not None
        return {
            "step": t.step,
            **t.algo.control_state(),
            "swaps": [dict(sw) for sw in t.swaps],
            "lrs": t.state.lrs(),
            "paused": t.paused,
        }
