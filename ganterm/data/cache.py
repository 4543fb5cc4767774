"""Where downloaded datasets live."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "GANTERM_DATA_DIR"


def cache_dir(data_dir: str | Path | None = None) -> Path:
    """The data root: the argument (`--data-dir`), else $GANTERM_DATA_DIR, else the user cache.

    Nothing is created here; downloads make their own folder when they need it.
    """
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    # Imported here: platformdirs is only needed when neither override is given.
    import platformdirs

    return Path(platformdirs.user_cache_dir("ganterm")) / "data"
