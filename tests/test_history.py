import numpy as np

from ganterm.channel.history import METRIC_COLUMNS, MetricHistory


def _fill(h: MetricHistory, n: int, chunk: int = 10_000) -> np.ndarray:
    rng = np.random.default_rng(0)
    all_vals = []
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        steps = np.arange(start + 1, start + k + 1)
        vals = rng.normal(size=(k, len(METRIC_COLUMNS))).astype(np.float32)
        h.extend(steps, vals)
        all_vals.append(vals)
    return np.concatenate(all_vals)


def test_bounded_and_keeps_full_resolution_tail():
    h = MetricHistory(capacity=256, factor=4)
    vals = _fill(h, 100_000, chunk=777)
    assert len(h) <= 256 * 8  # a handful of levels, whatever the run length
    s = h.series("d_loss")
    # the newest rows are exact
    assert np.array_equal(s.mean[-100:], vals[-100:, 0])
    assert np.array_equal(s.x[-100:], np.arange(99_901, 100_001))
    # x is increasing and covers the whole run
    assert np.all(np.diff(s.x) > 0)
    assert h._levels[-1].step_lo[0] == 1 and s.x[-1] == 100_000


def test_min_max_mean_preserved_through_folding():
    h = MetricHistory(capacity=64, factor=4)
    vals = _fill(h, 5000, chunk=33)
    s = h.series("g_loss")
    assert np.isclose(s.lo.min(), vals[:, 1].min())
    assert np.isclose(s.hi.max(), vals[:, 1].max())
    # mean weighted by bucket size equals the true mean
    weights = np.concatenate([lv.count[: lv.n] for lv in reversed(h._levels)])
    assert np.isclose((s.mean * weights).sum() / weights.sum(), vals[:, 1].mean(), atol=1e-4)
    assert weights.sum() == 5000


def test_nan_rows_do_not_poison_buckets():
    h = MetricHistory(capacity=32, factor=4)
    vals = np.ones((200, len(METRIC_COLUMNS)), np.float32)
    vals[50, 0] = np.nan
    h.extend(np.arange(1, 201), vals)
    s = h.series("d_loss")
    assert np.isfinite(s.mean[:-5]).all()


def test_last_steps_window_and_round_trip():
    h = MetricHistory(capacity=128, factor=4)
    _fill(h, 3000, chunk=100)
    w = h.series("d_loss", last_steps=50)
    assert w.x.min() >= 2950 and w.x.max() == 3000
    h2 = MetricHistory.from_state_dict(h.state_dict())
    for c in METRIC_COLUMNS:
        a, b = h.series(c), h2.series(c)
        assert np.array_equal(a.x, b.x) and np.array_equal(a.mean, b.mean)
    h2.extend(np.array([3001]), np.zeros((1, len(METRIC_COLUMNS))))
    assert h2.last_step == 3001


def test_memory_stays_small_for_a_million_steps():
    h = MetricHistory()
    _fill(h, 1_000_000, chunk=50_000)
    assert h.nbytes() < 20 * 2**20
