"""FCD: a Frechet distance on the penultimate features of a small CNN trained on the dataset itself.

Inception-FID needs a 100 MB network trained on ImageNet; ganterm trains instead a ~30k-parameter
classifier on the dataset's own labels the first time it is asked (seconds on a CPU for `shapes`) and
caches it under `<data cache>/fcd/`. The figure ranks generators of one dataset against each other; its
scale is its own, so it is always shown as "FCD (not comparable to Inception-FID)".
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganterm.algos.augment import translation
from ganterm.data.base import Dataset
from ganterm.data.cache import cache_dir
from ganterm.errors import DataError

LABEL = "FCD (not comparable to Inception-FID)"
FORMAT = 2  # 2: width 32, a fixed number of steps with shifted copies (format 1 was under-trained)
FEATURES = 64
WIDTH = 32
# Classifier training: a fixed number of steps (not epochs: 5,000 real digits were 105 steps, 53 %
# accuracy), each batch shifted by up to 2 pixels, the rate annealed by a cosine. On 4,500 real MNIST
# digits: 97.8 % held-out accuracy and 92 % of held-out digits at p > 0.9, in ~60 s on a 2-core CPU
# (width 16 and epochs: 53 %; width 16 and 3,000 steps: 95.8 %).
TRAIN_STEPS = 3000
TRAIN_MAX = 20_000
TRAIN_BATCH = 128
TRAIN_SEED = 0
SHIFT = 2
LR = 2e-3


class FeatureNet(nn.Module):
    """Three strided 3x3 convs, a global average pool, a FEATURES-wide layer (the FCD features), logits."""

    def __init__(self, channels: int, n_classes: int, width: int = WIDTH) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def classifier_path(dataset: Dataset, data_dir: str | Path | None = None) -> Path:
    c, size = dataset.shape[0], dataset.shape[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name)
    return cache_dir(data_dir) / "fcd" / f"{name}-{size}-{c}.pt"


def _n_classes(dataset: Dataset) -> int:
    if dataset.labels is None or dataset.data is None:
        raise DataError(f"FCD needs a labelled image dataset; {dataset.name!r} has no labels")
    return int(dataset.labels.max()) + 1


def new_classifier(dataset: Dataset) -> FeatureNet:
    """The untrained classifier, initialised from TRAIN_SEED; the caller's global random stream is left
    as it was (call it in the thread that owns that stream: `train_classifier` may then run elsewhere)."""
    torch_state = torch.get_rng_state()  # keep the caller's (the trainer's) random stream untouched
    torch.manual_seed(TRAIN_SEED)
    net = FeatureNet(dataset.shape[0], _n_classes(dataset))
    torch.set_rng_state(torch_state)
    return net


def train_classifier(
    dataset: Dataset,
    device: torch.device | str = "cpu",
    *,
    steps: int | None = None,
    max_images: int | None = None,
    net: FeatureNet | None = None,
    stop: threading.Event | None = None,
) -> tuple[FeatureNet, float]:
    """Train on up to `max_images` labelled images (10 % held out); returns the net and held-out accuracy.
    `net`: a `new_classifier` made beforehand (else one is made here). `stop`, once set, ends the training
    at the next step (the net is then unfinished: the caller, who set it, discards it)."""
    assert dataset.data is not None and dataset.labels is not None
    steps = TRAIN_STEPS if steps is None else steps
    max_images = TRAIN_MAX if max_images is None else max_images
    g = torch.Generator().manual_seed(TRAIN_SEED)
    net = (net or new_classifier(dataset)).to(device)
    order = torch.randperm(dataset.size, generator=g)[: min(dataset.size, max_images)]
    n_test = max(1, len(order) // 10)
    test_idx, train_idx = order[:n_test], order[n_test:]
    x_all = dataset.data.float()
    y_all = dataset.labels.long()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    net.train()
    for step in range(steps):
        if stop is not None and stop.is_set():
            break
        for group in opt.param_groups:
            group["lr"] = LR * 0.5 * (1 + math.cos(math.pi * step / max(1, steps)))
        pick = train_idx[torch.randint(len(train_idx), (TRAIN_BATCH,), generator=g)].to(x_all.device)
        # shifted copies, the border filled with the background (-1)
        x = translation(x_all[pick].cpu(), g, pixels=SHIFT, fill=-1.0).to(device)
        loss = nn.functional.cross_entropy(net(x), y_all[pick].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        idx = test_idx.to(x_all.device)
        pred = torch.cat(
            [net(x_all[idx[i : i + 1000]].to(device)).argmax(1).cpu() for i in range(0, len(idx), 1000)]
        )
        accuracy = float((pred == y_all[idx].cpu()).float().mean())
    return net, accuracy


def load_or_train_classifier(
    dataset: Dataset, device: torch.device | str = "cpu", data_dir: str | Path | None = None
) -> FeatureNet:
    """The cached classifier for this dataset, size and channel count; trained and cached on first use."""
    net = cached_classifier(dataset, device, data_dir)
    if net is not None:
        return net
    path = classifier_path(dataset, data_dir)
    t0 = time.perf_counter()
    net, accuracy = train_classifier(dataset, device)
    with contextlib.suppress(OSError):  # an unwritable cache only costs retraining next time
        save_classifier(path, net, accuracy, dataset.name, time.perf_counter() - t0)
    return net.eval()


def cached_classifier(
    dataset: Dataset, device: torch.device | str = "cpu", data_dir: str | Path | None = None
) -> FeatureNet | None:
    """The cached classifier in eval mode, or None when there is none of this format (or it is torn)."""
    path = classifier_path(dataset, data_dir)
    n_classes = _n_classes(dataset)
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("format") == FORMAT and saved.get("n_classes") == n_classes:
                net = FeatureNet(dataset.shape[0], n_classes)
                net.load_state_dict(saved["state"])
                return net.to(device).eval()
        except Exception:  # a torn or foreign file: the caller retrains and overwrites it
            pass
    return None


def save_classifier(path: Path, net: FeatureNet, accuracy: float, dataset: str, train_s: float = 0.0) -> None:
    """Plain data (readable with weights_only=True), written atomically like a checkpoint."""
    from ganterm.training.checkpoint import save_checkpoint

    payload = {
        "format": FORMAT,
        "n_classes": net.head.out_features,
        "accuracy": accuracy,
        "dataset": dataset,
        "train_s": train_s,
        "state": {k: v.cpu() for k, v in net.state_dict().items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, payload)  # a concurrent reader sees the old file or the new one, never a torn one


@torch.no_grad()
def feature_stats(net: FeatureNet, images: torch.Tensor, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of the classifier's penultimate features over `images`."""
    device = next(net.parameters()).device
    feats = torch.cat(
        [
            net.features(images[i : i + batch].to(device).float().clamp(-1, 1)).double().cpu()
            for i in range(0, len(images), batch)
        ]
    ).numpy()
    return feats.mean(0), np.cov(feats, rowvar=False)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)) between two Gaussians.

    tr((S1 S2)^(1/2)) is the sum of square roots of the eigenvalues of S1 S2, which equal those of the
    symmetric PSD matrix S1^(1/2) S2 S1^(1/2): symmetric eigen-solvers only, no complex parts to discard.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    return max(0.0, float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean))


def fcd_images(
    fake: torch.Tensor,
    dataset: Dataset,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    data_dir: str | Path | None = None,
    net: FeatureNet | None = None,
) -> float:
    """FCD between `fake` (N, C, H, W) in [-1, 1] and as many real images drawn with `seed`; `net` is
    the dataset's classifier when the caller has it already (else it is loaded or trained)."""
    assert dataset.data is not None
    if fake.shape[1:] != tuple(dataset.shape):
        raise DataError(f"FCD: images of shape {tuple(fake.shape[1:])} do not match the data {dataset.shape}")
    net = net or load_or_train_classifier(dataset, device or "cpu", data_dir)
    pick = torch.randperm(dataset.size, generator=torch.Generator().manual_seed(seed))[: len(fake)]
    real = dataset.data[pick.to(dataset.data.device)]
    return frechet_distance(*feature_stats(net, fake), *feature_stats(net, real))


@torch.no_grad()
def class_probabilities(net: FeatureNet, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """(N, n_classes) softmax of the classifier over `images` in [-1, 1]."""
    device = next(net.parameters()).device
    return torch.cat(
        [
            torch.softmax(net(images[i : i + batch].to(device).float().clamp(-1, 1)), 1).cpu()
            for i in range(0, len(images), batch)
        ]
    )


def class_stats(probs: torch.Tensor, confident: float = 0.9) -> dict[str, object]:
    """Which class the classifier calls each sample, as shares, and the share it calls with p > 0.9.

    Mode collapse shows as a few classes taking most samples; blurry or broken samples as a low
    confident share. Real images of the dataset score the ceiling of both (about 92 % confident on
    held-out real digits).
    """
    top, cls = probs.max(1)
    shares = torch.bincount(cls, minlength=probs.shape[1]).float() / max(1, len(cls))
    return {
        "class_shares": [round(float(v), 4) for v in shares],
        "confident": float((top > confident).float().mean()),
        "classes_present": int((shares >= 0.01).sum()),  # a class under 1 % of samples counts as missing
        "max_share": float(shares.max()),
        "min_share": float(shares.min()),
    }
