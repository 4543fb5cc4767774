"""Where training runs: the device a --device spec names, and whether it computes bf16 natively."""

from __future__ import annotations

import torch

from ganterm.errors import UsageError


def pick_device(spec: str) -> torch.device:
    """auto -> cuda, then mps, then cpu; an explicit device that is absent is a one-line error."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: no CUDA GPU is available here; use --device cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    if spec == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple MPS is not available here; use --device cpu or auto")
    return torch.device(spec)


def has_fast_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 natively: CUDA with bf16, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private but stable since torch 2.1
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False
