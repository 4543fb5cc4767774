"""Run directories as someone else could hand them over: a genuine small run, then each hostile change
issue 22 lists, one builder per case. Shared by tests/test_hostile_rundir.py and the tmux cases.

No builder needs torch: the run is written in the run-dir format directly, as tests/test_compare.py does.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ganterm.channel.layout import GAN_LAYOUT

GAN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "grad_g", "grad_d")
STEPS = 50
HUGE_LINE = 100 * 2**20  # the 100 MB line
# Strings a terminal or Rich would act on if they were ever interpreted.
ANSI = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred"
MARKUP = "[bold red]loud[/] [link=file:///etc/passwd]x[/link] [/]"


def write_run(run: Path, steps: int = STEPS) -> Path:
    """A finished GAN run on shapes: config, metrics, events and two recorded 4x4 grids of 28x28."""
    (run / "samples").mkdir(parents=True)
    config = {
        "dataset": "shapes",
        "model": "mlp",
        "algo": "gan",
        "loss": "ns",
        "steps": steps,
        "layout": GAN_LAYOUT.to_dict(),
    }
    (run / "config.json").write_text(json.dumps(config))
    rows = [
        {
            "step": s,
            "time": s * 0.01,
            **{m: round(0.7 + 0.01 * j + 0.1 * np.sin(s / 5), 4) for j, m in enumerate(GAN_METRICS)},
        }
        for s in range(1, steps + 1)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    events = [
        {"step": 0, "time": 0.0, "kind": "start", "message": "started"},
        {"step": steps, "time": 1.0, "kind": "end", "message": "finished"},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for step, grey in ((10, 90), (20, 160)):
        Image.fromarray(np.full((4 * 30 + 2, 4 * 30 + 2), grey, np.uint8)).save(
            run / "samples" / f"step_{step:07d}.png"
        )
    return run


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _rows(*steps: int, **values: object) -> bytes:
    return b"".join(
        json.dumps({"step": s, "time": 0.0, "d_loss": 0.5, "g_loss": 0.6, **values}).encode() + b"\n"
        for s in steps
    )


def bomb_png(path: Path, side: int = 10_000) -> None:
    """A real decompression bomb: a grey PNG of side x side pixels (100 M at 10,000, over Pillow's
    89 M limit) whose zeros compress to ~100 kB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0 and a row of zeros
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


# -- the cases: name -> (builder(run, outside), a warning the reader must give, or "") -----------------
def metrics_torn(run: Path, outside: Path) -> None:
    _append(run / "metrics.jsonl", b'{"step": 51, "d_lo\n' + _rows(52) + b'{"step": 53, "d_loss": 0.')


def metrics_huge(run: Path, outside: Path) -> None:
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"step": 51, "d_loss": "')
        block = b"A" * 2**20
        for _ in range(HUGE_LINE // len(block)):
            f.write(block)
        f.write(b'"}\n' + _rows(52, 53))


def metrics_non_utf8(run: Path, outside: Path) -> None:
    _append(run / "metrics.jsonl", b'\xff\xfe{"step": 51}\n{"step": 52, "d_loss": "\xc3\x28"}\n' + _rows(53))


def metrics_nan_inf(run: Path, outside: Path) -> None:
    lines = [
        b'{"step": 51, "d_loss": NaN, "g_loss": Infinity}',
        b'{"step": 52, "d_loss": -Infinity, "g_loss": 1e999}',
        b'{"step": 53, "d_loss": 1e308, "g_loss": -1e-320}',
    ]
    _append(run / "metrics.jsonl", b"\n".join(lines) + b"\n")


def metrics_wrong_types(run: Path, outside: Path) -> None:
    lines = [
        "[1, 2, 3]",
        '"a string"',
        "42",
        "null",
        '{"step": "51"}',
        '{"step": true, "d_loss": 1}',
        '{"step": 100000000000000000000000000000}',
        '{"step": -5}',
        '{"step": 51.5}',
        '{"step": 52, "d_loss": "abc", "g_loss": {"x": 1}, "d_real": [1], "d_fake": true}',
        '{"step": 53, "d_loss": 123456789012345678901234567890123456789012345678901234567890}',
        '{"step": 54, "\\u001b[31mred": 1, "' + "n" * 100_000 + '": 2}',
        '{"step": 55, ' + ", ".join(f'"m{i}": {i}' for i in range(500)) + "}",
        "[" * 100_000,
    ]
    _append(run / "metrics.jsonl", "\n".join(lines).encode() + b"\n")


def metrics_out_of_order(run: Path, outside: Path) -> None:
    _append(run / "metrics.jsonl", _rows(60, 55, 61, 61, 3, 62))


def events_garbage(run: Path, outside: Path) -> None:
    lines = [
        b'{"step": 5, "kind": "warning", "mess',
        b"\xff\xfe\xfd",
        b"[1, 2]",
        b'{"step": "x", "kind": 5, "message": {"a": 1}}',
        b'{"step": 100000000000000000000000000000, "kind": "alert", "message": "far"}',
        json.dumps({"step": 6, "kind": "alert", "message": MARKUP}).encode(),
        json.dumps({"step": 7, "kind": "error", "message": ANSI}).encode(),
        json.dumps({"step": 8, "kind": ANSI, "message": "x" * 100_000}).encode(),
        json.dumps({"step": 9, "kind": "swap", "message": "swap", "to": MARKUP}).encode(),
        json.dumps({"step": 10, "kind": "checkpoint", "message": "saved", "path": MARKUP}).encode(),
        b"[" * 100_000,
    ]
    _append(run / "events.jsonl", b"\n".join(lines) + b"\n")


def events_huge(run: Path, outside: Path) -> None:
    with open(run / "events.jsonl", "ab") as f:
        f.write(b'{"step": 30, "kind": "info", "message": "')
        block = b"B" * 2**20
        for _ in range(HUGE_LINE // len(block)):
            f.write(block)
        f.write(b'"}\n{"step": 31, "kind": "info", "message": "after the huge line"}\n')


def events_out_of_order(run: Path, outside: Path) -> None:
    _append(
        run / "events.jsonl",
        b'{"step": 40, "kind": "info", "message": "b"}\n{"step": 2, "kind": "info", "message": "a"}\n',
    )


def config_not_object(run: Path, outside: Path) -> None:
    (run / "config.json").write_text("[1, 2, 3]")


def config_not_json(run: Path, outside: Path) -> None:
    (run / "config.json").write_bytes(b"\xff\xfe{not json")


def config_unknown_algo(run: Path, outside: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    config.update(algo="evil", loss=ANSI, dataset=MARKUP, steps="many", views="abc", prior=[1, 2])
    (run / "config.json").write_text(json.dumps(config))


def config_hostile_layout(run: Path, outside: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    config["layout"] = {
        "groups": [
            {"title": MARKUP, "series": [["d_loss", ANSI, "not-a-colour"], ["g_loss", "G" * 100_000, "red"]]},
            {
                "title": ANSI + "t" * 100_000,
                "series": [["d_real", MARKUP, "#zzzzzz"]],
                "refs": [[0.5, MARKUP]],
            },
        ],
        "headline": [["d_loss", MARKUP, "{0.__class__}"], ["g_loss", ANSI, ".4f"]],
    }
    config["model"] = MARKUP + ANSI
    config["x" * 100_000] = ANSI
    (run / "config.json").write_text(json.dumps(config))


def config_layout_wrong_types(run: Path, outside: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    config["layout"] = {"groups": [{"title": 1, "series": "abc"}, 5], "headline": [[1]]}
    (run / "config.json").write_text(json.dumps(config))


def samples_bomb(run: Path, outside: Path) -> None:
    bomb_png(run / "samples" / "step_0000040.png")


def samples_truncated(run: Path, outside: Path) -> None:
    good = (run / "samples" / "step_0000020.png").read_bytes()
    (run / "samples" / "step_0000040.png").write_bytes(good[: len(good) // 2])


def samples_symlink_out(run: Path, outside: Path) -> None:
    target = outside / "secret.png"
    Image.fromarray(np.full((99, 99), 255, np.uint8)).save(target)  # would show if the link were followed
    os.symlink(target, run / "samples" / "step_0000040.png")


def samples_empty(run: Path, outside: Path) -> None:
    (run / "samples" / "step_0000040.png").write_bytes(b"")


def samples_directory(run: Path, outside: Path) -> None:
    (run / "samples" / "step_0000040.png").mkdir()


def samples_dir_link_loop(run: Path, outside: Path) -> None:
    os.rename(run / "samples", outside / "moved-samples")
    os.symlink(run / "samples", run / "samples")  # samples -> itself


def system_garbage(run: Path, outside: Path) -> None:
    good = {
        "time": 1.0,
        "step": 5,
        "cpu_proc": 50.0,
        "cpu_machine": 20.0,
        "rss_bytes": 10,
        "mem_used": 10,
        "mem_total": 100,
    }
    lines = [
        json.dumps(good),
        json.dumps(
            {
                **good,
                "gpus": [{"index": 0, "name": ANSI + MARKUP, "util_pct": 5, "mem_used": 1, "mem_total": 2}],
            }
        ),
        json.dumps({**good, "time": 1e300}),
        json.dumps({**good, "cpu_proc": float("nan")}),  # NaN: Python's json reads it
        json.dumps(good).replace('"rss_bytes": 10', '"rss_bytes": 1e400'),  # inf: int() overflows
        json.dumps({**good, "gpus": "abc"}),
        json.dumps({**good, "gpus": 5}),
        '{"time": ',
        "\xff garbage",
        "[" * 100_000,
    ]
    (run / "system.jsonl").write_text("\n".join(lines) + "\n")


def system_fifo(run: Path, outside: Path) -> None:
    os.mkfifo(run / "system.jsonl")  # reading it would block for ever


def metrics_fifo(run: Path, outside: Path) -> None:
    os.rename(run / "metrics.jsonl", outside / "metrics.jsonl")
    os.mkfifo(run / "metrics.jsonl")


Builder = Callable[[Path, Path], None]
# name -> (builder, a warning event the reader must give ("" when the damage is silently harmless))
CASES: dict[str, tuple[Builder, str]] = {
    "metrics-torn": (metrics_torn, "metrics.jsonl: skipped lines that are not JSON records"),
    "metrics-100MB-line": (metrics_huge, "metrics.jsonl: skipped lines over 1 MB"),
    "metrics-non-utf8": (metrics_non_utf8, "metrics.jsonl: skipped lines that are not JSON records"),
    "metrics-nan-inf": (metrics_nan_inf, ""),
    "metrics-wrong-types": (
        metrics_wrong_types,
        "metrics.jsonl: skipped records without a whole-number step",
    ),
    "metrics-out-of-order": (metrics_out_of_order, ""),
    "metrics-fifo": (metrics_fifo, "metrics.jsonl not read: not a regular file"),
    "events-garbage": (events_garbage, "events.jsonl: skipped lines that are not JSON records"),
    "events-100MB-line": (events_huge, "events.jsonl: skipped lines over 1 MB"),
    "events-out-of-order": (events_out_of_order, ""),
    "config-not-object": (config_not_object, "config.json ignored: not a JSON object"),
    "config-not-json": (config_not_json, "config.json ignored: not UTF-8 text"),
    "config-unknown-algo": (config_unknown_algo, ""),
    "config-hostile-layout": (config_hostile_layout, ""),
    "config-layout-wrong-types": (config_layout_wrong_types, ""),
    "samples-bomb": (samples_bomb, "samples/step_0000040.png skipped: 10000x10000 pixels"),
    "samples-truncated": (samples_truncated, "samples/step_0000040.png skipped"),
    "samples-symlink-out": (samples_symlink_out, "samples/step_0000040.png is a symbolic link; not followed"),
    "samples-empty": (samples_empty, "samples/step_0000040.png skipped: empty file"),
    "samples-directory": (samples_directory, "samples/step_0000040.png is not a regular file"),
    "samples-dir-link-loop": (samples_dir_link_loop, "samples/ is a symbolic link; not followed"),
    "system-garbage": (system_garbage, ""),
    "system-fifo": (system_fifo, ""),
}


def hostile_run(root: Path, case: str) -> Path:
    """A genuine run with `case` applied; files the case puts outside the run go to root/outside."""
    run, outside = root / case, root / "outside"
    outside.mkdir(exist_ok=True)
    write_run(run)
    CASES[case][0](run, outside)
    return run
