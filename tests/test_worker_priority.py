"""`coopclub worker` starts its transactional processes (the jobs after a signup or a
login request, and their mail) at a lower CPU priority than the web processes
(COOPCLUB_TRANSACTIONAL_WORKER_NICE); the processes they start inherit it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from workers.runner import start

# The child writes its own priority and its child's to a file.
CHILD = (
    "import os, subprocess, sys; "
    "grandchild = subprocess.run([sys.executable, '-c', 'import os; print(os.nice(0))'],"
    " capture_output=True, text=True).stdout.strip(); "
    "open(sys.argv[1], 'w').write(f'{os.nice(0)} {grandchild}')"
)


def _priorities(nice: int, path: Path) -> list[int]:
    start([sys.executable, "-c", CHILD, str(path)], nice=nice).wait(60)
    return [int(x) for x in path.read_text().split()]


def test_a_transactional_process_runs_lower_and_its_children_too(tmp_path):
    mine = os.nice(0)
    child, grandchild = _priorities(7, tmp_path / "out")
    assert child == min(mine + 7, 19)
    assert grandchild == child


def test_zero_leaves_the_priority_as_it_was(tmp_path):
    assert _priorities(0, tmp_path / "out") == [os.nice(0), os.nice(0)]
