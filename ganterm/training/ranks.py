"""Many processes through torch's own DDP: who this process is, and what the ranks exchange.

`Solo` is the one-process case and does nothing; the trainer calls the same methods either way, so the
loop has no second code path. Under torchrun (WORLD_SIZE > 1 in the environment) `Ranks` joins the
process group (NCCL on CUDA, gloo on the CPU) and provides:

- `wrap`: a network in DistributedDataParallel (gradients averaged during backward), its buffers not
  broadcast on each forward (D runs twice before one backward: an in-place buffer write in between is
  the known "modified by an inplace operation" error), SyncBatchNorm on request;
- `mean`: metric rows averaged across ranks at publish time (each step is written once, by rank 0);
- `exchange`: between steps, rank 0's decisions (commands, the time budget's verdict, the step total)
  go to every rank, and a stop asked on any rank stops all of them at the same step;
- `gather` / `agreement`: what checkpoints need (every rank's RNG; a cheap check that weights and
  control state are equal across ranks before rank 0 writes).

Collectives time out (GANTERM_DIST_TIMEOUT, default 120 s) so a rank that dies makes the others stop
with one line instead of hanging.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganterm.errors import RankLostError, UsageError, first_line

__all__ = ["Exchange", "RankLostError", "Ranks", "Solo", "from_environment"]

DEFAULT_TIMEOUT_S = 120.0
RANK_SEED_STRIDE = 1_000_003  # a prime: rank r's batches come from seed + r * stride


@dataclass
class Exchange:
    """What crosses between steps. `total` is the step total the schedules use (0: unchanged)."""

    stop: bool = False
    expired: bool = False
    total: int = 0
    commands: list[Any] = field(default_factory=list)


class Solo:
    """One process: nothing to wrap, average or exchange."""

    rank = 0
    world_size = 1
    local_rank = 0
    backend = ""
    is_main = True

    def rank_seed(self, seed: int) -> int:
        return seed

    def device(self, requested: torch.device) -> torch.device:
        return requested

    def wrap(self, module: nn.Module, sync_bn: bool = False, find_unused: bool = False) -> nn.Module:
        return module

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def exchange(self, mine: Exchange) -> Exchange:
        return mine

    def gather(self, obj: Any) -> list[Any]:
        return [obj]

    def agreement(self, params: list[nn.Parameter], control: Any) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def _no_forward_buffer_sync() -> dict[str, bool]:
    """torch >= 2.13 names it forward_sync_buffers (broadcast_buffers warns); older torch, the old name."""
    import inspect

    params = inspect.signature(nn.parallel.DistributedDataParallel.__init__).parameters
    return (
        {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    )


_NO_FORWARD_BUFFER_SYNC = _no_forward_buffer_sync()


class _Methods(nn.Module):
    """Carries any of a network's methods through DDP's forward: `D.features(x)` or a VAE's
    `encode(x)` must arm DDP's reducer just as `D(x)` does, or their gradients are never averaged
    and the ranks drift apart (a VAE trained through encode/decode did, before this)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.carried = network  # `plain()` unwraps by this name

    def forward(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.carried, method)(*args, **kwargs)


class _DDP(nn.parallel.DistributedDataParallel):
    """DDP around `_Methods`: `net(x)` and `net.any_method(x)` both go through DDP's forward."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return super().forward("forward", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            pass
        attr = getattr(super().__getattr__("module").carried, name)
        if not callable(attr) or isinstance(attr, nn.Module):
            return attr
        ddp_forward = nn.parallel.DistributedDataParallel.forward
        return lambda *args, **kwargs: ddp_forward(self, name, *args, **kwargs)


class Ranks(Solo):
    """This process's place in a torchrun job; the process group is joined on construction."""

    def __init__(self, rank: int, world_size: int, local_rank: int, timeout_s: float) -> None:
        import torch.distributed as dist

        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.is_main = rank == 0
        self.backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        if self.backend == "nccl":
            torch.cuda.set_device(local_rank)
        self._dist = dist
        if not dist.is_initialized():
            dist.init_process_group(self.backend, timeout=datetime.timedelta(seconds=timeout_s))
        self._device = torch.device("cuda", local_rank) if self.backend == "nccl" else torch.device("cpu")

    def rank_seed(self, seed: int) -> int:
        # Rank 0 keeps the run's seed, so a 2-process run resumed on 1 process continues rank 0's stream.
        return (seed + self.rank * RANK_SEED_STRIDE) % 2**63

    def device(self, requested: torch.device) -> torch.device:
        """One GPU per process (its local rank); the CPU stays the CPU."""
        if requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        if self.backend == "nccl":
            raise UsageError("under torchrun with GPUs, use --device cuda (one GPU per process) or auto")
        return requested

    def wrap(self, module: nn.Module, sync_bn: bool = False, find_unused: bool = False) -> nn.Module:
        if not any(p.requires_grad for p in module.parameters()):
            return module
        if sync_bn:
            if self.backend != "nccl":
                raise UsageError(
                    "--sync-bn needs CUDA GPUs (NCCL); on the CPU each process keeps its own BatchNorm "
                    "statistics: drop --sync-bn"
                )
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        ids = [self.local_rank] if self.backend == "nccl" else None
        return _DDP(
            _Methods(module), device_ids=ids, find_unused_parameters=find_unused, **_NO_FORWARD_BUFFER_SYNC
        )

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (RuntimeError, ConnectionError) as e:  # gloo/NCCL: closed peer, timeout
            raise RankLostError(
                f"lost contact with another process of the run ({first_line(e, 160)})"
            ) from None

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        y = x.detach().to(self._device, torch.float32).contiguous()
        self._run(self._dist.all_reduce, y, op=self._dist.ReduceOp.SUM)
        return (y / self.world_size).to(x.device)

    def exchange(self, mine: Exchange) -> Exchange:
        main = self.is_main
        flags = torch.tensor(
            [
                int(mine.stop),
                len(mine.commands) if main else 0,
                int(mine.expired and main),
                mine.total if main else 0,
            ],
            dtype=torch.int64,
            device=self._device,
        )
        self._run(self._dist.all_reduce, flags, op=self._dist.ReduceOp.MAX)
        stop, n_commands, expired, total = (int(v) for v in flags.tolist())
        commands = list(mine.commands) if main else []
        if n_commands:
            box = [commands]
            self._run(self._dist.broadcast_object_list, box, src=0)
            commands = list(box[0])
        return Exchange(stop=bool(stop), expired=bool(expired), total=total, commands=commands)

    def gather(self, obj: Any) -> list[Any]:
        out: list[Any] = [None] * self.world_size
        self._run(self._dist.all_gather_object, out, obj)
        return out

    def agreement(self, params: list[nn.Parameter], control: Any) -> dict[str, Any]:
        """Before a checkpoint: the largest weight difference between ranks (one float64 sum per tensor
        gathered, not the weights) and whether every rank holds the same control state."""
        with torch.no_grad():
            sums = torch.stack([p.detach().double().sum() for p in params]).cpu()
        seen = self.gather((sums, control))
        diff = max(float((s - seen[0][0]).abs().max()) for s, _ in seen) if params else 0.0
        same = all(c == seen[0][1] for _, c in seen)
        return {"ranks": self.world_size, "ranks_max_diff": diff, "ranks_same_control": same}

    def close(self) -> None:
        if self._dist.is_initialized():
            with contextlib.suppress(Exception):  # a lost peer: nothing left to tear down cleanly
                self._dist.destroy_process_group()


def from_environment() -> Solo:
    """`Ranks` under torchrun (WORLD_SIZE > 1), else `Solo`."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Solo()
    timeout = float(os.environ.get("GANTERM_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    return Ranks(
        int(os.environ.get("RANK", "0")),
        world,
        int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0"))),
        timeout,
    )
