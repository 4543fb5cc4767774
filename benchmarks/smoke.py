"""What every benchmark's `--smoke` shares. A helper module, not a script (it has no `__main__` block,
which is the rule tests/test_benchmarks.py uses to tell the two apart).

A smoke run is the benchmark's own code path end to end with a few steps and tiny data, so that a refactor
cannot leave a script broken unseen. Its figures mean nothing. It writes only under one throwaway folder
(made under $TMPDIR, removed at exit) which is also $GANTERM_DATA_DIR for the run and its subprocesses:
a classifier trained for a few steps must never land in the user's real FCD cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

SMOKE_HELP = "a few steps on tiny data, outputs in a temporary folder: checks that it runs, measures nothing"


def smoke_root(name: str) -> Path:
    """A fresh folder for everything this smoke run writes; also the data/cache root (GANTERM_DATA_DIR)."""
    root = Path(tempfile.mkdtemp(prefix=f"ganterm-smoke-{name}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    os.environ["GANTERM_DATA_DIR"] = str(root / "data")
    # One thread (subprocesses too): on a shared machine two spinning threads per run are what slows a
    # smoke run down most; the figures are not the point.
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    print(f"smoke run: a few steps on tiny data, figures are meaningless; scratch folder {root}")
    return root


def tiny_classifier(dataset: Any, steps: int = 20) -> None:
    """Train the FCD classifier for a few steps where `load_or_train_classifier` will find it (under the
    smoke root's GANTERM_DATA_DIR), instead of its 3,000 steps."""
    from ganterm.data.cache import ENV_DATA_DIR
    from ganterm.eval.fcd import classifier_path, save_classifier, train_classifier

    assert ENV_DATA_DIR in os.environ, "call smoke_root() first: a toy classifier must miss the real cache"
    path = classifier_path(dataset)
    if not path.exists():
        net, accuracy = train_classifier(dataset, steps=steps, max_images=500)
        save_classifier(path, net, accuracy, dataset.name)
