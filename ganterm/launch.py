"""`ganterm train ... --nproc N`: the same job as `torchrun --nproc-per-node N -m ganterm train ...`,
through torch's own elastic launcher (in this process, so its failures become one line of ours).

The launcher starts N copies of `python -m ganterm train ...` on this machine; they meet on a free
local port and each finds its rank in the environment (see training/ranks.py). SIGTERM or Ctrl-C here
is passed on to every rank by the launcher; they stop together at the next exchange and rank 0
writes the final checkpoint. A rank that dies takes the run down: the launcher stops the others and we
say which one died and how.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import uuid

SHUTDOWN_TIMEOUT_S = 60  # how long the ranks get to finish a step and write the final checkpoint


def without_option(argv: list[str], name: str) -> list[str]:
    """argv with `name VALUE` and `name=VALUE` removed."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == name:
            skip = True
            continue
        if arg.startswith(name + "="):
            continue
        out.append(arg)
    return out


def _threads_per_process(nproc: int) -> str:
    """The CPU's cores shared out: N processes each using every core would fight over them."""
    return str(max(1, (os.cpu_count() or 1) // nproc))


def launch(nproc: int, args: list[str]) -> int:
    """Run `python -m ganterm ARGS` on `nproc` local processes; the launcher's exit code."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # The launcher's own logging (rendezvous, "sending SIGTERM to ...", a failed rank's exit code) is not
    # for users: what matters is said in one line below or by the rank itself. Its loggers set their own
    # levels when created, so each is quietened by name.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", _threads_per_process(nproc))
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0",  # a free local port, as torchrun --standalone does
        run_id=f"ganterm-{uuid.uuid4().hex[:12]}",
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
    )
    if hasattr(config, "shutdown_timeout"):
        config.shutdown_timeout = SHUTDOWN_TIMEOUT_S
    try:
        elastic_launch(config, sys.executable)("-m", "ganterm", *args)
    except SignalException as e:
        # Every rank was sent the signal and has stopped at the same step after its final checkpoint.
        sys.stderr.write(f"ganterm: stopped by {signal.Signals(e.sigval).name}\n")
        return 0
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        if failure.exitcode < 0:
            how = f"was killed by {signal.Signals(-failure.exitcode).name}"
            sys.stderr.write(
                f"ganterm: error: process {rank} of {nproc} {how}; the others were stopped "
                "(the last checkpoint in the run directory loads)\n"
            )
            return 1
        return failure.exitcode  # the rank said what went wrong itself, in one line
    return 0
