"""DiffAugment: same shapes, differentiable, reproducible from the generator, off for 2-D data."""

from __future__ import annotations

import pytest
import torch
from test_trainer import assert_reaches_d_and_resumes_exactly

from ganterm.algos.augment import DiffAugment, cutout, translation
from ganterm.config import TrainConfig, parse_augment, resolve
from ganterm.errors import UsageError


def test_policy_parsing():
    assert parse_augment("translation, cutout") == ("translation", "cutout")
    assert parse_augment("none") == () and parse_augment(None) == ()
    with pytest.raises(UsageError, match="unknown augmentation 'flip'"):
        parse_augment("translation,flip")
    with pytest.raises(UsageError, match="2-D data"):
        resolve(TrainConfig(dataset="ring", augment="translation"))


def test_transforms_keep_shape_carry_gradients_and_repeat_with_the_seed():
    aug = DiffAugment("color,translation,cutout")
    x = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not torch.equal(aug(x, torch.Generator().manual_seed(6)), a)


def test_translation_moves_content_and_fills_with_zero():
    x = torch.zeros(200, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    y = translation(x, torch.Generator().manual_seed(0))
    where = [tuple(torch.nonzero(im[0])[0].tolist()) for im in y]
    assert all(abs(r - 3) <= 1 and abs(c - 3) <= 1 for r, c in where)  # at most 1/8 of 8 pixels
    assert len(set(where)) == 9  # every shift in [-1, 1]^2 happens
    assert float(y.sum()) == 200.0  # nothing else moved in


def test_cutout_zeroes_a_quarter_or_less():
    x = torch.ones(100, 1, 8, 8)
    y = cutout(x, torch.Generator().manual_seed(0))
    zeroed = (y == 0).flatten(1).sum(1)
    assert zeroed.max() == 16 and zeroed.min() >= 4  # a 4x4 square, clipped at the border


def test_augmented_training_resumes_exactly(tmp_path):
    kw = dict(dataset="shapes", model="mlp", steps=8, ckpt_every=4, batch_size=8, precision="fp32")
    kw.update(augment="color,translation,cutout", image_size=28)
    assert_reaches_d_and_resumes_exactly(tmp_path, kw, {"augment": "none"})
