"""One-file checkpoints: plain data only, written atomically, read without unpickling code.

A checkpoint is one dict (nanoGPT's habit) of tensors and plain Python types, so that
`torch.load(weights_only=True)` can read it: a `.pt` that carries a pickled object is refused and its
payload never runs.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganterm.errors import CheckpointError

# 2: networks, optimizers and weight averages by name ("modules", "optimizers", "emas") and the fixed
# latents as a dict; 1 held exactly G, D, G_ema, opt_g, opt_d and fixed_noise (read through `_upgrade`).
FORMAT_VERSION = 2
FORMAT_KEY = "ganterm_format"


def to_storable(obj: Any) -> Any:
    """numpy arrays -> tensors, tuples -> lists, recursively: what weights_only loading accepts."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_storable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_storable(v) for v in obj]
    return obj


def to_numpy_tree(obj: Any) -> Any:
    """The inverse for metric history and samples: tensors -> numpy arrays."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu().numpy()
    if isinstance(obj, dict):
        return {k: to_numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_numpy_tree(v) for v in obj]
    return obj


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically: temporary file in the same directory, flush, fsync, rename, fsync the directory.

    A crash at any moment leaves either the previous file or the new one, never a torn file under `path`.
    """
    path = Path(path)
    payload = {FORMAT_KEY: FORMAT_VERSION, **to_storable(payload)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename itself is still atomic
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a ganterm checkpoint; every failure is one CheckpointError line."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no such checkpoint: {path}")
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory; give a .pt checkpoint file (or use `ganterm view DIR`)"
        )
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refuses any global (a class or function to call) it does not know: the payload
        # is never executed. Other unpickling failures are plain garbage (a PNG, random bytes).
        if "global" in str(e).lower():
            raise CheckpointError(
                f"refusing {path}: it contains pickled Python objects, not plain data "
                "(it could run code); ganterm only opens checkpoints it wrote"
            ) from None
        raise CheckpointError(
            f"{path} is not a checkpoint (unreadable data); give a ganterm .pt file"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError):
        # torch's own messages here are long and about zip internals; the file is what matters.
        raise CheckpointError(
            f"{path} is truncated or damaged (not a complete checkpoint); use an earlier checkpoint"
        ) from None
    except Exception as e:  # torch raises assorted types on foreign files; never a traceback
        raise CheckpointError(f"{path} is not a ganterm checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or FORMAT_KEY not in ckpt:
        raise CheckpointError(f"{path} is a PyTorch file but not a ganterm checkpoint")
    version = ckpt[FORMAT_KEY]
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(
            f"{path} has an unknown ganterm format version {version!r} (this ganterm reads "
            f"{FORMAT_VERSION}): it was not written by a released ganterm and cannot be opened"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer ganterm (format {version}; this one reads {FORMAT_VERSION}): "
            "upgrade with `pip install -U ganterm`"
        )
    if version == 1:
        missing = [k for k in ("config", "step", "G", "D", "fixed_noise") if k not in ckpt]
        if missing:
            raise CheckpointError(f"{path} is incomplete: missing {', '.join(missing)}")
        ckpt = _upgrade(ckpt)
    missing = [k for k in ("config", "step", "modules", "fixed_latent") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is incomplete: missing {', '.join(missing)}")
    return ckpt


def _upgrade(old: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (one G, one D) in format 2's terms; it resumes and samples as before."""
    new = {k: v for k, v in old.items() if k not in ("G", "D", "G_ema", "opt_g", "opt_d", "fixed_noise")}
    new["modules"] = {"G": old["G"], "D": old["D"]}
    new["emas"] = {"G": old["G_ema"]} if old.get("G_ema") is not None else {}
    new["optimizers"] = {k: old[o] for k, o in (("G", "opt_g"), ("D", "opt_d")) if o in old}
    new["fixed_latent"] = {"z": old["fixed_noise"]}
    new["prior"] = {"z_dim": int(old["fixed_noise"].shape[1])}
    new["algo"] = "gan"
    new[FORMAT_KEY] = FORMAT_VERSION
    return new


def checkpoint_files(directory: str | Path) -> list[Path]:
    """Checkpoints in a run directory, oldest first by step number in the name."""
    d = Path(directory)
    if (d / "checkpoints").is_dir():
        d = d / "checkpoints"
    return sorted(p for p in d.glob("*.pt") if not p.name.startswith("."))


def newest_loadable(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads (a torn or hostile newer file is skipped)."""
    for p in reversed(checkpoint_files(directory)):
        try:
            return p, load_checkpoint(p)
        except CheckpointError:
            continue
    return None
