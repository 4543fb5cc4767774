"""Downloads on first use: mirrors in order, a checksum, and a temporary file renamed only when verified.

An interrupted or corrupt transfer never leaves a file under its final name, so "the file exists" always
means "the file was complete and verified" (or the user put it there).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganterm.data.progress import ProgressArg, progress_context
from ganterm.errors import DataError

ENV_MIRRORS = "GANTERM_MIRRORS"
TIMEOUT_S = 30.0
_CHUNK = 1 << 16

# Dataset key -> file name -> "algorithm:hexdigest". Module-level so tests can swap in their own files.
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {"cifar-10-python.tar.gz": "md5:c58f30108f718f92721af3b95e74349a"},
}
# Base URLs tried in order; $GANTERM_MIRRORS (comma-separated) replaces them for every dataset.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}


class _TransferError(Exception):
    """One mirror failed for one file; the caller tries the next mirror."""


def mirrors_for(key: str) -> list[str]:
    """The base URLs to try for a dataset, $GANTERM_MIRRORS first."""
    env = os.environ.get(ENV_MIRRORS, "")
    bases = [b.strip() for b in env.split(",") if b.strip()] or list(MIRRORS.get(key, ()))
    return [b if b.endswith("/") else b + "/" for b in bases]


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or err
    return " ".join(str(reason).split()) or type(err).__name__


def download_file(
    url: str, dest: Path, *, checksum: str | None, progress: Any = None, timeout: float = TIMEOUT_S
) -> None:
    """Fetch `url` to `dest` through a temporary file in the same folder; rename only once verified.

    `progress` is a rich Progress (or None). Raises _TransferError with a one-line reason.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "ganterm"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    task = (
                        progress.add_task(f"downloading {dest.name}", total=total, unit="bytes")
                        if progress is not None
                        else None
                    )
                    received = 0
                    while block := resp.read(_CHUNK):
                        out.write(block)
                        received += len(block)
                        if task is not None:
                            progress.update(task, completed=received)
            except (OSError, http.client.HTTPException, ValueError) as err:
                # A connection closed before Content-Length bytes ends here as http.client.IncompleteRead.
                raise _TransferError(f"{url}: {_one_line(err)}") from err
        if checksum is not None:
            algorithm, _, expected = checksum.partition(":")
            actual = file_digest(tmp, algorithm)
            if actual != expected.lower():
                raise _TransferError(f"{url}: checksum mismatch ({algorithm} {actual}, expected {expected})")
        os.replace(tmp, dest)
    finally:
        # Covers failures and Ctrl-C alike: only a verified file ever gets its final name.
        tmp.unlink(missing_ok=True)


def _progress_bar(progress: ProgressArg) -> Any:
    return progress_context(progress, _rich_download_bar)


def _rich_download_bar() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def fetch(
    key: str,
    files: Sequence[str],
    dest: Path,
    *,
    title: str,
    progress: ProgressArg = True,
    put_hint: str | None = None,
    timeout: float = TIMEOUT_S,
) -> list[Path]:
    """Make sure each of `files` is in `dest`, downloading the missing ones from the mirrors.

    Files already present are trusted (the user may have put them there). On failure raises DataError with
    one line naming the files and the folder to put them in (`put_hint` replaces the file list).
    """
    paths = [dest / name for name in files]
    missing = [p for p in paths if not p.exists()]
    if not missing:
        return paths
    table = CHECKSUMS.get(key, {})
    bases = mirrors_for(key)
    created = [p for p in (dest, *dest.parents) if not p.exists()]  # a failure takes them back if empty
    with _progress_bar(progress) as bar:
        for path in missing:
            reasons = []
            for base in bases:
                try:
                    download_file(
                        base + path.name, path, checksum=table.get(path.name), progress=bar, timeout=timeout
                    )
                    break
                except _TransferError as err:
                    reasons.append(str(err))
            else:
                why = reasons[-1] if reasons else f"no mirror configured (set {ENV_MIRRORS})"
                if len(reasons) > 1:
                    why = f"{len(reasons)} mirrors failed, last: {why}"
                wanted = put_hint or ", ".join(p.name for p in missing if not p.exists())
                if getattr(bar, "live", None) is not None:
                    bar.live.transient = True  # the one-line error below replaces the bar, in a log too
                    if not bar.console.is_interactive:
                        bar.console.quiet = True  # Progress.stop() ends a log's bar with a blank line
                for folder in created:  # deepest first; one holding a verified file stays
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                raise DataError(
                    f"could not download {title} ({why}); put {wanted} into {dest}{os.sep} and run again"
                )
    return paths
