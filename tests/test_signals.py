"""SIGINT, SIGTERM and SIGHUP to a headless `ganterm train`: finish the step, checkpoint, exit 0."""

import signal

import pytest
from fault_helpers import ENDLESS_RING, events, metric_steps, start_cli, wait_for

from ganterm.training.checkpoint import checkpoint_files, load_checkpoint


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_stops_with_a_final_checkpoint(tmp_path, sig):
    run = tmp_path / "run"
    proc = start_cli(*ENDLESS_RING, "--out", str(run))
    try:
        wait_for("the first metrics", lambda: len(metric_steps(run)) >= 2, proc)
        if sig == "SIGHUP":
            proc.stdout.close()  # the SSH connection is gone: progress lines now hit a dead pipe
        proc.send_signal(getattr(signal, sig))
        if sig == "SIGINT":
            proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C must not tear the final save
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception" not in err, err

    files = checkpoint_files(run)
    assert len(files) == 1, files  # only the final one: periodic saves were off
    ckpt = load_checkpoint(files[-1])
    assert ckpt["step"] == metric_steps(run)[-1] > 0
    end = [e for e in events(run) if e["kind"] == "end"]
    assert end and end[-1]["reason"] == "stopped" and end[-1]["step"] == ckpt["step"]
    saved = [e for e in events(run) if e["kind"] == "checkpoint"]
    assert saved[-1]["reason"] == "stop"
