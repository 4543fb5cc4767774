"""One quality figure per run: PacGAN modes / HQ / reverse KL for 2-D data, FCD for labelled image sets.

Used by the trainer's evaluator (`eval/live.py`, every `eval_every` steps) and by `ganterm eval`
(`evaluate_checkpoint`, `format_quality`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganterm.data.base import Dataset
from ganterm.eval.toy import PACGAN_N, score_toy
from ganterm.training.sampling import generate

_BATCH = 500


def _z_dim(g: nn.Module) -> int:
    g = getattr(g, "_orig_mod", g)  # a torch.compile wrapper keeps the module here
    return int(g.z_dim)


def generate_samples(
    g: nn.Module, n: int, seed: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """`n` samples from fixed-seed noise, in eval mode without autograd, in batches; float32 on the CPU."""
    if device is None:
        device = next(g.parameters()).device
    z = torch.randn(n, _z_dim(g), generator=torch.Generator().manual_seed(seed)).to(device)
    return generate(g, z, batch=_BATCH).cpu()


def scorable(dataset: Dataset) -> bool:
    """2-D points always (PacGAN); images only with labels to train the FCD classifier on."""
    return dataset.kind == "points" or (dataset.labels is not None and dataset.data is not None)


def evaluate_generator(
    G: nn.Module,
    dataset: Dataset,
    *,
    n: int = PACGAN_N,
    seed: int = 0,
    device: torch.device | str | None = None,
    data_dir: str | Path | None = None,
) -> dict[str, float]:
    """Score a plain G(z) against `dataset` (see `evaluate_samples`)."""
    if not scorable(dataset):
        return {}
    return evaluate_samples(
        generate_samples(G, n, seed, device), dataset, seed=seed, device=device, data_dir=data_dir
    )


def evaluate_samples(
    fake: torch.Tensor,
    dataset: Dataset,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    data_dir: str | Path | None = None,
    ids: torch.Tensor | None = None,
    id_kind: str = "",
    net: Any = None,
) -> dict[str, float]:
    """Points: {"modes", "modes_total", "hq_pct", "reverse_kl"} (PacGAN protocol). Images: FCD, the
    class spread and the confident share, when the dataset has labels to train the FCD classifier on
    (else {}). With `ids` (what each sample was drawn with): the cGAN's per-class accuracy
    (id_kind "class") or InfoGAN's code -> class accuracy (id_kind "code")."""
    if dataset.kind == "points":
        return score_toy(fake.numpy(), dataset.info["modes"], float(dataset.info["std"])).as_dict()
    if not scorable(dataset):
        return {}
    from ganterm.eval.fcd import class_probabilities, class_stats, fcd_images, load_or_train_classifier

    if net is None:
        net = load_or_train_classifier(dataset, device or "cpu", data_dir)  # once, for every figure
    scores: dict[str, Any] = {"fcd": fcd_images(fake, dataset, seed=seed, device=device, net=net)}
    probs = class_probabilities(net, fake)
    stats = class_stats(probs)
    scores.update(
        confident_pct=100 * stats["confident"],
        classes_present=stats["classes_present"],
        n_classes=len(stats["class_shares"]),
        max_class_pct=100 * stats["max_share"],
        min_class_pct=100 * stats["min_share"],
    )
    if ids is not None and id_kind:
        scores.update(conditional_accuracy(probs.argmax(1), ids.cpu(), id_kind, probs.shape[1]))
    return scores


def conditional_accuracy(
    pred: torch.Tensor, ids: torch.Tensor, kind: str, n_classes: int
) -> dict[str, float]:
    """cGAN ("class"): the share of samples of class k that the classifier calls k, averaged over
    classes and at the worst class. InfoGAN ("code"): categories matched to classes one-to-one by an
    optimal assignment on their co-occurrence counts, then the share of samples whose class is their
    category's match (unsupervised clustering accuracy)."""
    if kind == "class":
        per = [float((pred[ids == k] == k).float().mean()) for k in range(n_classes) if (ids == k).any()]
        return {"class_acc_pct": 100 * float(np.mean(per)), "class_acc_min_pct": 100 * float(min(per))}
    from scipy.optimize import linear_sum_assignment

    n_codes = int(ids.max()) + 1
    counts = np.zeros((n_codes, n_classes))
    np.add.at(counts, (ids.numpy(), pred.numpy()), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {"code_acc_pct": 100 * float(counts[rows, cols].sum() / len(ids))}


def evaluate_sampler(
    sampler: Any,
    dataset: Dataset,
    *,
    n: int = PACGAN_N,
    seed: int = 0,
    device: torch.device | str | None = None,
    data_dir: str | Path | None = None,
    net: Any = None,
) -> dict[str, float]:
    """Score a run's sampler (any algorithm); `net`: the FCD classifier when the caller holds it (the
    live evaluator, `eval/live.py`, scores runs with this)."""
    if not scorable(dataset):
        return {}
    prior = sampler.prior
    fake, ids = sampler.labelled(n, seed)
    kind = "class" if prior.n_classes else ("code" if prior.n_cat else "")
    return evaluate_samples(
        fake.cpu(), dataset, seed=seed, device=device, data_dir=data_dir, ids=ids, id_kind=kind, net=net
    )


def evaluate_checkpoint(
    ckpt: dict[str, Any],
    *,
    n: int = PACGAN_N,
    seed: int = 0,
    data_dir: str | None = None,
    sampler: Any = None,
    trusted: Any = None,
) -> dict[str, Any]:
    """Score a loaded checkpoint's G (`sampler`, else rebuilt from it; a model file only when `trusted`
    names it) on its reloaded dataset; adds what was scored."""
    from ganterm.config import TrainConfig
    from ganterm.data.registry import load_dataset
    from ganterm.training.sampling import Sampler

    cfg = TrainConfig.from_dict(ckpt["config"])
    sampler = sampler or Sampler.from_checkpoint(ckpt, trusted)
    data = load_dataset(
        cfg.dataset,
        image_size=cfg.image_size or None,
        channels=cfg.channels or None,
        data_dir=data_dir or cfg.data_dir,
        progress=True,
        seed=cfg.seed,
    )
    scores = evaluate_sampler(sampler, data, n=n, seed=seed, device="cpu", data_dir=data_dir or cfg.data_dir)
    return {
        "dataset": cfg.dataset,
        "algo": cfg.algo or "gan",
        "model": cfg.model,
        "step": int(ckpt["step"]),
        "n": n,
        "seed": seed,
        **scores,
    }


def _fmt(v: float, spec: str) -> str:
    return "n/a" if isinstance(v, float) and math.isnan(v) else format(v, spec)


def format_quality(result: dict[str, Any]) -> str:
    """Human lines for `ganterm eval`."""
    algo = "" if result.get("algo", "gan") == "gan" else f"{result['algo']} / "
    head = (
        f"{result.get('dataset', '?')} / {algo}{result.get('model', '?')} at step {result.get('step', '?')}"
    )
    lines = [f"{head} ({result.get('n', '?')} samples, seed {result.get('seed', '?')})"]
    if "modes" in result:
        lines += [
            f"  modes captured   {int(result['modes'])} / {int(result['modes_total'])}",
            f"  high quality     {_fmt(result['hq_pct'], '.1f')} % (within 3 std of the nearest mode)",
            f"  reverse KL       {_fmt(result['reverse_kl'], '.4f')} nats (HQ modes vs uniform)",
        ]
    if "fcd" in result:
        lines.append(
            f"  FCD              {_fmt(result['fcd'], '.3f')}  "
            "(FCD, not comparable to Inception-FID; lower is better)"
        )
    if "confident_pct" in result:
        lines += [
            f"  classes present  {int(result['classes_present'])} / {int(result['n_classes'])} "
            f"(each {_fmt(result['min_class_pct'], '.1f')}-{_fmt(result['max_class_pct'], '.1f')} % of "
            "samples, by the FCD classifier; an even spread is 100 / classes)",
            f"  confident        {_fmt(result['confident_pct'], '.1f')} % of samples classified with p > 0.9",
        ]
    if "class_acc_pct" in result:
        lines.append(
            f"  per-class acc.   {_fmt(result['class_acc_pct'], '.1f')} % of samples of class k classified k "
            f"(worst class {_fmt(result['class_acc_min_pct'], '.1f')} %)"
        )
    if "code_acc_pct" in result:
        lines.append(
            f"  code -> class    {_fmt(result['code_acc_pct'], '.1f')} % (categorical code matched to "
            "classes "
            "by an optimal assignment)"
        )
    if not any(k in result for k in ("modes", "fcd")):
        lines.append("  no quality figure for this dataset (FCD needs a labelled image set)")
    return "\n".join(lines)
