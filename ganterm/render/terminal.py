"""What the terminal can show, read from the environment only.

Nothing here writes an escape sequence to ask the terminal: such probes wait for an answer that may never come
over SSH or inside tmux, and would hang start-up.
"""

from __future__ import annotations

import codecs
import locale
import os
import sys
from collections.abc import Mapping
from typing import Any

from ganterm.errors import UsageError, choices_message

COLOR_SYSTEMS = ("truecolor", "256", "16", "none")

# The characters the renderers draw: half block, shades, braille (charts) and box drawing (chart frames).
_UNICODE_SAMPLE = "▀░▒▓█⣿┌─┐│"


def detect_color_system(env: Mapping[str, str] = os.environ, forced: str | None = None) -> str:
    """The colour depth to draw with: "truecolor", "256", "16" or "none".

    `forced` (a --color option) wins; then NO_COLOR (any non-empty value) gives "none"; COLORTERM
    "truecolor"/"24bit" gives "truecolor"; a TERM containing "256color" (xterm-, tmux-, screen-256color) gives
    "256"; TERM "dumb" gives "none"; anything else "16".
    """
    if forced is not None:
        if forced not in COLOR_SYSTEMS:
            raise UsageError(choices_message("color system", forced, COLOR_SYSTEMS))
        return forced
    if env.get("NO_COLOR", ""):
        return "none"
    if env.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = env.get("TERM", "").strip().lower()
    if "256color" in term:
        return "256"
    if term == "dumb":
        return "none"
    return "16"


def supports_unicode(encoding: str | None = None) -> bool:
    """Whether `encoding` (default: stdout's, else the locale's) can encode block, braille and box glyphs."""
    if encoding is None:
        encoding = getattr(sys.stdout, "encoding", None) or locale.getpreferredencoding(False)
    try:
        codecs.encode(_UNICODE_SAMPLE, encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def ascii_only(console: Any) -> bool:
    """Whether a Rich console lacks braille / block / box glyphs (the test HalfBlockImage makes too)."""
    options = console.options
    return bool(options.ascii_only) or not supports_unicode(options.encoding)
