"""gitexp apply is all or nothing: what can refuse is checked first, and a failure later puts the files back.

DVC's lock is taken by a real process with DVC's own lock class on the
project's ``.dvc/tmp/lock``; a running stage is a live process recorded in
``.dvc/tmp/rwlock`` as DVC records it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOLD_DVC_LOCK = """\
import sys, time
from dvc.lock import Lock
lock = Lock(sys.argv[1])
lock.lock()
print("held", flush=True)
time.sleep(120)
"""


@contextmanager
def dvc_lock_held(project_root: Path) -> Iterator[subprocess.Popen]:
    """Another process holds DVC's repository lock of ``project_root`` (as every dvc command takes it)."""
    lock = project_root / ".dvc" / "tmp" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_DVC_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@contextmanager
def running_stage(project_root: Path) -> Iterator[int]:
    """A live process that ``.dvc/tmp/rwlock`` says writes ``metrics.json`` (a ``dvc repro`` in its stage)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    rwlock = project_root / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text(json.dumps({"write": {str(project_root / "metrics.json"): {"pid": sleeper.pid, "cmd": "dvc repro"}}, "read": {}}))
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_apply_refuses_while_another_dvc_holds_the_lock(reviewed_project, run_gitexp, repo_state):
    git = reviewed_project
    with dvc_lock_held(git.root):
        before = repo_state(git)
        result = run_gitexp(git.root, "apply", "s/t003")
        after = repo_state(git)

    assert result.code == 2 and result.out == ""
    assert result.err == (
        f"gitexp: error: the DVC project is busy: another DVC process holds its lock ({git.root}/.dvc/tmp/lock); "
        "nothing was applied: let it finish, then gitexp apply s/t003 again\n"
    )
    assert after == before
    assert run_gitexp(git.root, "apply", "s/t003").code == 0  # the lock gone, the same command works


def test_apply_refuses_while_a_stage_uses_the_outputs(reviewed_project, run_gitexp, repo_state):
    git = reviewed_project
    with running_stage(git.root) as pid:
        before = repo_state(git)
        result = run_gitexp(git.root, "apply", "s/t003")
        assert repo_state(git) == before

    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert f"DVC process {pid} (dvc repro) is using its outputs" in result.err


def test_a_stale_rwlock_entry_does_not_refuse(reviewed_project, run_gitexp):
    git = reviewed_project
    with running_stage(git.root):
        pass  # its process is gone, its entry stays, as after a kill -9
    result = run_gitexp(git.root, "apply", "s/t003")
    assert result.code == 0, result.err
    assert json.loads((git.root / "metrics.json").read_text())["score"] == 0.999


def test_a_lock_taken_after_the_checks_leaves_the_workspace_as_it_was(reviewed_project, run_gitexp, repo_state, monkeypatch):
    """DVC takes its lock between gitexp's check and its dvc checkout: the files written are put back."""
    from gitexp.sharing import apply

    git = reviewed_project
    real_check, checks = apply.workspace_busy, []

    def idle_at_first(project_root):
        checks.append(project_root)
        return None if len(checks) == 1 else real_check(project_root)

    monkeypatch.setattr(apply, "workspace_busy", idle_at_first)
    with dvc_lock_held(git.root):
        before = repo_state(git)
        result = run_gitexp(git.root, "apply", "s/t003")
        after = repo_state(git)

    assert result.code == 2 and len(result.err.splitlines()) == 1 and "the DVC project is busy" in result.err
    assert len(checks) == 2  # the files were written, dvc checkout failed on the lock, then they were put back
    assert after == before

