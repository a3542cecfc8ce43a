"""`coopclub worker` starts its job processes (the jobs after a signup or a
login request, and their mail) at a lower CPU priority than the web processes
(COOPCLUB_WORKER_NICE); the processes they start inherit it. On Linux
with autogroups a nice value ranks a process only within its session's group, so the
lowered process runs in a session of its own whose group is lowered too, and it stops
when the worker that started it dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.runner import start

AUTOGROUP = Path("/proc/self/autogroup")

# The child writes its priority, its child's, its session and its autogroup to a file.
CHILD = (
    "import json, os, subprocess, sys; "
    "grandchild = subprocess.run([sys.executable, '-c', 'import os; print(os.nice(0))'],"
    " capture_output=True, text=True).stdout.strip(); "
    "group = open('/proc/self/autogroup').read() if os.path.exists('/proc/self/autogroup')"
    " else ''; "
    "json.dump({'nice': os.nice(0), 'grandchild': int(grandchild),"
    " 'session': os.getsid(0), 'group': group}, open(sys.argv[1], 'w'))"
)


def _child(nice: int, path: Path) -> dict:
    start([sys.executable, "-c", CHILD, str(path)], nice=nice).wait(60)
    return json.loads(path.read_text())


def test_a_transactional_process_runs_lower_and_its_children_too(tmp_path):
    mine = os.nice(0)
    child = _child(7, tmp_path / "out")
    assert child["nice"] == min(mine + 7, 19)
    assert child["grandchild"] == child["nice"]


def _autogroup() -> str:
    """ "/autogroup-123 nice 0"; empty where the scheduler puts this process in no
    autogroup (autogroups off, or a CPU cgroup of its own, as on the CI machines), and
    then the nice value alone ranks the worker against the web."""
    return AUTOGROUP.read_text().strip() if AUTOGROUP.exists() else ""


def test_it_runs_in_a_session_of_its_own(tmp_path):
    child = _child(7, tmp_path / "out")
    assert child["session"] != os.getsid(0)


@pytest.mark.skipif(not _autogroup(), reason="this process is in no autogroup")
def test_its_session_has_an_autogroup_of_its_own_lowered_too(tmp_path):
    child = _child(7, tmp_path / "out")
    # "/autogroup-123 nice 7": not this process's group, and lowered.
    assert child["group"].split()[0] != _autogroup().split()[0]
    assert child["group"].split()[-1] == "7"


def test_zero_leaves_the_priority_and_the_session_as_they_were(tmp_path):
    child = _child(0, tmp_path / "out")
    assert (child["nice"], child["grandchild"]) == (os.nice(0), os.nice(0))
    assert child["session"] == os.getsid(0)


# A stand-in for `coopclub worker`: starts a lowered child that would sleep for a minute
# and prints its pid.
PARENT = (
    "import sys, time; from workers.runner import start; "
    "child = start([sys.executable, '-c', 'import time; time.sleep(60)'], nice=5); "
    "print(child.pid, flush=True); time.sleep(60)"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_lowered_process_stops_when_the_worker_that_started_it_is_killed():
    parent = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
    )
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait(10)


def test_the_setting_is_read_under_its_name_and_its_earlier_one(monkeypatch):
    from app.config import ConfigError, load_settings

    monkeypatch.setenv("COOPCLUB_TRANSACTIONAL_WORKER_NICE", "6")
    assert load_settings().worker_nice == 6
    monkeypatch.setenv("COOPCLUB_WORKER_NICE", "10")
    assert load_settings().worker_nice == 10
    monkeypatch.setenv("COOPCLUB_WORKER_NICE", "25")
    with pytest.raises(ConfigError, match=r"^COOPCLUB_WORKER_NICE: .*19"):
        load_settings()
