"""Lock files that a killed git leaves: cleaned by the next command that writes refs once they are old, not before."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import time

from gitexp.store.git import Git
from gitexp.store.journal import recover
from gitexp.store.locks import STALE_REF_LOCK_AGE, file_lock


def killed_while_deleting_a_packed_ref(git: Git, ref: str) -> None:
    """A real git killed in the middle of a transaction that deletes a packed ref: it holds packed-refs.lock."""
    proc = subprocess.Popen(["git", "update-ref", "--stdin"], cwd=git.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stdin.write(f"start\ndelete {ref}\nprepare\n".encode())
    proc.stdin.flush()
    assert [proc.stdout.readline(), proc.stdout.readline()] == [b"start: ok\n", b"prepare: ok\n"]
    proc.kill()
    proc.wait()


def age(paths, seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def test_a_packed_refs_lock_a_killed_git_left_is_cleaned_once_old(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--set", "train.lr=[0.1, 0.2]", "--name", "s").code == 0
    project.run("pack-refs", "--all")
    killed_while_deleting_a_packed_ref(project, "refs/heads/exp/s/t002")
    left = [project.root / ".git" / name for name in ("packed-refs.lock", "packed-refs.new")]
    assert all(path.exists() for path in left)

    recover(project, ["exp/"])  # young: it may be a live git's
    assert all(path.exists() for path in left)
    assert project.run_process("branch", "-D", "exp/s/t002").returncode != 0  # what the lock does to every deletion

    age([*left, *(project.root / ".git/refs/heads/exp/s").glob("*.lock")], STALE_REF_LOCK_AGE + 5)
    result = run_gitexp(project.root, "remove", "s/t002")

    assert result.code == 0, result.err
    assert not any(path.exists() for path in left)
    assert project.run("for-each-ref", "--format=%(refname)", "refs/heads/exp/s/").split() == ["refs/heads/exp/s/t001"]
    assert project.run_process("pack-refs", "--all").returncode == 0


def wait_until_held(path, timeout: float = 10) -> None:
    """Until someone else holds the flock on ``path`` (or ``timeout`` seconds have passed)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(fd, fcntl.LOCK_UN)
            time.sleep(0.01)
    finally:
        os.close(fd)


def test_an_exclusive_taker_goes_before_shared_ones_that_come_after_it(tmp_path):
    """Shared holders that keep overlapping (fetches, pushes) must not keep an add out: one that asks
    for the lock while the add waits gets it only after the add."""
    path, order = tmp_path / "worktrees.lock", []
    first_shared = threading.Event()
    release_first = threading.Event()

    def hold_shared() -> None:
        with file_lock(path, shared=True):
            first_shared.set()
            release_first.wait()

    def take(name: str, shared: bool) -> None:
        with file_lock(path, shared=shared):
            order.append(name)

    holder = threading.Thread(target=hold_shared)
    holder.start()
    first_shared.wait()
    exclusive = threading.Thread(target=take, args=("exclusive", False))
    exclusive.start()
    wait_until_held(tmp_path / "worktrees.lock.turn")  # the exclusive taker waits for the first shared holder
    later = threading.Thread(target=take, args=("shared after it", True))
    later.start()
    time.sleep(0.3)
    assert order == []  # the later shared taker does not slip in beside the first
    release_first.set()
    for thread in (holder, exclusive, later):
        thread.join(timeout=10)
    assert order == ["exclusive", "shared after it"]
