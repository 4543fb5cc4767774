"""The `ganterm` command: one module per group of commands, registered on one typer app.

Heavy modules are imported inside each command: torch alone costs ~1 s, Textual ~0.15 s, and
`ganterm --help` must stay well under a quarter of a second.
"""

from __future__ import annotations

import os
import sys

from ganterm.cli import inspect, tools, train  # noqa: F401  (each registers its commands on `app`)
from ganterm.cli.app import app, fail
from ganterm.errors import GantermError, is_out_of_memory

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    from typer import Abort
    from typer._click.exceptions import ClickException

    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into Exit(130), which without standalone mode it returns
            fail("interrupted", 130)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except GantermError as e:
        if os.environ.get("RANK", "0") not in ("", "0") and not getattr(e, "every_rank", False):
            raise SystemExit(e.exit_code) from None  # rank 0 says it once for the whole run
        fail(str(e), e.exit_code)
    except ClickException as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if getattr(e, "ctx", None) else ""
        fail(e.format_message().replace("\n", " ") + hint, e.exit_code)
    except (Abort, KeyboardInterrupt):
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None
    except OSError as e:
        fail(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "), 1)
    except Exception as e:
        if is_out_of_memory(e):
            fail(OUT_OF_MEMORY, 1)
        if os.environ.get("GANTERM_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [""])[0][:200]
        fail(f"internal error: {type(e).__name__}: {first} (run with GANTERM_DEBUG=1 for the traceback)", 1)


OUT_OF_MEMORY = (
    "the GPU ran out of memory; lower --batch-size or --image-size, use a smaller model (--model mlp), "
    "or try --precision bf16 (the last good checkpoint is in the run directory)"
)
