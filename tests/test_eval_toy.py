"""The PacGAN protocol on synthetic sample sets whose answers are known."""

import math

import numpy as np
import pytest

from ganterm.data.toy import grid_modes, ring_modes
from ganterm.eval.toy import nearest_modes, reverse_kl, score_toy

RING_STD = 0.01


def perfect(modes: np.ndarray, std: float, per_mode: int, seed: int = 0) -> np.ndarray:
    # Exactly `per_mode` points per mode, within 1 std of the mean: all HQ, evenly spread.
    rng = np.random.default_rng(seed)
    pts = np.repeat(modes, per_mode, axis=0)
    return pts + std * np.clip(rng.standard_normal(pts.shape), -0.7, 0.7)


def test_perfect_ring_samples():
    s = score_toy(perfect(ring_modes(), RING_STD, 300), ring_modes(), RING_STD)
    assert s.modes == 8 and s.modes_total == 8
    assert s.hq_pct == 100.0
    assert s.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_perfect_grid_samples():
    s = score_toy(perfect(grid_modes(), 0.05, 100), grid_modes(), 0.05)
    assert (s.modes, s.modes_total, s.hq_pct) == (25, 25, 100.0)
    assert s.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_all_in_one_mode():
    modes = ring_modes()
    x = perfect(modes[3:4], RING_STD, 2500)
    s = score_toy(x, modes, RING_STD)
    assert s.modes == 1 and s.hq_pct == 100.0
    assert s.reverse_kl == pytest.approx(math.log(8))


def test_far_away_samples_are_not_hq():
    rng = np.random.default_rng(1)
    x = 10.0 + rng.standard_normal((2500, 2))
    s = score_toy(x, ring_modes(), RING_STD)
    assert s.hq_pct == 0.0 and s.modes == 0
    assert math.isnan(s.reverse_kl)


def test_between_modes_is_low_quality_and_threshold_is_3_std():
    modes = ring_modes()
    # On the radius through mode 0 at distances 2.9 std (HQ) and 3.1 std (not HQ).
    x = np.array([[1 + 2.9 * RING_STD, 0.0], [1 + 3.1 * RING_STD, 0.0], [0.0, 0.0]])
    s = score_toy(x, modes, RING_STD)
    assert s.hq_pct == pytest.approx(100 / 3)
    assert s.modes == 1


def test_mixed_histogram_and_nan_samples():
    modes = ring_modes()
    # Half the HQ samples in mode 0, half spread over modes 1..4: p = (1/2, 1/8 x 4, 0, 0, 0).
    x = np.concatenate(
        [np.repeat(modes[:1], 400, 0), np.repeat(modes[1:5], 100, 0), np.full((200, 2), np.nan)]
    )
    s = score_toy(x, modes, RING_STD)
    p = np.array([0.5, 0.125, 0.125, 0.125, 0.125])
    assert s.modes == 5
    assert s.hq_pct == pytest.approx(80.0)
    assert s.reverse_kl == pytest.approx(float((p * np.log(p * 8)).sum()))


def test_reverse_kl_edge_cases():
    assert reverse_kl(np.array([5, 5, 5])) == pytest.approx(0.0)
    assert reverse_kl(np.array([0, 7, 0, 0])) == pytest.approx(math.log(4))
    assert math.isnan(reverse_kl(np.zeros(4)))


def test_nearest_modes_shapes_are_checked():
    idx, dist = nearest_modes(np.array([[0.9, 0.0], [0.0, -1.0]]), ring_modes())
    assert idx.tolist() == [0, 6] and dist == pytest.approx([0.1, 0.0], abs=1e-12)
    with pytest.raises(ValueError):
        nearest_modes(np.zeros((3, 3)), ring_modes())
