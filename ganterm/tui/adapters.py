"""Data adapters the run screens share (view, compare): a checkpoint's contents into a Feed, the config
panel's rows. A checkpoint arrives already loaded; nothing here samples or builds a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganterm.channel.feed import Feed
from ganterm.channel.history import MetricHistory
from ganterm.channel.text import MESSAGE_LIMIT, shown
from ganterm.config import algo_has_loss
from ganterm.rundir.reader import as_step

RUNDIR_POLL_S = 0.5


def config_for_panel(config: dict[str, Any], ckpt: dict[str, Any] | None) -> dict[str, Any]:
    """The run's config with the loss it has now; swaps made during the run listed after it."""
    if not ckpt:
        return dict(config)
    swaps = list(ckpt.get("swaps") or [])
    current = ckpt.get("loss_name") or (swaps[-1]["to"] if swaps else None)
    shown: dict[str, Any] = {}
    for key, value in config.items():
        shown[key] = current if key == "loss" and current else value
        if key == "loss" and swaps:  # right under the loss, not at the end of a long panel
            path = [str(swaps[0]["from"])] + [f"{sw['to']} @{int(sw['step']):,}" for sw in swaps]
            shown["loss swaps"] = " → ".join(path)
    return shown


def fill_feed_from_checkpoint(feed: Feed, ckpt: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's history, events and header fields into a Feed (no torch work)."""
    from ganterm.training.checkpoint import to_numpy_tree

    cfg = ckpt.get("config") or {}
    history = ckpt.get("history")
    if history:
        feed.replace_history(MetricHistory.from_state_dict(to_numpy_tree(history)))
    # A checkpoint may come from anyone: its strings are drawn as escaped text (channel/text.py).
    events = [ev for ev in ckpt.get("events") or [] if isinstance(ev, dict)]
    for ev in events:
        feed.record_event(
            shown(ev.get("kind", "info"), 20),
            shown(ev.get("message", ""), MESSAGE_LIMIT),
            as_step(ev.get("step")) or 0,
            {
                shown(k, 40): shown(v) if isinstance(v, str) else v
                for k, v in ev.items()
                if k not in ("kind", "message", "step")
            },
            past=True,  # the checkpoint's record: logged and marked, not toasted
        )
    if not any(ev.get("kind") == "swap" for ev in events):  # older files keep swaps apart
        for sw in ckpt.get("swaps") or []:
            feed.event("swap", f"loss {sw['from']} → {sw['to']}", int(sw["step"]), to=sw["to"])
    step = int(ckpt.get("step", 0))
    from ganterm.channel.layout import layout_of

    algo = str(ckpt.get("algo") or cfg.get("algo") or "gan")
    feed.update(
        algo=algo,
        layout=layout_of(ckpt, history["columns"] if history else ()),
        views=tuple(ckpt.get("views") or ()),
        prior=dict(ckpt.get("prior") or {}),
        state="finished" if step >= int(cfg.get("steps") or 0) else "stopped",
        step=step,
        total_steps=int(cfg.get("steps") or 0),
        dataset=shown(cfg.get("dataset", "")),
        model=shown(cfg.get("model", "")),
        loss="" if not algo_has_loss(algo) else str(ckpt.get("loss_name") or cfg.get("loss") or ""),
        run_dir=str(path.parent.parent if path.parent.name == "checkpoints" else path.parent),
        message=shown(path.name),
    )
