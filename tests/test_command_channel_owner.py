"""Issue 22, part 3: RUN/commands answers only its owner.

commands/ and done/ are made 0700 and command files 0600; a command file that is a symbolic link or
belongs to another user is ignored with a warning event, and so is a commands/ folder that is either; a
run directory another user can write into is reported when the run starts. The run is the real CLI
(`ganterm train ring --headless`), whose warnings the headless reporter prints.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from fault_helpers import ENDLESS_RING, start_cli, wait_for

from ganterm.rundir.commands import CommandReceiver, exposure_warnings, send_command

IS_ROOT = os.geteuid() == 0
NOBODY = 65534


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _plant(run: Path, name: str, record: dict, outside: Path) -> tuple[Path, Path]:
    """A command file written through a link (its target outside the run) and one of another user."""
    folder = run / "commands"
    target = outside / "stop.json"
    target.write_text(json.dumps(record))
    link = folder / f"00000000000000000001-1-{name}-link.json"
    os.symlink(target, link)
    foreign = folder / f"00000000000000000002-1-{name}-foreign.json"
    foreign.write_text(json.dumps(record))
    if IS_ROOT:
        os.chown(foreign, NOBODY, NOBODY)
    return link, foreign


def test_the_channel_is_private_ignores_links_and_strangers_and_reports_a_shared_parent(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # a /tmp/runs someone made for everyone, without the sticky bit
    run = shared / "run"
    proc = start_cli(*ENDLESS_RING, "--out", str(run))
    try:
        wait_for("the command channel", lambda: (run / "status.json").exists(), proc)
        assert _mode(run / "commands") == 0o700 and _mode(run / "commands" / "done") == 0o700
        link, foreign = _plant(run, "x", {"name": "stop", "args": {}}, tmp_path)
        # Neither is delivered: they are moved aside, and the run keeps training.
        wait_for(
            "the planted files to be set aside", lambda: not link.exists() and not foreign.exists(), proc
        )
        time.sleep(1.0)
        assert proc.poll() is None, "a command from a link or another user stopped the run"
        sent = send_command(run, "stop")
        assert _mode(sent) == 0o600
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"{shared} can be written by other users (mode 777)" in out
    assert f"ignored command file {link.name}: a symbolic link" in out
    if IS_ROOT:
        assert f"ignored command file {foreign.name}: written by uid {NOBODY}, not this run's user" in out
    done = run / "commands" / "done"
    assert (done / (link.name[: -len(".json")] + ".ignored")).is_symlink()
    assert (tmp_path / "stop.json").exists()  # the link's target is never touched


def test_a_file_of_another_user_is_ignored(tmp_path):
    """As the test above, for a user who cannot chown: the receiver is told another owner."""
    run = tmp_path / "run"
    send_command(run, "pause")
    receiver = CommandReceiver(run, owner=os.getuid() + 1)
    assert not receiver.usable  # commands/ itself is now someone else's
    assert "belongs to uid" in receiver.take_warnings()[0]
    mine = CommandReceiver(run)
    assert [c.name for c in mine.poll()] == ["pause"]


def test_a_commands_folder_that_is_a_link_is_not_read(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    run.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, run / "commands")
    (elsewhere / "00000000000000000001-1-000001.json").write_text('{"name": "stop"}')
    receiver = CommandReceiver(run)
    assert receiver.poll() == []
    assert "not a plain folder" in receiver.take_warnings()[0]


def test_an_older_run_s_open_channel_is_made_private(tmp_path):
    (tmp_path / "run" / "commands" / "done").mkdir(parents=True)
    (tmp_path / "run" / "commands").chmod(0o777)
    CommandReceiver(tmp_path / "run")
    assert _mode(tmp_path / "run" / "commands") == 0o700


@pytest.mark.parametrize(("mode", "warned"), [(0o755, False), (0o1777, False), (0o777, True), (0o775, False)])
def test_exposure_of_the_folders_above(tmp_path, mode, warned):
    parent = tmp_path / "parent"
    (parent / "run").mkdir(parents=True)
    parent.chmod(mode)
    lines = exposure_warnings(parent / "run")
    assert any(str(parent) in line for line in lines) == warned, lines
    (parent / "run").chmod(0o777)  # the run itself open to others: reported even under a sticky parent
    assert any(str(parent / "run") in line for line in exposure_warnings(parent / "run"))
