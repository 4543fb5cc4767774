"""ganterm: a terminal training monitor for GANs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names loaded on first use, so `import ganterm` (and `ganterm --help`) stays cheap:
# name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "Run": ("ganterm.run", "Run"),
    "fit": ("ganterm.fitting", "fit"),
    "FitResult": ("ganterm.fitting", "FitResult"),
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from ganterm.fitting import FitResult, fit  # noqa: F401  (the lazy names, for type checkers)
    from ganterm.run import Run  # noqa: F401


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'ganterm' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
