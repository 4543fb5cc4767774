"""The trainer's evaluator (eval/live.py): the grid check at every call, the full figures within their time
budget, the "readable" milestone once at the moment it happens, and a classifier trained in the
background without holding training up."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from fake_mlxtend import fake_digits, write_fake_mlxtend

from ganterm.config import TrainConfig, resolve
from ganterm.data.base import Dataset
from ganterm.eval import fcd
from ganterm.eval.live import CLASSES_KEY, GRID_KEY, LiveEvaluator
from ganterm.session import Session, default_evaluator
from ganterm.training.trainer import Trainer

N = 64  # samples per full evaluation here (2,500 in a run)


LEVELS = [0.1 * (k + 1) for k in range(10)]  # an image of constant value LEVELS[k] is read as class k


def level_reader(n_classes: int = 10) -> fcd.FeatureNet:
    """A FeatureNet set by hand: an image of constant value LEVELS[k] is class k with p ~ 1; black (-1) and
    white (+1) images are every class at p = 1/n_classes. Its body passes on b, the mean of the positive
    pixels (scaled by the convs' zero padding); three features per class make a bump around that class's b,
    and the head turns each bump into a confident logit. So a test decides what is readable, and as what."""
    net = fcd.FeatureNet(1, n_classes)
    linear = net.body[-2]
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        for conv in (m for m in net.body if isinstance(m, torch.nn.Conv2d)):
            conv.weight[0, 0] = 1 / 9
        linear.weight[0, 0] = 1.0
        scale = float(net.features(torch.ones(1, 1, 28, 28))[0, 0])  # b of a white image
        width = 0.04 * scale
        for k in range(n_classes):
            centre = LEVELS[k] * scale
            for j, edge in enumerate((centre - width, centre, centre + width)):
                linear.weight[3 * k + j, 0] = 1.0
                linear.bias[3 * k + j] = -edge
            net.head.weight[k, 3 * k : 3 * k + 3] = torch.tensor([1.0, -2.0, 1.0]) * 12 / width
    return net.eval()


def digits_dataset(name: str = "digits") -> Dataset:
    images, labels = fake_digits()
    data = torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)
    return Dataset(name, "images", (1, 28, 28), len(data), data, torch.from_numpy(labels))


class GridSampler:
    """What the evaluator reads of training/sampling.Sampler (step, fixed_latent, images, labelled, prior):
    black images before `readable_from`, then images read as `classes` classes in turn. A full
    evaluation (`labelled`) takes one second of the test's clock."""

    def __init__(self, clock: list[float], readable_from: int, classes: int = 10) -> None:
        self.clock, self.readable_from, self.classes = clock, readable_from, classes
        self.step = 0
        self.fixed_latent = torch.zeros(64)
        self.prior = SimpleNamespace(n_classes=0, n_cat=0)

    def images(self, latent: torch.Tensor) -> torch.Tensor:
        if self.step < self.readable_from:
            return torch.full((len(latent), 1, 28, 28), -1.0)
        values = torch.tensor([LEVELS[i % self.classes] for i in range(len(latent))])
        return values.view(-1, 1, 1, 1).expand(-1, 1, 28, 28).clone()

    def labelled(self, n: int, seed: int | None = None) -> tuple[torch.Tensor, None]:
        self.clock[0] += 1.0
        return self.images(torch.zeros(n)), None


def cache_reader(data: Dataset, root: Path) -> None:
    fcd.save_classifier(fcd.classifier_path(data, root), level_reader(), 1.0, data.name)


def checks(ev: LiveEvaluator, sampler: GridSampler, data: Dataset, clock: list[float], steps: range):
    """The trainer's cadence: every 50 steps, two seconds apart; (step, figures, milestone) per call."""
    out = []
    for step in steps:
        clock[0] += 2.0
        sampler.step = step
        figures = ev(sampler, data, seed=0, device="cpu")
        out.append((step, figures, ev.milestone(step, figures) if figures else None))
    return out


def test_milestone_once_at_the_first_readable_grid_and_full_figures_within_budget(tmp_path: Path) -> None:
    data, clock = digits_dataset(), [0.0]
    cache_reader(data, tmp_path)
    ev = LiveEvaluator(n=N, data_dir=str(tmp_path), clock=lambda: clock[0])
    sampler = GridSampler(clock, readable_from=1000)
    calls = checks(ev, sampler, data, clock, range(50, 2050, 50))
    full = [(step, f) for step, f, _ in calls if f]
    # the first call gives the figures; then at most one full evaluation per 1 s / 3 % = 33 s (16 checks)
    assert full[0][0] == 50 and full[0][1][GRID_KEY] == 0.0 and "fcd" in full[0][1]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(full) if b != 1000]
    assert all(gap >= 16 * 50 for gap in gaps if gap), full
    assert len(full) <= 5
    # the moment itself: full figures at that check, and one message naming its step
    at = {step: (f, m) for step, f, m in calls}
    figures, message = at[1000]
    assert figures[GRID_KEY] == 100.0 and figures[CLASSES_KEY] == 10 and figures["confident_pct"] == 100.0
    assert "fcd" in figures and figures["classes_present"] == 10
    assert ev.fired is not None and ev.fired[0] == 1000
    assert message == (
        f"digits readable at step 1,000, {ev.fired[1]:.0f} s in: the classifier reads 100 % of the sample "
        "grid with p > 0.9, as 10 of the 10 classes"
    )
    assert [m for _, _, m in calls if m] == [message]


def test_a_grid_read_as_one_or_two_classes_is_not_readable(tmp_path: Path) -> None:
    """An untrained G's blobs read with p > 0.9 as one digit (as real runs show at step 50), or a G that
    draws a few digits only, are not "digits readable": 7 of 10 classes are needed."""
    data, clock = digits_dataset(), [0.0]
    cache_reader(data, tmp_path)
    for classes, fires in ((1, False), (6, False), (7, True)):
        ev = LiveEvaluator(n=N, data_dir=str(tmp_path), clock=lambda: clock[0])
        calls = checks(
            ev, GridSampler(clock, readable_from=100, classes=classes), data, clock, range(50, 300, 50)
        )
        assert ev.last_pct == 100.0 and ev.last_classes == classes
        assert (ev.fired is not None) == fires and any(m for *_, m in calls) == fires, classes


def test_a_run_readable_from_the_first_look_announces_nothing(tmp_path: Path) -> None:
    """A resumed run that was readable already: no milestone (it happened in an earlier process)."""
    data, clock = digits_dataset("mnist"), [0.0]
    cache_reader(data, tmp_path)
    ev = LiveEvaluator(n=N, data_dir=str(tmp_path), clock=lambda: clock[0])
    calls = checks(ev, GridSampler(clock, readable_from=0), data, clock, range(12050, 12550, 50))
    assert calls[0][1][GRID_KEY] == 100.0 and not any(m for _, _, m in calls) and ev.fired is None


def test_classifier_trained_in_the_background_and_the_moment_found_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cached classifier: checks return nothing while it trains on its own thread (with one torch
    thread there, the trainer's count untouched), each grid is kept, and once it is ready the kept grids
    are scored in order: the milestone names the step the grid became readable at."""
    data, clock = digits_dataset(), [0.0]
    release, threads = threading.Event(), {}

    def slow_training(dataset, device, *, steps=None, net=None, **_):
        threads["there"] = torch.get_num_threads()
        assert release.wait(30)
        return level_reader(), 0.99  # what 3,000 steps would give, without the minute

    monkeypatch.setattr(fcd, "train_classifier", slow_training)
    ev = LiveEvaluator(n=N, data_dir=str(tmp_path), clock=lambda: clock[0])
    sampler = GridSampler(clock, readable_from=150)
    ours = torch.get_num_threads()
    before = checks(ev, sampler, data, clock, range(50, 300, 50))
    assert all(f == {} for _, f, _ in before) and not ev.wait(0)
    release.set()
    assert ev.wait(30) and threads["there"] == 1 and torch.get_num_threads() == ours
    assert fcd.cached_classifier(data, "cpu", tmp_path) is not None  # cached for the next run
    (_, figures, message) = checks(ev, sampler, data, clock, range(300, 350, 50))[0]
    assert figures[GRID_KEY] == 100.0 and "fcd" in figures
    assert message.startswith("digits readable at step 150, 6 s in") and "once the FCD classifier" in message
    assert ev.fired == (150, 6.0)


def test_close_stops_a_classifier_still_training(tmp_path: Path) -> None:
    """A run that ends before its classifier: the thread stops at its next step, nothing half-trained is
    cached (the process's exit calls this too, so no thread is left inside torch)."""
    data, clock = digits_dataset(), [0.0]
    ev = LiveEvaluator(n=N, data_dir=str(tmp_path), classifier_steps=10**7, clock=lambda: clock[0])
    assert ev(GridSampler(clock, readable_from=0), data) == {} and ev.training
    ev.close()
    assert not ev.training and ev.net is None and ev.train_s is None
    assert not fcd.classifier_path(data, tmp_path).exists()


def test_a_classifier_that_cannot_train_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("no memory for the classifier")

    monkeypatch.setattr(fcd, "train_classifier", broken)
    data, clock = digits_dataset(), [0.0]
    ev = LiveEvaluator(n=N, data_dir=str(tmp_path), clock=lambda: clock[0])
    sampler = GridSampler(clock, readable_from=0)
    assert ev(sampler, data) == {}
    assert ev.wait(30)
    with pytest.raises(RuntimeError, match="no memory"):  # the trainer turns it into one warning event
        ev(sampler, data)
    assert ev(sampler, data) == {} and ev(sampler, data) == {}  # and never again


def test_points_get_the_pacgan_figures_at_every_evaluation(tmp_path: Path) -> None:
    cfg = resolve(
        TrainConfig(
            dataset="ring", steps=20, batch_size=64, out=str(tmp_path / "run"), eval_every=10, ckpt_every=20
        )
    )
    t = Trainer(cfg, evaluator=LiveEvaluator(n=500))
    t.run()
    quality = [e for e in t.feed.events() if e.kind == "quality"]
    assert [e.step for e in quality] == [10, 20] and "hq_pct" in quality[0].data
    assert not [e for e in t.feed.events() if e.kind == "milestone"]


def test_a_digits_session_scores_its_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wiring end to end: `ganterm train digits`'s session, its default evaluator on the real sampler."""
    write_fake_mlxtend(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("GANTERM_DATA_DIR", str(tmp_path / "data"))
    from ganterm.data.registry import load_dataset

    cache_reader(load_dataset("digits", progress=False), tmp_path / "data")
    assert isinstance(default_evaluator(), LiveEvaluator)
    cfg = resolve(
        TrainConfig(dataset="digits", steps=4, eval_every=2, out=str(tmp_path / "run"), precision="fp32")
    )
    session = Session(cfg)
    session.train()
    quality = [e for e in session.feed.events() if e.kind == "quality"]
    assert quality and quality[0].step == 2 and GRID_KEY in quality[0].data and "fcd" in quality[0].data
