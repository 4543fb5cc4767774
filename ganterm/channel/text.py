"""Strings read from a run directory or a checkpoint, made safe to put on a terminal.

Such a file can come from anyone: a name holding ESC sequences would recolour, move or retitle the
terminal, and one of 100 kB would fill the screen. Every string the reader or the checkpoint view puts
into a Feed goes through `shown` (control characters become visible escapes, length capped); widgets
draw them as Rich `Text`, never as markup, so `[bold]` stays those seven characters.
"""

from __future__ import annotations

import re

NAME_LIMIT = 120  # metric names, labels, config values
MESSAGE_LIMIT = 1000  # event messages

# C0 controls (tab and newline included: one value is one line), DEL, C1 controls, and the Unicode
# line/paragraph separators and bidi overrides that can reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    return f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}"


def shown(value: object, limit: int = NAME_LIMIT) -> str:
    """`value` as text with no character a terminal would act on, at most `limit` characters (an
    ellipsis marks a cut)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit:  # escapes grow a string at most 6x: cut first, so a 100 MB line costs little
        text = text[: 4 * limit]
    text = _UNSAFE.sub(_escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_clean_name(name: object, limit: int = NAME_LIMIT) -> bool:
    """A metric name usable as it is (a key, a chart's label): a short string with nothing to escape."""
    return isinstance(name, str) and 0 < len(name) <= limit and not _UNSAFE.search(name)
