"""shapes: deterministic for a seed, labels that match what is drawn, sizes and colour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganterm.data.shapes import CLASSES, make_shapes, shapes


def test_same_seed_same_images_other_seed_other_images() -> None:
    a, la = make_shapes(300, seed=5)
    b, lb = make_shapes(300, seed=5)
    c, _ = make_shapes(300, seed=6)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(a, c)


def test_dataset_layout_and_range() -> None:
    ds = shapes(seed=0, n=600)
    assert (ds.kind, ds.shape, ds.size) == ("images", (1, 28, 28), 600)
    assert ds.data is not None and ds.data.shape == (600, 1, 28, 28) and ds.data.dtype == torch.float32
    assert ds.data.min() >= -1 and ds.data.max() <= 1
    assert ds.labels is not None and set(ds.labels.tolist()) == {0, 1, 2}
    assert ds.info["classes"] == list(CLASSES) == ["circle", "square", "triangle"]
    batch = ds.sample(32, torch.Generator().manual_seed(0))
    assert batch.shape == (32, 1, 28, 28)


def _compactness(image: np.ndarray) -> float:
    """Area over squared farthest distance from the centroid: pi for a disc, 2 for a square, ~1.3 for a
    triangle, whatever the rotation."""
    mask = image > (image.min() + image.max()) / 2
    ys, xs = np.nonzero(mask)
    r2 = ((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2).max()
    return mask.sum() / r2


@pytest.mark.parametrize("size", [32, 64])
def test_labels_name_the_shape_drawn(size: int) -> None:
    images, labels = make_shapes(300, image_size=size, seed=2)
    assert images.shape == (300, 1, size, size)
    prototypes = np.array([math.pi, 2.0, 3 * math.sqrt(3) / 4])
    guessed = [np.abs(prototypes - _compactness(im[0].numpy())).argmin() for im in images]
    accuracy = np.mean(np.array(guessed) == labels.numpy())
    assert accuracy > 0.95


def test_three_channels_are_colourful_and_vary() -> None:
    ds = shapes(channels=3, seed=0, n=200)
    assert ds.data is not None and ds.shape == (3, 28, 28)
    x = ds.data
    channel_spread = (x.amax(dim=1) - x.amin(dim=1)).amax(dim=(1, 2))  # most saturated pixel per image
    assert (channel_spread > 0.3).float().mean() > 0.9
    hues = torch.stack([x[i, :, x[i].sum(0) == x[i].sum(0).max()][:, 0] for i in range(len(x))])
    assert hues.argmax(dim=1).unique().numel() == 3  # red, green and blue dominant shapes all occur


def test_brightness_and_size_vary() -> None:
    images, _ = make_shapes(200, seed=1)
    peak = images.amax(dim=(1, 2, 3))
    area = images > 0.5 * (
        images.amax(dim=(1, 2, 3), keepdim=True) + images.amin(dim=(1, 2, 3), keepdim=True)
    )
    area = area.float().sum(dim=(1, 2, 3))
    assert peak.std() > 0.2 and peak.min() > -0.5
    assert area.max() > 2.5 * area.min()
