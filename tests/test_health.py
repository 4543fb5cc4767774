"""HealthMonitor on synthetic streams: each alert fires once at the right step, never on a healthy run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ganterm.training.health import HINTS, Alert, HealthMonitor, mean_pairwise_distance

HEALTHY = {"d_loss": 1.2, "g_loss": 0.9, "d_real": 0.7, "d_fake": 0.35, "grad_g": 0.8, "grad_d": 1.5}
D_WINS = {"d_real": 0.99, "d_fake": 0.01}


def healthy(rng: np.random.Generator, probabilistic: bool = True) -> dict:
    m = {k: v * float(rng.uniform(0.7, 1.3)) for k, v in HEALTHY.items()}
    m["probabilistic"] = probabilistic
    return m


def run(monitor: HealthMonitor, steps: range, metrics_at) -> list[Alert]:
    alerts: list[Alert] = []
    for step in steps:
        alerts += monitor.observe(step, metrics_at(step))
    return alerts


def test_healthy_stream_raises_nothing() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor()
    alerts = run(monitor, range(0, 5000, 10), lambda s: healthy(rng))
    for step in range(0, 5000, 100):
        alerts += monitor.observe_samples(step, rng.normal(size=(64, 2)))
    assert alerts == []
    assert monitor.active == frozenset()


def test_healthy_wgan_stream_raises_nothing() -> None:
    """Critic values far from probabilities, losses in the tens: not an alarm for a non-probabilistic loss."""
    rng = np.random.default_rng(1)

    def wgan(step: int) -> dict:
        v = float(rng.normal(30, 10))
        return {"d_loss": -v, "g_loss": v, "d_real": 40.0, "d_fake": -40.0, "grad_g": 5.0, "grad_d": 20.0,
                "probabilistic": False}  # fmt: skip

    assert run(HealthMonitor(), range(3000), wgan) == []


@pytest.mark.parametrize(
    ("key", "value"), [("g_loss", math.nan), ("d_loss", math.inf), ("grad_d", -math.inf)]
)
def test_nonfinite_at_the_exact_step(key: str, value: float) -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(window=50)

    def metrics(step: int) -> dict:
        m = healthy(rng)
        if 537 <= step < 545 or step == 600:
            m[key] = value
        return m

    alerts = run(monitor, range(700), metrics)
    assert [(a.step, a.kind, a.severity) for a in alerts] == [
        (537, "nonfinite", "error"),
        (600, "nonfinite", "error"),
    ]
    assert key in alerts[0].message
    assert alerts[0].hint == HINTS["nonfinite"]
    assert "roll back" in alerts[0].hint


def test_nonfinite_values_stay_out_of_the_windows() -> None:
    monitor = HealthMonitor(window=10)
    run(monitor, range(20), lambda s: {**HEALTHY, "grad_g": math.nan if s % 2 else 1.0})
    assert "vanishing_g" not in monitor.active


def test_d_wins_fires_once_when_most_of_the_window_agrees() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(window=100)

    def metrics(step: int) -> dict:
        m = healthy(rng)
        if 300 <= step < 600 or step >= 900:
            m.update(D_WINS)
        return m

    alerts = run(monitor, range(1200), metrics)
    # The window (t-100, t] holds 100 observations; their median turns bad at the 51st bad one.
    assert [(a.step, a.kind) for a in alerts] == [(350, "d_wins"), (950, "d_wins")]
    assert alerts[0].severity == "warning"
    assert "--lr-d" in alerts[0].hint and "wgan-gp" in alerts[0].hint
    assert "0.990" in alerts[0].message


def test_d_wins_ignores_a_spike_and_non_probabilistic_losses() -> None:
    rng = np.random.default_rng(0)
    # 30 bad steps in every 100 never make a majority of the window.
    spike = run(
        HealthMonitor(window=100), range(500), lambda s: {**healthy(rng), **(D_WINS if s % 100 < 30 else {})}
    )
    assert spike == []
    wgan = run(HealthMonitor(window=100), range(500), lambda s: {**healthy(rng, False), **D_WINS})
    assert wgan == []


def test_a_loss_swap_restarts_the_probability_window() -> None:
    monitor = HealthMonitor(window=100)
    run(monitor, range(300), lambda s: {**HEALTHY, **D_WINS, "probabilistic": s >= 200})
    # 100 probabilistic steps (200..299) fill the window only at step 299: the median turns at 250.
    assert "d_wins" in monitor.active
    other = HealthMonitor(window=100)
    alerts = run(other, range(300), lambda s: {**HEALTHY, **D_WINS, "probabilistic": s >= 220})
    assert alerts == []  # 80 steps since the swap: not yet a whole window


def test_observed_every_ten_steps() -> None:
    """The window is in steps, whatever the publishing rate."""
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(window=200)
    alerts = run(monitor, range(0, 2000, 10), lambda s: {**healthy(rng), **(D_WINS if s >= 1000 else {})})
    # (t-200, t] holds 20 observations; the 11th bad one is at step 1100.
    assert [(a.step, a.kind) for a in alerts] == [(1100, "d_wins")]


def test_vanishing_g() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(window=100)
    alerts = run(monitor, range(1000), lambda s: {**healthy(rng), **({"grad_g": 1e-6} if s >= 500 else {})})
    assert [(a.step, a.kind) for a in alerts] == [(550, "vanishing_g")]
    assert "1.0e-06" in alerts[0].message


def test_divergence_past_the_bound() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(window=100)
    big = {"d_loss": 3e5, "g_loss": 2e5}
    alerts = run(monitor, range(1500), lambda s: {**healthy(rng), **(big if 1000 <= s < 1200 else {})})
    assert [(a.step, a.kind) for a in alerts] == [(1050, "divergence")]
    assert "lower" in alerts[0].hint


def test_divergence_by_orders_of_magnitude() -> None:
    """Growth by 10x every 100 steps from a loss near 1: alarm once it is ~1000x, before the 1e4 bound."""
    monitor = HealthMonitor(window=100)

    def metrics(step: int) -> dict:
        level = 10 ** max(0.0, (step - 1000) / 100)
        return {**HEALTHY, "d_loss": level, "g_loss": -level, "probabilistic": True}

    alerts = run(monitor, range(1600), metrics)
    assert [a.kind for a in alerts] == ["divergence"]
    # The window median lags ~50 steps behind; 1000x is reached at step 1300.
    assert 1340 <= alerts[0].step <= 1360


def test_mode_collapse() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor()
    alerts = []
    for step in range(0, 2000, 50):
        collapsed = 500 <= step < 800 or step >= 1500
        samples = rng.normal(size=(64, 2)) * (0.01 if collapsed else 1.0)
        alerts += monitor.observe_samples(step, samples)
    assert [(a.step, a.kind) for a in alerts] == [(500, "mode_collapse"), (1500, "mode_collapse")]
    assert "%" in alerts[0].message
    assert monitor.last_diversity is not None and monitor.last_diversity < 0.1


def test_mode_collapse_reference_is_the_early_maximum() -> None:
    """Samples that start identical (an untrained G), then spread: the early maximum is the reference."""
    monitor = HealthMonitor(reference_samples=3)
    rng = np.random.default_rng(0)
    scales = [0.0, 0.1, 1.0, 0.3, 0.2]  # the third sets the reference; 0.2 < 25% of it
    alerts = [
        a for i, s in enumerate(scales) for a in monitor.observe_samples(i, rng.normal(size=(64, 2)) * s)
    ]
    assert [(a.step, a.kind) for a in alerts] == [(4, "mode_collapse")]


def test_mode_collapse_on_uint8_images() -> None:
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(reference_samples=1)
    assert monitor.observe_samples(0, rng.integers(0, 256, size=(16, 28, 28, 1), dtype=np.uint8)) == []
    same = np.repeat(rng.integers(0, 256, size=(1, 28, 28, 1), dtype=np.uint8), 16, axis=0)
    assert [a.kind for a in monitor.observe_samples(1, same)] == ["mode_collapse"]


def test_mean_pairwise_distance() -> None:
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
    assert mean_pairwise_distance(np.ones((10, 4, 4), dtype=np.uint8)) == 0.0
    assert mean_pairwise_distance(np.zeros((1, 2))) == 0.0


def test_reset_lets_an_alert_fire_again() -> None:
    monitor = HealthMonitor(window=10)
    nan = {**HEALTHY, "g_loss": math.nan}
    assert [a.kind for a in monitor.observe(5, nan)] == ["nonfinite"]
    assert monitor.observe(6, nan) == []
    monitor.reset()
    assert [a.kind for a in monitor.observe(7, nan)] == ["nonfinite"]


def test_a_step_going_back_starts_over() -> None:
    monitor = HealthMonitor(window=10)
    run(monitor, range(100), lambda s: {**HEALTHY, **D_WINS, "probabilistic": True})
    assert "d_wins" in monitor.active
    # Rolled back to step 50 without reset(): the old window describes a run that no longer exists.
    assert monitor.observe(50, {**HEALTHY, "probabilistic": True}) == []
    assert monitor.active == frozenset()


def test_missing_keys_skip_their_checks() -> None:
    monitor = HealthMonitor(window=10)
    assert run(monitor, range(100), lambda s: {"d_loss": 1.0, "g_loss": 1.0}) == []


def test_state_dict_round_trip_continues_the_same_way() -> None:
    rng = np.random.default_rng(0)
    stream = [{**healthy(rng), **(D_WINS if s >= 150 else {})} for s in range(400)]
    a = HealthMonitor(window=100)
    run(a, range(120), lambda s: stream[s])
    a.observe_samples(100, rng.normal(size=(8, 2)))
    state = json.loads(json.dumps(a.state_dict()))  # plain types only
    b = HealthMonitor(window=100)
    b.load_state_dict(state)
    assert b.state_dict() == a.state_dict()
    alerts_a = run(a, range(120, 400), lambda s: stream[s])
    alerts_b = run(b, range(120, 400), lambda s: stream[s])
    assert alerts_a == alerts_b
    assert [(x.step, x.kind) for x in alerts_a] == [(200, "d_wins")]


@pytest.mark.parametrize("loss", ["ns", "minimax", "lsgan", "hinge"])
def test_hints_fit_the_loss_the_run_uses(loss: str) -> None:
    rng = np.random.default_rng(0)
    alerts = run(HealthMonitor(window=50), range(200), lambda s: {**healthy(rng), **D_WINS, "loss": loss})
    hint = next(a.hint for a in alerts if a.kind == "d_wins")
    assert f"to {loss} " not in hint and f"or {loss} " not in hint and f"to {loss}" != hint[-len(loss) - 3 :]
    assert "(key l)" in hint
    if loss == "minimax":
        assert "swap the loss to ns" in hint  # the way out of minimax's vanishing gradient
    if loss == "ns":
        assert "--r1" in hint and "wgan-gp" in hint


def test_hint_for_without_a_loss_is_the_generic_one() -> None:
    from ganterm.training.health import hint_for

    assert hint_for("d_wins") == HINTS["d_wins"]
    assert hint_for("divergence", "ns") == HINTS["divergence"]
