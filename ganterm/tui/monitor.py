"""The layout shared by `train` and `view`: header, two charts, samples, events; polled from a Feed.

The screen never receives a message per training step: a timer reads `feed.read(since=version)` a few
times a second and does nothing when the version has not moved. Charts redraw at most every
`chart_interval` seconds even when the history changes faster, because plotext holds the GIL the
trainer thread also needs.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import replace
from typing import Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from ganterm.channel.feed import MARKER_KINDS, Event, Feed, FeedUpdate, SampleFrame
from ganterm.render.grid import DENSITIES, Density, next_density
from ganterm.sysmon import ReadingSource
from ganterm.tui.dialogs import HelpScreen
from ganterm.tui.screens.samples_full import SamplesFullScreen
from ganterm.tui.timeline import Entry, position, step_of, timeline
from ganterm.tui.widgets.charts import ChartOptions, ChartView, Marker
from ganterm.tui.widgets.events import EventLog
from ganterm.tui.widgets.samples import SamplePanel
from ganterm.tui.widgets.status import StatusLine
from ganterm.tui.widgets.system import SystemPane

POLL_HZ = 4.0
CHART_INTERVAL_S = 2.0
SHORT_ROWS = 20  # below this many terminal rows the second chart and the event log are hidden
FRAME_JUMP = 10  # recorded frames per `{` / `}`


_VIEW_ALGOS = {
    "traversal": "InfoGAN runs have one (--algo infogan)",
    "class": "cGAN and InfoGAN runs have one (--algo cgan / infogan)",
    "recon": "VAE runs have one (--algo vae)",
}


def marker_for(ev: Event) -> Marker:
    if ev.kind == "swap":
        to = ev.data.get("to")
        return (float(ev.step), f"→{to}" if to else "swap")
    if ev.kind == "checkpoint":
        return (float(ev.step), "ckpt")
    return (float(ev.step), ev.kind)


# The footer shows the first keys that fit 80 columns, most used first: each screen starts with help, then
# its own few shown keys, then these (s, d shown); every key is in the help (`?`), which scrolls.
HELP_BINDING = Binding("question_mark", "help", "help", key_display="?", tooltip="this help: every key")
# Keys every monitor has; screens list their own before them.
CHART_BINDINGS: list[BindingType] = [
    Binding("s", "smoothing", "smooth", tooltip="cycle EMA smoothing 0 / 0.6 / 0.9 / 0.99"),
    Binding("y", "log_scale", "log y", show=False, tooltip="toggle a symmetric-log y axis"),
    Binding(
        "g",
        "aux_chart",
        "chart 2",
        show=False,
        tooltip="second chart: the run's other charts in turn (D(x), grad norms…)",
    ),
    Binding("w", "window", "window", show=False, tooltip="full history / last 1,000 / last 200 steps"),
    Binding("x", "raw_points", "raw", show=False, tooltip="show / hide the raw points behind the EMA line"),
    Binding(
        "left_square_bracket",
        "prev_frame",
        "◂frame",
        show=False,
        key_display="[",
        tooltip="step back through recorded sample frames",
    ),
    Binding(
        "right_square_bracket",
        "next_frame",
        "frame▸",
        show=False,
        key_display="]",
        tooltip="step forward (past the newest: follow live)",
    ),
    Binding(
        "left_curly_bracket",
        "back_10",
        "◂10",
        show=False,
        key_display="{",
        tooltip="10 recorded frames back",
    ),
    Binding(
        "right_curly_bracket",
        "forward_10",
        "10▸",
        show=False,
        key_display="}",
        tooltip="10 frames forward (past the newest: follow live)",
    ),
    Binding("home", "first_frame", "first", show=False, tooltip="the first recorded frame"),
    Binding("end", "live_frame", "live", show=False, tooltip="back to live: the newest frame"),
    Binding("d", "density", "density", tooltip="sample density: pooled (most samples) / 1:1 / one enlarged"),
    Binding("f", "full_samples", "full", show=False, tooltip="samples full screen (f or escape closes)"),
    Binding(
        "t", "traversal", "traverse", show=False, tooltip="InfoGAN: sweep continuous code 1, 2, then off"
    ),
    Binding(
        "k", "one_class", "class", show=False, tooltip="cGAN / InfoGAN: a grid of one class (code); next"
    ),
    Binding(
        "e", "reconstructions", "recon", show=False, tooltip="VAE: real images above their reconstructions"
    ),
    Binding("m", "system_pane", "machine", show=False, tooltip="show / hide CPU, memory and GPU readings"),
]


class MonitorScreen(Screen[None]):
    """Abstract: subclasses set BINDINGS to their own keys followed by CHART_BINDINGS."""

    def __init__(
        self,
        feed: Feed,
        *,
        color_system: str = "truecolor",
        poll_hz: float = POLL_HZ,
        chart_interval: float = CHART_INTERVAL_S,
        system: ReadingSource | None = None,
    ) -> None:
        super().__init__()
        self.feed = feed
        # A SystemSampler (train) or a system.jsonl tail (view of a run directory); None: no readings.
        self.system = system
        self._system_pane: SystemPane | None = None
        self._system_choice: bool | None = None  # the user's `m`; until then the pane opens on a reading
        self.color_system = color_system
        self.poll_hz = poll_hz
        self.chart_interval = chart_interval
        self.options = ChartOptions()
        self.seen_version = -1
        self.polls_with_work = 0  # reads that found a new version (tests check idle polls do nothing)
        self._history_version = 0
        self._charts_drawn_at = -math.inf
        self._charts_pending = False
        self._markers: list[Marker] = []
        self._live: SampleFrame | None = None
        self._browse_at: Entry | None = None  # the position picked with [ ] (None: follow live)
        self._browsing: SampleFrame | None = None  # its frame, once decoded (an archived grid loads lazily)
        self._browse_note = "loading…"
        self.density: Density = DENSITIES[0]  # `d`; shared by the panel and the full screen
        self._full: SamplesFullScreen | None = None  # open while `f` shows the samples full screen
        self._strips: dict[int, int] = {}  # id(frame) -> images per interpolation strip
        self._notes: dict[int, str] = {}  # id(frame) -> what the frame is, when not the fixed noise
        # The extra sample view shown instead of the grid ({"view": "traversal", "code": 0}, ...), and
        # the newest frame of each view.
        self.sample_view: dict | None = None
        self._view_frames: dict[str, SampleFrame] = {}

    # -- layout --------------------------------------------------------------------------------
    def make_chart(self, role: Literal["loss", "aux"], id: str) -> ChartView:
        """One of the two charts (the compare screen overlays several runs' feeds instead)."""
        return ChartView(self.feed, role, id=id)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield SystemPane(id="system")  # hidden until a reading arrives or `m`: no empty row without a source
        with Horizontal(id="body"):
            with Vertical(id="charts"):
                yield self.make_chart("loss", "loss-chart")
                yield self.make_chart("aux", "aux-chart")
            with Vertical(id="side"):
                yield SamplePanel(id="samples")
                yield EventLog(id="events")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_ROWS, "-short")

    def on_mount(self) -> None:
        for chart in self.query(ChartView):
            chart.show(color_system=self.color_system)
        self.poll_feed()
        self.set_interval(1 / self.poll_hz, self.poll_feed)

    # -- polling -------------------------------------------------------------------------------
    def state_label(self) -> str | None:
        """Overrides the snapshot's state in the header (e.g. while stopping)."""
        return None

    def poll_feed(self) -> None:
        self.poll_system()
        if self.feed.version == self.seen_version:
            self._flush_charts()
            return
        first = self.seen_version < 0
        update = self.feed.read(since=max(self.seen_version, 0))
        self.seen_version = update.version
        self.polls_with_work += 1
        self.apply(update, backlog=first)

    def poll_system(self) -> None:
        """At most one new reading a second; otherwise a lock and an identity check."""
        pane = self._system_pane
        if pane is None:
            pane = self._system_pane = self.query_one(SystemPane)
        if self.system is None:
            return
        reading = self.system.latest()
        if reading is None:
            pane.show(None, waiting=True)
            return
        if reading is not pane.reading:
            pane.show(reading)
            if self._system_choice is None and not pane.has_class("-shown"):
                pane.add_class("-shown", "-auto")  # -auto: short terminals keep their rows (tcss)

    def refresh_status(self) -> None:
        self.query_one(StatusLine).show(self.feed.snapshot, self.state_label())

    def apply(self, update: FeedUpdate, *, backlog: bool = False) -> None:
        self.query_one(StatusLine).show(update.snapshot, self.state_label())
        if update.events:
            self.query_one(EventLog).add(update.events)
            new_markers = [marker_for(ev) for ev in update.events if ev.kind in MARKER_KINDS]
            if new_markers:
                self._markers.extend(new_markers)
                self._charts_pending = True
            if not backlog:
                self.announce(update.events)
        if update.history_changed:
            self._history_version = update.version
            self._charts_pending = True
        if update.samples is not None:
            self._live = update.samples
        for name, frame in update.views.items():
            if name != "samples":
                self._view_frames[name] = frame
        if update.views:
            self.show_samples()
        self._flush_charts()

    def announce(self, events: list[Event]) -> None:
        """Toasts for what the user asked for or must see; the log keeps everything."""
        for ev in events:
            if ev.past:  # read from the run's record: it happened before the viewer opened
                continue
            if ev.kind == "checkpoint" and ev.data.get("path"):
                self.notify(f"checkpoint saved: {ev.data['path']}", timeout=6, markup=False)
            elif ev.kind == "milestone":  # "digits readable at step N": the moment, as it happens
                self.notify(ev.message, timeout=10, markup=False)
            elif ev.kind in ("alert", "error"):
                # markup=False: a run directory's event text is shown as written, never interpreted
                severity = "error" if ev.kind == "error" else "warning"
                self.notify(ev.message, severity=severity, timeout=8, markup=False)

    def _flush_charts(self, force: bool = False) -> None:
        now = time.monotonic()
        if not (force or (self._charts_pending and now - self._charts_drawn_at >= self.chart_interval)):
            return
        self._charts_pending = False
        self._charts_drawn_at = now
        markers = tuple(self._markers)
        for chart in self.query(ChartView):
            chart.show(data_version=self._history_version, options=self.options, markers=markers)

    # -- samples -------------------------------------------------------------------------------
    def note_frame(self, frame: SampleFrame, note: str, strip: int | None = None) -> None:
        """Label a frame before it is published (new noise, interpolation)."""
        self._notes[id(frame)] = note
        if strip:
            self._strips[id(frame)] = strip

    def sample_panels(self) -> list[SamplePanel]:
        """Our panel, and the full screen's while `f` has it open: both show the same frame."""
        panels = [self.query_one("#samples", SamplePanel)]
        if self._full is not None:
            panels.extend(self._full.query(SamplePanel))  # none until it has composed
        return panels

    def show_samples(self) -> None:
        browsing = self._browse_at is not None
        frame = self._browsing if browsing else self._live
        caption = "samples"
        if browsing and frame is None:
            caption = f"samples · step {step_of(self._browse_at):,} · {self._browse_note}"  # type: ignore[arg-type]
        if self.sample_view is not None and not browsing:
            frame = self._view_frames.get(self.sample_view["view"])
            if frame is None or not self._frame_matches(frame):
                frame, caption = None, f"{self.sample_view['view']} · waiting for the next grid…"
        if frame is not None:
            what = self._notes.get(id(frame)) or frame.note or "fixed noise"
            title = "samples" if frame.view == "samples" else frame.view
            caption = f"{title} · step {frame.step:,} · {what}"
            if browsing:
                entries = self.scrub_entries()
                pos = position(entries, self._browse_at) or 0  # type: ignore[arg-type]
                caption += f" · frame {pos + 1:,}/{len(entries):,}"
        hint = (self._strips.get(id(frame)) or frame.cols) if frame is not None else None
        for panel in self.sample_panels():
            panel.show(frame, caption, cols_hint=hint, color_system=self.color_system, density=self.density)

    def _frame_matches(self, frame: SampleFrame) -> bool:
        """Whether a view's newest frame is the one asked for (not the previous code or class)."""
        spec = self.sample_view or {}
        if spec.get("view") == "traversal":
            return frame.note.startswith("rows") and f"c{int(spec.get('code', 0)) + 1} " in frame.note
        if spec.get("view") == "class":
            return frame.note.endswith(f" {int(spec.get('class', 0))}")
        return True

    # -- extra sample views (the algorithm's: traversal, one class, reconstructions) ---------------
    def request_view(self, spec: dict | None) -> None:
        """Ask for an extra view's frames (the train screen asks the trainer, the view screen its sampler)."""

    def _toggle_view(self, view: str, what: str, cycle: int, key: str) -> None:
        snap = self.feed.snapshot
        if view not in snap.views:
            self.notify(f"this run has no {what} ({snap.algo or 'gan'}); {_VIEW_ALGOS[view]}", timeout=4)
            return
        current = self.sample_view if self.sample_view and self.sample_view["view"] == view else None
        index = -1 if current is None else int(current.get(key, 0))
        nxt = index + 1
        self.sample_view = None if nxt >= cycle else {"view": view, key: nxt}
        self._browse_at = self._browsing = None
        self.request_view(self.sample_view)
        self.show_samples()

    def action_traversal(self) -> None:
        self._toggle_view("traversal", "code traversal", self._n_codes("n_cont", 2), "code")

    def action_one_class(self) -> None:
        self._toggle_view("class", "class view", self._n_codes("groups", 10), "class")

    def action_reconstructions(self) -> None:
        self._toggle_view("recon", "reconstructions", 1, "recon")

    def _n_codes(self, what: str, default: int) -> int:
        """How many values a key cycles through, from the run's prior (config.json / checkpoint)."""
        prior = self.feed.snapshot.prior
        if what == "groups":
            return int(prior.get("n_classes") or prior.get("n_cat") or default)
        return int(prior.get(what) or default)

    # -- actions -------------------------------------------------------------------------------
    def _set_options(self, options: ChartOptions) -> None:
        self.options = options
        self._flush_charts(force=True)

    def action_smoothing(self) -> None:
        self._set_options(self.options.next_smoothing())

    def action_log_scale(self) -> None:
        self._set_options(replace(self.options, log=not self.options.log))

    def action_window(self) -> None:
        self._set_options(self.options.next_window())

    def action_raw_points(self) -> None:
        self._set_options(replace(self.options, raw=not self.options.raw))

    def action_aux_chart(self) -> None:
        self._set_options(self.options.next_aux(len(self.feed.snapshot.layout.groups)))

    # -- the step scrubber: samples and the charts' cursor move to the same recorded step -------------
    def scrub_entries(self) -> list[Entry]:
        """What the scrubber walks, oldest first: the feed's archive (older grids on disk), its frames."""
        return timeline(self.feed)

    def scrub(self, delta: int) -> None:
        """Move `delta` recorded frames (negative: back); reaching the newest follows live again."""
        entries = self.scrub_entries()
        if not entries:
            return
        current = len(entries) - 1
        if self._browse_at is not None:
            found = position(entries, self._browse_at)
            current = current if found is None else found
        self._scrub_to(entries, min(max(current + delta, 0), len(entries) - 1))

    def _scrub_to(self, entries: list[Entry], pos: int | None) -> None:
        """Show entries[pos] (None or the newest: live) and put every chart's cursor on its step."""
        live = pos is None or pos >= len(entries) - 1
        entry = None if live else entries[pos]  # type: ignore[index]
        self._browse_at = entry
        self._browsing = None if entry is None else self._frame_for(entry)
        self.show_samples()
        step = None if entry is None else step_of(entry)
        for chart in self.query(ChartView):
            set_cursor = getattr(chart, "set_cursor", None)  # the charts may not have a cursor yet
            if callable(set_cursor):
                set_cursor(step)

    def _frame_for(self, entry: Entry) -> SampleFrame | None:
        """A position's frame; an archived grid not decoded yet is decoded off the UI thread (None now)."""
        archive = self.feed.archive
        if isinstance(entry, SampleFrame) or archive is None:
            return entry if isinstance(entry, SampleFrame) else None
        if archive.is_cached(entry):
            return archive.load(entry)
        self._browse_note = "loading…"

        def load() -> None:
            frame = archive.load(entry)
            with contextlib.suppress(RuntimeError):  # the app closed while it decoded
                self.app.call_from_thread(self._loaded, entry, frame)

        self.run_worker(load, name="grid", group="grid", thread=True, exclusive=True, exit_on_error=False)
        return None

    def _loaded(self, step: int, frame: SampleFrame | None) -> None:
        if isinstance(self._browse_at, int) and self._browse_at == step:
            self._browsing, self._browse_note = frame, "not readable"
            self.show_samples()

    def action_prev_frame(self) -> None:
        self.scrub(-1)

    def action_next_frame(self) -> None:
        self.scrub(+1)

    def action_back_10(self) -> None:
        self.scrub(-FRAME_JUMP)

    def action_forward_10(self) -> None:
        self.scrub(+FRAME_JUMP)

    def action_first_frame(self) -> None:
        entries = self.scrub_entries()
        if len(entries) > 1:
            self._scrub_to(entries, 0)

    def action_live_frame(self) -> None:
        self._scrub_to(self.scrub_entries(), None)

    # -- density and full screen ----------------------------------------------------------------
    def action_density(self) -> None:
        self.density = next_density(self.density)
        self.show_samples()

    def action_full_samples(self) -> None:
        if self._full is not None:
            return

        def closed(_: None = None) -> None:
            self._full = None

        self._full = SamplesFullScreen(self)
        self.app.push_screen(self._full, closed)

    def action_system_pane(self) -> None:
        pane = self.query_one(SystemPane)
        self._system_choice = not pane.display
        pane.set_class(self._system_choice, "-shown")
        pane.remove_class("-auto")

    def action_help(self) -> None:
        keys: list[tuple[str, str]] = []
        # Ours only: Textual's own bindings (focus, copy) mean nothing here.
        for binding in [*type(self).BINDINGS, *type(self.app).BINDINGS]:
            if isinstance(binding, Binding) and binding.description:
                key = binding.key_display or self.app.get_key_display(binding)
                keys.append((key, binding.tooltip or binding.description))
        self.app.push_screen(HelpScreen(keys))

    def request_quit(self) -> None:
        self.app.exit(return_code=0)
