"""FCD: the Frechet distance itself, the cached classifier, and that it ranks generators on `shapes`."""

import numpy as np
import pytest
import torch
from torch import nn

from ganterm.data.base import Dataset
from ganterm.data.shapes import shapes
from ganterm.eval import fcd
from ganterm.eval.quality import evaluate_generator
from ganterm.models.mlp import MLPGenerator

N = 1000  # samples per FCD in the fast tests


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.01 * np.eye(d)


def test_frechet_distance_identity_and_closed_form():
    rng = np.random.default_rng(0)
    mu, s = rng.standard_normal(6), _random_cov(rng, 6)
    assert fcd.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
    # Diagonal covariances commute: d = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = rng.uniform(0.1, 2, 5), rng.uniform(0.1, 2, 5)
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    want = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert fcd.frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(want, rel=1e-10)


def test_frechet_distance_matches_general_eigen_reference_and_is_symmetric():
    rng = np.random.default_rng(1)
    s1, s2 = _random_cov(rng, 8), _random_cov(rng, 8)
    s2[:, 0] = s2[0, :] = 0.0  # a singular covariance (a dead feature) must not break it
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    # Reference: tr sqrt(S1 S2) from the (real, non-negative) eigenvalues of the non-symmetric product.
    tr = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr
    got = fcd.frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(want, rel=1e-7)
    assert fcd.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-7)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return shapes(seed=0, n=6000)


@pytest.fixture(scope="module")
def cache(data, tmp_path_factory):
    """A quickly trained classifier stored where `load_or_train_classifier` looks for it."""
    root = tmp_path_factory.mktemp("fcd-cache")
    # Far from converged (the default trains 120x longer); its features still rank generators.
    net, acc = fcd.train_classifier(data, steps=80, max_images=3000)
    assert 0 <= acc <= 1
    fcd.save_classifier(fcd.classifier_path(data, root), net, acc, data.name)
    return root


def _untrained_g(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return MLPGenerator(32, (1, 28, 28), hidden=64)


def test_real_images_score_far_better_than_noise_and_untrained_g(data, cache):
    held_out = shapes(seed=7, n=N).data
    real = fcd.fcd_images(held_out, data, data_dir=cache)
    noisy = fcd.fcd_images((held_out + 0.5 * torch.randn_like(held_out)).clamp(-1, 1), data, data_dir=cache)
    untrained = evaluate_generator(_untrained_g(), data, n=N, data_dir=cache)["fcd"]
    assert real < noisy < untrained
    assert untrained > 10 * real


def _train_tiny_gan(data: Dataset, steps: int) -> nn.Module:
    """A small MLP GAN (non-saturating loss) on shapes: a few hundred steps make shape-like blobs."""
    torch.manual_seed(0)
    g = MLPGenerator(32, (1, 28, 28), hidden=128)
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    opt_g = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 1e-3, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    softplus = nn.functional.softplus
    for _ in range(steps):
        real = data.sample(64, gen)
        fake = g(torch.randn(64, 32, generator=gen))
        loss_d = softplus(-d(real)).mean() + softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return g


def test_trained_generator_beats_untrained(data, cache):
    untrained = evaluate_generator(_untrained_g(), data, n=N, seed=3, data_dir=cache)["fcd"]
    trained = evaluate_generator(_train_tiny_gan(data, 300), data, n=N, seed=3, data_dir=cache)["fcd"]
    assert trained < untrained / 3, (trained, untrained)


def test_classifier_is_trained_once_then_loaded_from_cache(data, tmp_path, monkeypatch):
    monkeypatch.setattr(fcd, "TRAIN_STEPS", 5)
    monkeypatch.setattr(fcd, "TRAIN_MAX", 600)
    monkeypatch.setenv("GANTERM_DATA_DIR", str(tmp_path))
    net = fcd.load_or_train_classifier(data)
    path = tmp_path / "fcd" / "shapes-28-1.pt"
    assert path.exists() and fcd.classifier_path(data) == path
    saved = torch.load(path, weights_only=True)  # plain data only
    assert saved["n_classes"] == 3 and 0 <= saved["accuracy"] <= 1

    def refuse(*a, **k):
        raise AssertionError("should have loaded the cached classifier")

    monkeypatch.setattr(fcd, "train_classifier", refuse)
    again = fcd.load_or_train_classifier(data)
    for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_unlabelled_images_have_no_fcd(data):
    bare = Dataset("folder", "images", data.shape, data.size, data.data)
    assert evaluate_generator(_untrained_g(), bare, n=50) == {}


@pytest.mark.slow
def test_trainer_recipe_beats_untrained_with_default_classifier(tmp_path):
    from ganterm.config import TrainConfig, resolve
    from ganterm.training.trainer import Trainer

    cfg = resolve(TrainConfig(dataset="shapes", steps=400, out=str(tmp_path / "run"), data_dir=str(tmp_path)))
    t = Trainer(cfg)
    t.run()
    trained = evaluate_generator(t.network("G"), t.data, data_dir=tmp_path)[
        "fcd"
    ]  # trains the default classifier
    saved = torch.load(fcd.classifier_path(t.data, tmp_path), weights_only=True)
    assert saved["accuracy"] > 0.9
    untrained = evaluate_generator(_untrained_g(), t.data, data_dir=tmp_path)["fcd"]
    assert trained < untrained / 3, (trained, untrained)


def test_class_stats_show_collapse_and_confidence():
    probs = torch.tensor([[0.95, 0.05, 0.0], [0.97, 0.03, 0.0], [0.6, 0.4, 0.0], [0.1, 0.0, 0.9]])
    stats = fcd.class_stats(probs)
    assert stats["class_shares"] == [0.75, 0.0, 0.25]
    assert stats["classes_present"] == 2 and stats["max_share"] == 0.75 and stats["min_share"] == 0.0
    assert stats["confident"] == 0.5  # 0.95 and 0.97 only: 0.9 itself is not above the bar


def test_eval_reports_the_class_spread(data, cache):
    scores = evaluate_generator(_untrained_g(), data, n=N, seed=3, data_dir=cache)
    assert {"fcd", "confident_pct", "classes_present", "max_class_pct", "min_class_pct"} <= set(scores)
    assert scores["n_classes"] == 3 and 0 <= scores["confident_pct"] <= 100
    from ganterm.eval.quality import format_quality

    text = format_quality({"dataset": "shapes", "model": "mlp", "step": 1, "n": N, "seed": 3, **scores})
    assert "classes present" in text and "p > 0.9" in text
