"""The trainer's evaluator: quality figures during a run at a bounded cost, and the moment samples become
readable ("digits readable at step N").

The trainer calls it every `eval_every` steps, `evaluator(sampler, data, seed=..., device=...)`, then
`evaluator.milestone(step, figures)`; a non-empty answer becomes a "milestone" event.

For labelled images every call costs one pass of the FCD classifier over the fixed-noise grid (64 samples:
~8 ms on 2 cores, measured): the share it reads with p > 0.9, and how many classes those reads cover
(readable: >= 50 % of the grid, as >= 70 % of the classes). The full figures (FCD on 2,500 samples, the
class spread: ~0.44 s there) are computed only when the time since the last ones is at least 1 / BUDGET
times what they cost, so they take at most ~3 % of the run however often the recipe checks the grid, and
at the check where the grid first becomes readable. Other calls return {} (nothing new to show). 2-D
points get the PacGAN figures at every call, as before.

The classifier comes from the cache (`eval/fcd.py`); where there is none yet (a machine's first run on a
dataset) it is trained in a background thread on one core while the run goes on (about a minute of
CPU for the digits), and cached for later runs and `ganterm eval`. Until it is ready the fixed grid of each
check is kept (64 small images), then scored, so the milestone still names the step it happened at.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from ganterm.data.base import Dataset
from ganterm.eval import fcd
from ganterm.eval.quality import evaluate_sampler, scorable
from ganterm.eval.toy import PACGAN_N

READABLE_P = 0.9  # a sample is read when the classifier gives its class p > 0.9
READABLE_PCT = 50.0  # the milestone: this share of the fixed grid read
# ... as this share of the classes at least: an untrained G's blobs are often read as one class with
# p > 0.9 (measured on digits at step 50: 100 % of the grid, all one class), which is not readable digits
READABLE_CLASSES = 0.7
BUDGET = 0.03  # the full figures' share of the run's time at most
GRID_KEY = "grid_readable_pct"
CLASSES_KEY = "grid_classes"  # how many classes the grid's confident reads cover
MAX_BACKLOG = 512  # grids kept while the classifier trains; thinned to every other one beyond


class LiveEvaluator:
    """`__call__(sampler, data, *, seed, device) -> figures` and `milestone(step, figures) -> str | None`.

    The milestone fires once, at the first check whose grid is read with p > 0.9 for at least half its
    samples after an earlier check in this process saw less: a resumed run that was readable already
    does not announce it again."""

    def __init__(
        self,
        *,
        n: int = PACGAN_N,
        budget: float = BUDGET,
        data_dir: str | None = None,
        background: bool = True,
        classifier_steps: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`classifier_steps`: a classifier trained here gets this many steps (fcd.TRAIN_STEPS by default;
        fewer only in tests and smoke runs, whose cache is a scratch folder)."""
        self.classifier_steps = classifier_steps
        self.n, self.budget, self.data_dir, self.background, self.clock = (
            n,
            budget,
            data_dir,
            background,
            clock,
        )
        self.started = clock()
        self.net: fcd.FeatureNet | None = None
        self.train_s: float | None = None  # how long the classifier took to train here (None: cached)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._failed = False  # the classifier could not be trained: images get no figures this run
        self._stop = threading.Event()
        self._backlog: list[tuple[int, float, torch.Tensor]] = []  # (step, seconds, grid) while training
        self._full_at: float | None = None  # when the last full figures were done
        self._full_cost = 0.0
        self._seen_unreadable = False
        self._pending: str | None = None
        self.fired: tuple[int, float] | None = None  # (step, seconds since this evaluator was made)
        self.last_pct: float | None = None  # the last grid check: % read with p > 0.9, as how many classes
        self.last_classes = 0

    # -- the trainer's interface -------------------------------------------------------------------
    def __call__(
        self, sampler: Any, data: Dataset, *, seed: int = 0, device: torch.device | str | None = None
    ) -> dict[str, float]:
        if not scorable(data):
            return {}
        if data.kind == "points":
            return evaluate_sampler(sampler, data, n=self.n, seed=seed, device=device, data_dir=self.data_dir)
        now = self.clock() - self.started
        net = self._classifier(data, device)
        if net is None:  # still training (or failed): keep this check's grid for later
            if self._thread is not None:
                self._keep(int(sampler.step), now, sampler.images(sampler.fixed_latent).cpu().half())
            return {}
        first = self._score_backlog(net, data)
        pct, classes = read_grid(net, sampler.images(sampler.fixed_latent))
        first = first or self._observe(int(sampler.step), now, pct, classes, data)
        due = self._full_at is None or self.clock() - self._full_at >= self._full_cost / self.budget
        if not (due or first):
            return {}
        t0 = self.clock()
        figures = evaluate_sampler(
            sampler, data, n=self.n, seed=seed, device=device, data_dir=self.data_dir, net=net
        )
        self._full_at = self.clock()
        self._full_cost = self._full_at - t0
        return {**figures, GRID_KEY: pct, CLASSES_KEY: classes}

    def milestone(self, step: int, figures: dict[str, float]) -> str | None:
        """The readable-grid message, once (whatever `figures` holds: the check that saw it decides)."""
        message, self._pending = self._pending, None
        return message

    # -- the classifier ------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Block until a classifier trained in the background is done; True when none is training."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _classifier(self, data: Dataset, device: torch.device | str | None) -> fcd.FeatureNet | None:
        if self.net is not None:
            return self.net
        if self._error is not None:
            error, self._error, self._failed = self._error, None, True
            raise error  # once: the trainer shows it as a warning
        if self._thread is not None or self._failed:
            return None
        where = device or "cpu"
        net = fcd.cached_classifier(data, where, self.data_dir)
        if net is not None:
            self.net = net
            return net
        untrained = fcd.new_classifier(data)  # here: it draws from the trainer thread's random stream
        if not self.background:
            self._failed = True  # until it succeeds: a failure is said once, not at every check
            self._train(data, where, untrained)
            self._failed = False
            return self.net
        self._thread = threading.Thread(
            target=self._train, args=(data, where, untrained), name="ganterm-fcd-classifier", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)  # a run that ends first must not leave the thread inside torch at exit
        return None

    @property
    def training(self) -> bool:
        """A classifier is being trained in the background now."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop a classifier still training (it is not cached: the next run trains it again)."""
        self._stop.set()
        self.wait(10)

    def _train(self, data: Dataset, device: torch.device | str, net: fcd.FeatureNet) -> None:
        try:
            if self.background and torch.device(device).type == "cpu":
                torch.set_num_threads(1)  # this thread's: training keeps its cores' worth
            t0 = time.perf_counter()
            trained, accuracy = fcd.train_classifier(
                data, device, steps=self.classifier_steps, net=net, stop=self._stop
            )
            if self._stop.is_set():
                return
            self.train_s = time.perf_counter() - t0
            with contextlib.suppress(OSError):  # an unwritable cache only costs retraining next time
                fcd.save_classifier(
                    fcd.classifier_path(data, self.data_dir), trained, accuracy, data.name, self.train_s
                )
            self.net = trained.eval()
        except Exception as e:  # shown by the next call, never lost in a thread
            if not self.background:
                raise
            self._error = e

    # -- the milestone ----------------------------------------------------------------------------
    def _keep(self, step: int, seconds: float, grid: torch.Tensor) -> None:
        self._backlog.append((step, seconds, grid))
        if len(self._backlog) > MAX_BACKLOG:
            self._backlog = self._backlog[::2]

    def _score_backlog(self, net: fcd.FeatureNet, data: Dataset) -> bool:
        """The grids kept while the classifier trained, in order; True when one was the readable moment."""
        backlog, self._backlog = self._backlog, []
        for step, seconds, grid in backlog:
            if self._observe(step, seconds, *read_grid(net, grid.float()), data, late=True):
                return True
        return False

    def _observe(
        self, step: int, seconds: float, pct: float, classes: int, data: Dataset, late: bool = False
    ) -> bool:
        """Record one check of the grid; True when it is the readable moment."""
        self.last_pct, self.last_classes = pct, classes
        if self.fired is not None:
            return False
        n_classes = max(1, data.n_classes)
        if pct < READABLE_PCT or classes < math.ceil(READABLE_CLASSES * n_classes):
            self._seen_unreadable = True
            return False
        if not self._seen_unreadable:
            return False  # readable at the first look: a resumed run, nothing new to announce
        self.fired = (step, seconds)
        what = "digits" if data.name in ("digits", "mnist") else "samples"
        self._pending = (
            f"{what} readable at step {step:,}, {seconds:.0f} s in: the classifier reads {pct:.0f} % of "
            f"the sample grid with p > {READABLE_P}, as {classes} of the {n_classes} classes"
            + (" (scored once the FCD classifier was trained)" if late else "")
        )
        return True


def read_grid(net: fcd.FeatureNet, images: torch.Tensor) -> tuple[float, int]:
    """The share (%) of `images` the classifier calls with p > READABLE_P, and how many classes those are."""
    top, cls = fcd.class_probabilities(net, images).max(1)
    sure = top > READABLE_P
    return 100.0 * float(sure.float().mean()), int(cls[sure].unique().numel())
