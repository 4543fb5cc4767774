"""The system pane's data: psutil and (faked) NVML readings, system.jsonl, the pane, the headless line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_tui_fixtures import filled_feed, fixed_app, sync

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed, Snapshot
from ganterm.report import HeadlessReporter, status_line
from ganterm.sysmon import (
    GIB,
    SYSTEM_FILE,
    GpuReading,
    NvmlGpus,
    SystemLogTail,
    SystemReading,
    SystemRecorder,
    SystemSampler,
    gpu_brief,
    load_nvml,
    read_last_reading,
    visible_indices,
)
from ganterm.tui.app import GantermApp
from ganterm.tui.screens.train import TrainScreen
from ganterm.tui.screens.view import ViewScreen
from ganterm.tui.widgets.system import NO_READINGS, SystemPane, system_text

REPO = Path(__file__).resolve().parent.parent


class FakeNVMLError(Exception):
    pass


class FakeNvml:
    """The parts of pynvml the sampler calls; `fail` names the functions that raise NVMLError."""

    NVMLError = FakeNVMLError
    NVML_TEMPERATURE_GPU = 0

    def __init__(self, n: int = 1, fail: set[str] | None = None, name: str | bytes = "NVIDIA H200") -> None:
        self.n, self.fail, self.name = n, set(fail or ()), name
        self.calls: list[str] = []
        self.shut = False

    def _call(self, fn: str) -> None:
        self.calls.append(fn)
        if fn in self.fail:
            raise FakeNVMLError(fn)

    def nvmlInit(self) -> None:
        self._call("nvmlInit")

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return self.n

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        self._call("nvmlDeviceGetHandleByIndex")
        return 100 + i

    def nvmlDeviceGetName(self, h: int) -> str | bytes:
        self._call("nvmlDeviceGetName")
        return self.name

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        self._call("nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=97 - (h - 100), memory=40)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        self._call("nvmlDeviceGetMemoryInfo")
        total = int(139.8 * GIB)
        used = int(40.1 * GIB) + 1000
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetTemperature(self, h: int, kind: int) -> int:
        self._call("nvmlDeviceGetTemperature")
        assert kind == self.NVML_TEMPERATURE_GPU
        return 64

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        self._call("nvmlDeviceGetPowerUsage")
        return 310_400  # milliwatts


def reading(gpus: int = 1, step: int | None = None, cpu_proc: float = 143.0) -> SystemReading:
    return SystemReading(
        time=1_700_000_000.0,
        cpu_proc=cpu_proc,
        cpu_machine=88.0,
        rss_bytes=int(1.2 * GIB),
        mem_used=int(10.1 * GIB) + 10,
        mem_total=24 * GIB,
        gpus=tuple(
            GpuReading(i, "H200", 97.0, int(40.1 * GIB) + 10, int(139.4 * GIB), 64.0, 310.0)
            for i in range(gpus)
        ),
        step=step,
    )


def wait_for(cond, timeout: float = 10.0) -> None:
    """Poll until `cond()` holds (a deadline only against hangs; no timing is asserted)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


# -- NVML faked: present, absent, raising ------------------------------------------------------------
def test_nvml_present_reads_every_gpu():
    nvml = FakeNvml(n=2)
    r = SystemSampler(nvml=nvml, gpu_filter=None).sample()
    assert [g.index for g in r.gpus] == [0, 1]
    g = r.gpus[0]
    assert g.name == "H200" and g.util_pct == 97.0 and r.gpus[1].util_pct == 96.0
    assert g.mem_total == int(139.8 * GIB) and g.mem_used > 40 * GIB
    assert g.temp_c == 64.0 and g.power_w == pytest.approx(310.4)  # milliwatts -> watts
    assert nvml.calls.count("nvmlInit") == 1


def test_nvml_bytes_names_and_a_loader_function():
    nvml = FakeNvml(name=b"Tesla V100-SXM2-16GB")
    r = SystemSampler(nvml=lambda: nvml, gpu_filter=None).sample()
    assert r.gpus[0].name == "V100-SXM2-16GB"


def test_nvml_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert load_nvml() is None
    r = SystemSampler(gpu_filter=None).sample()  # the default loader
    assert r.gpus == ()
    assert SystemSampler(nvml=None).sample().gpus == ()


def test_nvml_loader_that_raises():
    def loader():
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    assert SystemSampler(nvml=loader).sample().gpus == ()


def test_nvml_init_raises_no_gpu_rows():
    nvml = FakeNvml(fail={"nvmlInit"})
    sampler = SystemSampler(nvml=nvml)
    assert sampler.sample().gpus == () and sampler.sample().gpus == ()
    assert nvml.calls.count("nvmlInit") == 1  # not retried every second
    assert "nvmlDeviceGetCount" not in nvml.calls


@pytest.mark.parametrize("fn", ["nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName"])
def test_nvml_setup_call_raises(fn):
    assert SystemSampler(nvml=FakeNvml(fail={fn}), gpu_filter=None).sample().gpus == ()


@pytest.mark.parametrize("fn", ["nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo"])
def test_nvml_reading_raises_hides_rows_then_recovers(fn):
    nvml = FakeNvml(n=2, fail={fn})
    sampler = SystemSampler(nvml=nvml, gpu_filter=None)
    assert sampler.sample().gpus == ()
    nvml.fail.clear()  # the driver answers again
    assert len(sampler.sample().gpus) == 2


@pytest.mark.parametrize(
    ("fn", "field"), [("nvmlDeviceGetTemperature", "temp_c"), ("nvmlDeviceGetPowerUsage", "power_w")]
)
def test_unsupported_temperature_or_power_leaves_the_row(fn, field):
    r = SystemSampler(nvml=FakeNvml(fail={fn}), gpu_filter=None).sample()
    assert len(r.gpus) == 1 and getattr(r.gpus[0], field) is None
    assert r.gpus[0].util_pct == 97.0


def test_cuda_visible_devices_filters_gpus():
    assert visible_indices({}) is None
    assert visible_indices({"CUDA_VISIBLE_DEVICES": "1,3"}) == {1, 3}
    assert visible_indices({"CUDA_VISIBLE_DEVICES": "GPU-8a1b,GPU-77"}) is None  # UUIDs: show all
    gpus = NvmlGpus(FakeNvml(n=4), only={1, 3})
    assert [g.index for g in gpus.read()] == [1, 3]


# -- psutil --------------------------------------------------------------------------------------------
def test_psutil_numbers_are_sane():
    sampler = SystemSampler(nvml=None)
    sampler.sample()
    sum(i * i for i in range(200_000))  # some CPU for this process to report
    r = sampler.sample()
    assert r.cpu_proc >= 0 and 0 <= r.cpu_machine <= 100
    assert 10 * 1024**2 < r.rss_bytes < r.mem_total
    assert 0 < r.mem_used <= r.mem_total
    assert abs(r.time - time.time()) < 60


def test_sampler_thread_publishes_and_stops():
    nvml = FakeNvml()
    seen: list[SystemReading] = []
    sampler = SystemSampler(0.01, nvml=nvml, recorder=seen.append, gpu_filter=None)
    assert sampler.latest() is None
    sampler.start()
    try:
        wait_for(lambda: sampler.samples >= 3)
        r = sampler.latest()
        assert r is not None and len(r.gpus) == 1
    finally:
        sampler.stop()
    assert not sampler._thread.is_alive() and sampler._thread.daemon
    assert sampler._thread is not threading.main_thread()
    assert nvml.shut and seen and all(isinstance(x, SystemReading) for x in seen)


def test_a_failing_recorder_does_not_stop_the_sampler():
    def broken(_r: SystemReading) -> None:
        raise RuntimeError("bug")

    with SystemSampler(0.01, nvml=None, recorder=broken) as sampler:
        wait_for(lambda: sampler.samples >= 3)


# -- system.jsonl --------------------------------------------------------------------------------------
def test_recorder_waits_for_the_run_dir_then_writes_lines(tmp_path):
    run_dir: list[Path | None] = [None]
    steps = iter(range(10, 10_000, 10))
    rec = SystemRecorder(lambda: run_dir[0], lambda: next(steps), every=0.0)
    rec(reading())
    rec(reading())
    assert rec.lines == 0 and rec.path is None and not list(tmp_path.iterdir())
    run_dir[0] = tmp_path
    for _ in range(3):
        rec(reading(gpus=2))
    lines = (tmp_path / SYSTEM_FILE).read_text().splitlines()
    assert rec.lines == len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) == {
        "time",
        "step",
        "cpu_proc",
        "cpu_machine",
        "rss_bytes",
        "mem_used",
        "mem_total",
        "gpus",
    }
    assert [json.loads(x)["step"] for x in lines] == [10, 20, 30]
    assert first["gpus"][1]["index"] == 1 and first["gpus"][0]["power_w"] == 310.0
    assert SystemReading.from_json(first) == reading(gpus=2, step=10)


def test_recorder_keeps_its_interval(tmp_path):
    rec = SystemRecorder(lambda: tmp_path, every=3600.0)
    for _ in range(20):
        rec(reading())
    assert rec.lines == 1  # the first reading, then nothing for an hour


def test_recorder_survives_a_missing_directory(tmp_path):
    rec = SystemRecorder(lambda: tmp_path / "gone", every=0.0)
    rec(reading())
    assert rec.lines == 0


def test_sampler_records_a_feeds_run_dir(tmp_path):
    feed = Feed()
    sampler = SystemSampler(0.01, nvml=FakeNvml(), gpu_filter=None)
    sampler.record_run(feed, every=0.0)
    with sampler:
        wait_for(lambda: sampler.samples >= 2)
        assert not (tmp_path / SYSTEM_FILE).exists()  # no run directory yet: nothing written
        feed.update(run_dir=str(tmp_path), step=42)
        wait_for(lambda: sampler.recorder.lines >= 3)
    lines = [json.loads(x) for x in (tmp_path / SYSTEM_FILE).read_text().splitlines()]
    assert len(lines) >= 3 and lines[0]["step"] == 42 and lines[0]["gpus"][0]["name"] == "H200"


def test_tail_reader_skips_a_torn_last_line(tmp_path):
    path = tmp_path / SYSTEM_FILE
    assert read_last_reading(path) is None  # no file
    path.write_text("")
    assert read_last_reading(path) is None
    good = [json.dumps(reading(step=s).to_json()) for s in (10, 20)]
    path.write_text("\n".join(good) + "\n" + good[1][:37])  # a writer mid-line
    assert read_last_reading(path) == reading(step=20)
    path.write_text("\n".join(good) + "\nnot json\n[1, 2]\n{}\n")
    assert read_last_reading(path) == reading(step=20)


def test_tail_reader_reads_only_the_end_of_a_long_file(tmp_path):
    path = tmp_path / SYSTEM_FILE
    with open(path, "w") as f:
        for s in range(2000):
            f.write(json.dumps(reading(step=s).to_json()) + "\n")
    assert read_last_reading(path, tail_bytes=1000) == reading(step=1999)


def test_log_tail_follows_new_lines(tmp_path):
    path = tmp_path / SYSTEM_FILE
    tail = SystemLogTail(path)
    assert tail.poll() is None
    path.write_text(json.dumps(reading(step=1).to_json()) + "\n")
    assert tail.poll() == reading(step=1)
    with open(path, "a") as f:
        f.write(json.dumps(reading(step=2).to_json()) + "\n" + '{"time": 1')
    assert tail.poll() == reading(step=2) and tail.latest() == reading(step=2)


# -- text ------------------------------------------------------------------------------------------------
def test_pane_rows():
    lines = system_text(reading(gpus=2)).plain.split("\n")
    assert lines == [
        "CPU proc 143% · machine 88%  RSS 1.2 GiB  mem 10.1/24 GiB",
        "GPU0 H200 util 97% mem 40.1/139 GiB 64°C 310 W",
        "GPU1 H200 util 97% mem 40.1/139 GiB 64°C 310 W",
    ]
    assert system_text(None).plain == NO_READINGS
    assert "recorded at step 1,200" in system_text(reading(step=1200)).plain
    small = SystemReading(0.0, 5.0, 1.0, 300 * 1024**2, 3 * GIB, 8 * GIB)
    assert system_text(small).plain == "CPU proc 5% · machine 1%  RSS 300 MiB  mem 3.0/8.0 GiB"


def test_headless_line_shows_gpu_figures():
    snap = Snapshot(state="running", step=50, total_steps=100, steps_per_s=12.5, eta_s=4.0)
    plain = status_line(snap)
    assert status_line(snap, None) == plain
    assert status_line(snap, reading(gpus=0)) == plain  # no GPU: the line as it was
    assert status_line(snap, reading()) == plain + "  GPU 97% 40.1/139 GiB"
    assert gpu_brief(reading(gpus=2)) == "GPU0 97% 40.1/139 GiB · GPU1 97% 40.1/139 GiB"


def test_headless_reporter_prints_gpu_figures():
    feed = Feed()
    feed.update(state="running", step=10, total_steps=100)
    stream = io.StringIO()
    source = SimpleNamespace(latest=lambda: reading())
    reporter = HeadlessReporter(feed, stream=stream, interval=0.01, system=source)
    reporter.start()
    reporter.stop()
    assert "GPU 97% 40.1/139 GiB" in stream.getvalue().splitlines()[-1]


def test_sysmon_imports_neither_torch_nor_textual_and_the_trainer_not_sysmon():
    code = "import sys, ganterm.sysmon; print(sorted({'torch', 'textual', 'rich'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    for src in (REPO / "ganterm" / "gan").glob("*.py"):
        assert "sysmon" not in src.read_text(), src


# -- the pane under Pilot ------------------------------------------------------------------------------------
class Source:
    def __init__(self, r: SystemReading | None) -> None:
        self.reading = r

    def latest(self) -> SystemReading | None:
        return self.reading


def pane_of(app: GantermApp) -> SystemPane:
    return app.screen.query_one(SystemPane)


async def until(pilot, cond, tries: int = 200) -> None:
    """Let the app run until `cond()` holds (the screen's poll or the follow thread has run)."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


@sync
async def test_m_toggles_the_pane_without_readings():
    app = fixed_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = pane_of(app)
        assert not pane.display  # no source: no empty row
        await pilot.press("m")
        assert pane.display and pane.render().plain == NO_READINGS
        await pilot.press("m")
        assert not pane.display


@sync
async def test_pane_opens_on_a_reading_and_m_hides_it():
    source = Source(None)
    screen = TrainScreen(filled_feed(), Control(), None, color_system="truecolor", system=source, poll_hz=50)
    app = GantermApp(screen)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        pane = pane_of(app)
        assert not pane.display
        source.reading = reading(gpus=1)
        await until(pilot, lambda: pane.display)  # shown by the next poll
        await pilot.pause()
        assert pane.size.height == 2 and pane.render().plain.startswith("CPU proc 143%")
        builds = pane.strip_builds
        await pilot.pause(0.1)  # polls with the same reading: nothing rebuilt
        assert pane.strip_builds == builds
        # 140x45 stays readable: the charts and the sample panel keep most of the height
        assert app.screen.query_one("#loss-chart").size.height >= 15
        await pilot.press("m")
        assert not pane.display
        source.reading = reading(gpus=1, cpu_proc=5.0)  # a new reading does not undo the user's choice
        await pilot.pause(0.1)
        assert not pane.display
        await pilot.press("m")
        await pilot.pause()
        assert pane.display and pane.render().plain.startswith("CPU proc 5%")


@sync
async def test_view_of_a_run_dir_shows_its_recorded_readings(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "shapes", "model": "mlp", "steps": 100}))
    (tmp_path / SYSTEM_FILE).write_text(json.dumps(reading(step=40).to_json()) + "\n" + '{"time": 17')
    app = GantermApp(ViewScreen(tmp_path, color_system="truecolor"))
    async with app.run_test(size=(140, 45)) as pilot:
        pane = pane_of(app)
        await until(pilot, lambda: pane.display)  # the follow thread reads the file, a poll shows it
        assert "recorded at step 40" in pane.render().plain
        await pilot.press("q")


@sync
async def test_short_terminal_keeps_its_rows_unless_m():
    screen = TrainScreen(filled_feed(), Control(), None, system=Source(reading()), poll_hz=50)
    app = GantermApp(screen)
    async with app.run_test(size=(40, 12)) as pilot:
        pane = pane_of(app)
        await until(pilot, lambda: pane.has_class("-shown"))
        await pilot.pause()
        assert not pane.display  # opened by itself: a 12-row terminal keeps the chart's rows
        await pilot.press("m")
        await pilot.pause()
        assert pane.display
