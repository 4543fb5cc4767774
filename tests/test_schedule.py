import math
from itertools import pairwise

import pytest

from ganterm.errors import UsageError
from ganterm.training.schedule import lr_factor


def test_none_is_flat():
    assert [lr_factor(s, 100) for s in (0, 50, 99)] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_flat_then_falls_towards_zero(decay):
    total = 1000
    f = [lr_factor(s, total, decay, start=0.4) for s in range(total)]
    assert f[:400] == [1.0] * 400
    assert all(a >= b for a, b in pairwise(f))  # never rises
    assert 0.0 < f[-1] < 0.01  # the last step still learns a little


def test_linear_midpoint_and_cosine_shape():
    assert lr_factor(750, 1000, "linear", start=0.5) == pytest.approx(0.5)
    assert lr_factor(750, 1000, "cosine", start=0.5) == pytest.approx(0.5)
    # cosine stays higher than linear early in the decay and lower late in it
    assert lr_factor(600, 1000, "cosine", 0.5) > lr_factor(600, 1000, "linear", 0.5)
    assert lr_factor(900, 1000, "cosine", 0.5) < lr_factor(900, 1000, "linear", 0.5)


def test_past_the_end_is_zero_not_negative():
    assert lr_factor(5000, 1000, "linear") == 0.0
    assert math.isclose(lr_factor(5000, 1000, "cosine"), 0.0, abs_tol=1e-12)


def test_start_zero_decays_from_the_first_step():
    assert lr_factor(0, 10, "linear", start=0.0) == 1.0
    assert lr_factor(5, 10, "linear", start=0.0) == pytest.approx(0.5)


def test_bad_values_are_usage_errors():
    with pytest.raises(UsageError, match="lr decay"):
        lr_factor(0, 10, "step")
    with pytest.raises(UsageError, match="fraction"):
        lr_factor(0, 10, "linear", start=1.0)


def test_trainer_rollback_keeps_its_lr_scale_under_the_decay(tmp_path):
    """A NaN rollback halves the rates; the decay then keeps scaling the halved rates."""
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.trainer import Trainer

    cfg = resolve(
        TrainConfig(
            dataset="ring",
            steps=80,
            batch_size=32,
            ckpt_every=20,
            sample_every=20,
            eval_every=0,
            out=str(tmp_path / "run"),
            on_nan="rollback",
            lr_decay="linear",
            lr_decay_start=0.0,
            extra={"inject_nan_at": 33},
        )
    )
    t = Trainer(cfg)
    t.run()
    last = lr_factor(79, 80, "linear", 0.0)
    assert t.state.optimizers["D"].param_groups[0]["lr"] == pytest.approx(cfg.lr_d * 0.5 * last)
    assert t.state.optimizers["G"].param_groups[0]["lr"] == pytest.approx(cfg.lr_g * 0.5 * last)
