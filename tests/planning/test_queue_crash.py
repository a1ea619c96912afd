"""kill -9 of ``gitexp queue`` with a large grid at random moments: any command then sees no sweep or all of it.

Half the kills hit gitexp alone (the git it started commits on as an orphan),
half its whole process group (git dies inside its transaction, leaving lock
files). The next command that writes refs cleans up after it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitexp.store.git import Git
from gitexp.store.layout import writes_dir
from gitexp.store.records import Ledger
from tests.conftest import wait_for_orphans

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds orphaned git processes through /proc")

GRID = ("--set", "train.lr=range(0, 100)", "--set", "train.n_est=range(0, 30)")  # 3,000 trials


def gitexp(cwd: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def appears(folder: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    """Until something appears in ``folder`` (a journal entry, a branch's lock file) or ``process`` ends."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and not (folder.is_dir() and any(folder.iterdir())):
        assert time.monotonic() < deadline, f"nothing appeared in {folder}"
        time.sleep(0.002)


def ref_locks(git: Git) -> list[Path]:
    return list((git.root / ".git").rglob("*.lock"))


def seen_trials(git: Git, sweep: str) -> int | None:
    """How many trials readers see of ``sweep``: None when they see no sweep at all."""
    ledger = Ledger(git)
    if sweep not in ledger.sweep_names():
        assert ledger.trials([sweep]) == []
        return None
    return len(ledger.trials([sweep]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_of_a_large_queue_leaves_no_sweep_or_all_of_it(project, seed):
    rng = random.Random(seed)
    kills = {}
    for attempt in range(2):
        name = f"big{attempt}"
        process = gitexp(project.root, "queue", "--name", name, *GRID)
        # The first kill lands while objects are written, the others while refs are.
        started = writes_dir(project.common_dir()) if attempt == 0 else project.root / ".git/refs/heads/exp" / name
        appears(started, process)
        time.sleep(rng.uniform(0, 0.6))
        if attempt % 2 == seed % 2:
            with contextlib.suppress(ProcessLookupError):  # it may have finished, and its group with it
                os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
        wait_for_orphans(project.root)
        kills[name] = seen_trials(project, name)
        assert kills[name] in (None, 3000), kills  # no half sweep, before any cleanup

    status = subprocess.run([sys.executable, "-m", "gitexp", "status"], cwd=project.root, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    for name, seen in kills.items():
        line = next((line for line in status.stdout.splitlines() if line.startswith(f"{name} ")), None)
        assert line is None if seen is None else "3000 trials: 3000 queued" in line, status.stdout

    # The next command that writes refs cleans up what the kills left.
    small = subprocess.run([sys.executable, "-m", "gitexp", "queue", "--name", "small", "--set", "train.lr=[1, 2]"], cwd=project.root, capture_output=True, text=True)
    assert small.returncode == 0, small.stderr
    assert ref_locks(project) == []
    assert project.run("for-each-ref", "refs/gitexp/tmp/") == ""
    assert list(writes_dir(project.common_dir()).glob("*")) == []
    for name, seen in kills.items():  # a sweep that never became visible left no branch behind
        branches = project.run("for-each-ref", "--format=%(refname)", f"refs/heads/exp/{name}/").split()
        assert len(branches) == (seen or 0), (name, len(branches))
    fsck = project.run_process("fsck", "--no-dangling", "--no-progress")
    assert fsck.returncode == 0 and not fsck.stderr.strip(), fsck.stderr

