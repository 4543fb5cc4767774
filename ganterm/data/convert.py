"""uint8 image arrays -> float32 (N, C, S, S) tensors in [-1, 1], resized and re-channelled."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Images converted per step: keeps the float temporaries small next to the uint8 source.
_CHUNK = 4096
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def to_float_images(images: np.ndarray, image_size: int, channels: int) -> torch.Tensor:
    """(N, C, H, W) uint8 with C in {1, 3} -> (N, channels, image_size, image_size) float32 in [-1, 1].

    Grey becomes colour by repeating the channel; colour becomes grey by luma weights.
    """
    n, c, h, w = images.shape
    out = torch.empty(n, channels, image_size, image_size)
    for start in range(0, n, _CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(images[start : start + _CHUNK])).float()
        x = x.mul_(1 / 127.5).sub_(1.0)
        if c == 3 and channels == 1:
            x = (x * _LUMA).sum(dim=1, keepdim=True)
        if (h, w) != (image_size, image_size):
            # Antialias only when shrinking; bilinear upsampling of 28 -> 32/64 is smooth already.
            x = F.interpolate(
                x,
                size=(image_size, image_size),
                mode="bilinear",
                align_corners=False,
                antialias=image_size < min(h, w),
            ).clamp_(-1.0, 1.0)
        out[start : start + len(x)] = x.expand(-1, channels, -1, -1) if x.shape[1] != channels else x
    return out
