"""What a run's metrics are called and how they are drawn: chart groups and the header's figures.

An algorithm declares its layout (GAN: losses, D(x) vs D(G(z)), gradient norms; VAE: reconstruction and
KL, ELBO, gradient norm). It travels with the run in config.json and the checkpoint, so `view` draws a
run the way it was trained without importing the algorithm (or torch). A run that declared none (a
script logging through `ganterm.Run`, an older run directory) gets `default_layout` of its names.
No torch, no UI: the trainer, the run-dir reader and the TUI all read it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ganterm.channel.text import is_clean_name, shown

PALETTE = ("red", "cyan", "green", "magenta", "yellow", "blue", "white")


@dataclass(frozen=True)
class SeriesSpec:
    name: str  # the metric's name in the history / metrics.jsonl
    label: str  # the legend's
    color: str


@dataclass(frozen=True)
class ChartGroup:
    """One chart: a few series that share a y axis, plus constant reference lines (value, label)."""

    title: str
    series: tuple[SeriesSpec, ...]
    refs: tuple[tuple[float, str], ...] = ()
    log_ok: bool = True  # probabilities in [0, 1] gain nothing from a log axis

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.series)


@dataclass(frozen=True)
class Headline:
    name: str
    label: str
    fmt: str = ".4f"


@dataclass(frozen=True)
class Layout:
    """groups[0] is the first chart; the second chart cycles through the others (key g)."""

    groups: tuple[ChartGroup, ...]
    headline: tuple[Headline, ...] = field(default=())

    def metric_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for g in self.groups:
            for s in g.series:
                seen.setdefault(s.name, None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [
                {
                    "title": g.title,
                    "series": [[s.name, s.label, s.color] for s in g.series],
                    "refs": [[v, label] for v, label in g.refs],
                    "log_ok": g.log_ok,
                }
                for g in self.groups
            ],
            "headline": [[h.name, h.label, h.fmt] for h in self.headline],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layout:
        """A stored layout back. It may come from anyone's run directory: strings are made safe to show
        (`shown`), colours and number formats outside what ganterm writes are replaced, and the counts
        are capped; a malformed one raises KeyError, TypeError or ValueError (`layout_of` falls back)."""
        groups = tuple(
            ChartGroup(
                shown(g["title"]),
                tuple(_series(*s) for s in g["series"][:MAX_SERIES]),
                tuple((_finite(v), shown(label)) for v, label in g.get("refs", [])[:MAX_SERIES]),
                bool(g.get("log_ok", True)),
            )
            for g in d["groups"][:MAX_GROUPS]
        )
        headline = tuple(_headline(*h) for h in d.get("headline", [])[:MAX_SERIES])
        return cls(groups, headline)


MAX_GROUPS, MAX_SERIES = 16, 8
_FORMAT = re.compile(r"^\.\d[efg%]?$")  # what layouts use (".4f"); anything else could raise in format()


def _series(name: object, label: object, color: object) -> SeriesSpec:
    if not is_clean_name(name):
        raise ValueError("a series name that is not plain text")
    return SeriesSpec(str(name), shown(label), color if color in PALETTE else PALETTE[0])


def _headline(name: object, label: object, fmt: object = ".4f") -> Headline:
    if not is_clean_name(name):
        raise ValueError("a headline name that is not plain text")
    return Headline(str(name), shown(label), fmt if isinstance(fmt, str) and _FORMAT.match(fmt) else ".4f")


def _finite(v: object) -> float:
    out = float(v)  # type: ignore[arg-type]
    if not math.isfinite(out):
        raise ValueError("a reference line that is not a finite number")
    return out


def _spec(name: str, label: str, color: str) -> SeriesSpec:
    return SeriesSpec(name, label, color)


GAN_LOSS = ChartGroup("loss", (_spec("d_loss", "D", "red"), _spec("g_loss", "G", "cyan")))
GAN_PROB = ChartGroup(
    "D(x) vs D(G(z))", (_spec("d_real", "D(x)", "green"), _spec("d_fake", "D(G(z))", "magenta")), log_ok=False
)
GAN_GRAD = ChartGroup("grad norm", (_spec("grad_d", "|∇D|", "red"), _spec("grad_g", "|∇G|", "cyan")))
GAN_HEADLINE = (
    Headline("d_loss", "D"),
    Headline("g_loss", "G"),
    Headline("d_real", "D(x)", ".3f"),
    Headline("d_fake", "D(G(z))", ".3f"),
)
GAN_LAYOUT = Layout((GAN_LOSS, GAN_PROB, GAN_GRAD), GAN_HEADLINE)


def default_layout(names: list[str] | tuple[str, ...]) -> Layout:
    """A layout for metrics nobody described: the GAN's when the names are the GAN's, else the first
    two names on the first chart and the rest in pairs on the second."""
    names = [n for n in names if n not in ("step", "time")]
    if {"d_loss", "g_loss"} <= set(names):
        known = set(GAN_LAYOUT.metric_names())
        rest = [n for n in names if n not in known]
        extra = _pairs(rest, start=len(GAN_LAYOUT.groups))
        return Layout((*GAN_LAYOUT.groups, *extra), GAN_HEADLINE)
    groups = _pairs(names, start=0)
    headline = tuple(Headline(n, n) for n in names[:4])
    return Layout(tuple(groups) or (ChartGroup("metrics", ()),), headline)


def _pairs(names: list[str], start: int) -> list[ChartGroup]:
    out = []
    for i in range(0, len(names), 2):
        chunk = names[i : i + 2]
        series = tuple(SeriesSpec(n, n, PALETTE[(start + i + j) % len(PALETTE)]) for j, n in enumerate(chunk))
        out.append(ChartGroup(" vs ".join(chunk), series))
    return out


def layout_of(record: dict[str, Any] | None, names: list[str] | tuple[str, ...] = ()) -> Layout:
    """The layout a config.json / checkpoint declares, else the default one of `names`."""
    if record and isinstance(record.get("layout"), dict):
        try:
            return Layout.from_dict(record["layout"])
        except (KeyError, TypeError, ValueError):
            pass
    return default_layout(names or GAN_LAYOUT.metric_names())
