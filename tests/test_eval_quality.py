"""evaluate_generator / evaluate_checkpoint / format_quality on the toy sets (no image classifier needed)."""

import math

import pytest
import torch
from torch import nn

from ganterm.config import TrainConfig, resolve
from ganterm.data.registry import load_dataset
from ganterm.eval.quality import evaluate_checkpoint, evaluate_generator, evaluate_sampler, format_quality
from ganterm.models.catalog import build_models
from ganterm.training.checkpoint import load_checkpoint
from ganterm.training.trainer import Trainer


class ModePicker(nn.Module):
    """A 'perfect' generator: the first latent picks a mode (evenly), two more add tiny in-mode noise."""

    def __init__(self, modes, std: float) -> None:
        super().__init__()
        self.z_dim = 4
        self.register_buffer("modes", torch.as_tensor(modes, dtype=torch.float32))
        self.std = std
        self.dummy = nn.Parameter(torch.zeros(()))  # gives the module a device
        self.calls_in_train_mode = 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls_in_train_mode += int(self.training or torch.is_grad_enabled())
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))  # uniform in (0, 1)
        k = (u * len(self.modes)).long().clamp(max=len(self.modes) - 1)
        return self.modes[k] + self.std * z[:, 1:3].clamp(-2, 2)


def test_perfect_generator_scores_full_marks_in_eval_mode_without_grad():
    data = load_dataset("grid")
    g = ModePicker(data.info["modes"], 0.5 * data.info["std"])
    q = evaluate_generator(g, data, seed=1)
    assert q["modes"] == 25 and q["modes_total"] == 25 and q["hq_pct"] == 100.0
    assert q["reverse_kl"] < 0.01
    assert g.calls_in_train_mode == 0 and g.training  # switched to eval for sampling, then back


def test_untrained_toy_generator_scores_badly_and_is_deterministic():
    data = load_dataset("ring")
    torch.manual_seed(0)
    g, _ = build_models("toy", (2,), 16)
    q = evaluate_generator(g, data, n=2500, seed=5)
    assert q["hq_pct"] < 20 and set(q) == {"modes", "modes_total", "hq_pct", "reverse_kl"}
    assert evaluate_generator(g, data, n=2500, seed=5) == pytest.approx(q, nan_ok=True)


def test_checkpoint_evaluation_and_text(tmp_path):
    cfg = resolve(
        TrainConfig(
            dataset="ring",
            steps=20,
            batch_size=64,
            out=str(tmp_path / "run"),
            seed=1,
            eval_every=10,
            sample_every=10,
            ckpt_every=20,
        )
    )
    t = Trainer(cfg, evaluator=evaluate_sampler)  # the trainer is handed its evaluator, never imports one
    t.run()
    quality_events = [e for e in t.feed.events() if e.kind == "quality"]
    assert [e.step for e in quality_events] == [10, 20]  # the trainer's periodic hook works
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt_0000020.pt")
    r = evaluate_checkpoint(ckpt, n=500, seed=0, data_dir=None)
    assert r["dataset"] == "ring" and r["step"] == 20 and r["modes_total"] == 8
    # The same G, evaluated live, gives the same figures.
    live = evaluate_generator(t.network("G"), t.data, n=500, seed=0)
    assert {k: r[k] for k in live} == pytest.approx(live, nan_ok=True)
    text = format_quality(r)
    assert "ring / toy at step 20" in text and "modes captured" in text and "high quality" in text


def test_format_quality_labels_fcd_and_nan():
    text = format_quality({"dataset": "shapes", "model": "mlp", "step": 5, "n": 100, "seed": 0, "fcd": 12.5})
    assert "FCD" in text and "not comparable to Inception-FID" in text and "12.500" in text
    nan = format_quality(
        {"dataset": "ring", "modes": 0.0, "modes_total": 8.0, "hq_pct": 0.0, "reverse_kl": float("nan")}
    )
    assert "0 / 8" in nan and "n/a" in nan
    assert "no quality figure" in format_quality({"dataset": "folder"})
