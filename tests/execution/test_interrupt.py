"""Ctrl-C on ``gitexp run``: no new trial starts, and the running ones finish with their real result."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from gitexp.store.records import Ledger

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to a process group")


def test_ctrl_c_lets_the_running_trial_finish(kit, logging_project, runs_log):
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]", "train.sleep=1")
    # In a session of its own, as a terminal's foreground job: Ctrl-C reaches the whole process group.
    running = kit.gitexp(logging_project.root, "run", start_new_session=True)
    deadline = time.monotonic() + 60
    while not runs_log.read_text():  # the first trial's stage is running
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.02)
    os.killpg(running.pid, signal.SIGINT)
    _, err = running.communicate(timeout=60)

    assert running.returncode == 130 and "Traceback" not in err, err
    assert kit.runs(runs_log) == {"s/t001": 1}
    assert [trial.status for trial in Ledger(logging_project).trials(["s"])] == ["succeeded", "queued"]
