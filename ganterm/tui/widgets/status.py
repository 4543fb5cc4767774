"""The header line: what is training, where, how far, how fast, and in which state."""

from __future__ import annotations

from rich.text import Text

from ganterm.channel.feed import Snapshot
from ganterm.report import format_duration
from ganterm.tui.widgets.cached_lines import CachedLinesWidget

# Quality figures the header shows (toy: modes and HQ; images: FCD and the confident share).
HEADER_QUALITY = ("modes", "modes_total", "hq_pct", "reverse_kl", "fcd", "confident_pct")
STATE_STYLES = {
    "starting": "bold black on grey70",
    "running": "bold black on green",
    "paused": "bold black on yellow",
    "stopping": "bold black on dark_orange",
    "finished": "bold white on blue",
    "stopped": "bold white on grey37",
    "error": "bold white on red",
    "view": "bold black on cyan",
}


def format_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit in ("B", "K") else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}G"


def format_rate(steps_per_s: float) -> str:
    return f"{steps_per_s:.0f} it/s" if steps_per_s >= 100 else f"{steps_per_s:.1f} it/s"


def status_text(snap: Snapshot, state: str | None = None) -> Text:
    """One line for a snapshot; `state` overrides the snapshot's (the UI knows when it is stopping)."""
    label = (state or snap.state).lower()
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(f" {label.upper()} ", STATE_STYLES.get(label, "reverse"))
    parts: list[Text] = []
    if snap.message:
        parts.append(Text(snap.message, "italic"))
    algo = snap.algo if snap.algo not in ("", "gan") else ""
    what = " · ".join(p for p in (snap.dataset, algo, snap.model, snap.loss) if p)
    if what:
        parts.append(Text(what, "bold"))
    if snap.total_steps or snap.step:
        total = f"/{snap.total_steps:,}" if snap.total_steps else ""
        parts.append(Text(f"step {snap.step:,}{total}"))
    if snap.steps_per_s > 0 and label in ("running", "paused"):
        parts.append(Text(format_rate(snap.steps_per_s)))
    if snap.eta_s is not None and label in ("running", "paused"):
        parts.append(Text(f"ETA {format_duration(snap.eta_s)}"))
    if snap.quality:
        # The headline figures only: the class spread is in the event log and `ganterm eval`.
        shown = {k: v for k, v in snap.quality.items() if k in HEADER_QUALITY}
        figures = " ".join(f"{'p>0.9 %' if k == 'confident_pct' else k} {v:.3g}" for k, v in shown.items())
        parts.append(Text(figures, "bold magenta"))
    if snap.epoch:
        parts.append(Text(f"ep {snap.epoch:.2f}"))
    if snap.device:
        dev = snap.device
        if snap.gpu_mem_bytes:
            dev += f" {format_bytes(snap.gpu_mem_bytes)}"
        parts.append(Text(dev))
    for part in parts:
        text.append(" │ ", "dim")
        text.append_text(part)
    return text


class StatusLine(CachedLinesWidget):
    """Renders `status_text`; redraws only when the snapshot or the state label changes."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._snapshot = Snapshot()
        self._state: str | None = None

    def show(self, snapshot: Snapshot, state: str | None = None) -> None:
        if snapshot is self._snapshot and state == self._state:  # the Feed replaces it on change
            return
        self._snapshot, self._state = snapshot, state
        self.refresh()

    def render(self) -> Text:
        text = status_text(self._snapshot, self._state)
        text.truncate(max(self.size.width, 1), overflow="ellipsis")  # "ep 0.…" rather than a silent cut
        return text
