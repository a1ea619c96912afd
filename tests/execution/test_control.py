"""logs -f and stop against real runs: a stage that prints a line every 0.3 s, a real `gitexp run` process."""

from __future__ import annotations

import textwrap
import time

import pytest

from gitexp.store.layout import trial_lock_path, trial_log_path
from gitexp.store.locks import held_by
from gitexp.store.records import Ledger

TICKING_TRAIN_PY = textwrap.dedent(
    """\
    import json, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    for i in range(int(p["ticks"])):
        print(f"tick {i}", flush=True)
        time.sleep(0.3)
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def ticking(project):
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  ticks: 1"))
    (project.root / "train.py").write_text(TICKING_TRAIN_PY)
    project.run("commit", "-qam", "a stage that ticks")
    return project


def wait_running(git, key: str, timeout: float = 30) -> None:
    sweep, _, name = key.partition("/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = trial_log_path(git.common_dir(), sweep, name)
        if held_by(trial_lock_path(git.common_dir(), sweep, name)) and log.exists() and "tick" in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{key} did not start")


def test_logs_follow_prints_every_line_once_in_order(ticking, run_gitexp, kit):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=12").code == 0
    runner = kit.gitexp(ticking.root, "run", "s")
    wait_running(ticking, "s/t001")
    followed = run_gitexp(ticking.root, "logs", "-f", "s/t001")
    assert runner.wait(60) == 0
    assert followed.code == 0
    ticks = [line for line in followed.out.splitlines() if line.startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(12)]
    assert Ledger(ticking).resolve_trial("s/t001").status == "succeeded"  # it followed until the result


def test_stop_cancels_a_local_trial_and_the_others_go_on(ticking, run_gitexp, kit):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[25,3]").code == 0
    runner = kit.gitexp(ticking.root, "run", "s", "-j", "2")
    wait_running(ticking, "s/t001")
    stopped = run_gitexp(ticking.root, "stop", "s/t001")
    assert stopped.code == 0, stopped.err
    runner.wait(30)
    ledger = Ledger(ticking)
    first, second = ledger.resolve_trial("s/t001"), ledger.resolve_trial("s/t002")
    assert first.status == "cancelled" and "stopped by " in first.message
    assert second.status == "succeeded"
    assert kit.result_counts(ticking) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1}
    log = trial_log_path(ticking.common_dir(), "s", "t001").read_text()
    assert "tick 24" not in log  # it stopped at once, not after its 25 ticks
    assert not [p for p in _processes_in(ticking.common_dir()) if p]  # its process tree is gone
    again = run_gitexp(ticking.root, "run", "s/t001", "--retry-cancelled")
    assert again.code == 0 and Ledger(ticking).resolve_trial("s/t001").status == "succeeded"


def _processes_in(common_dir):
    import os
    from pathlib import Path

    root = str(common_dir / "gitexp" / "worktrees")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(root):
                    found.append(entry.name)
            except OSError:
                pass
    return found
