"""The typer app every command registers on, and the one way a command fails."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

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


def fail(message: str, code: int = 1) -> NoReturn:
    from ganterm.channel.text import shown  # a message may quote a hostile file's strings: never raw ESC

    sys.stderr.write(f"ganterm: error: {shown(message, 4000)}\n")
    raise SystemExit(code)
