"""kill -9 at random moments, then run again: every trial ends with exactly one result commit.

Only the gitexp process is killed, as ``kill -9 PID`` does: the git and DVC
processes it started live on, which is the harder case (an orphaned pipeline
keeps writing into its worktree while the next run starts).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitexp.store.layout import worktrees_root
from tests.conftest import wait_for_orphans

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds orphaned pipelines through /proc")


def kill_loop(kit, cwd: Path, argv: list[str], kills: int, seed: int) -> int:
    """Start ``gitexp ARGV`` and kill -9 it after a random moment, ``kills`` times; how many kills landed."""
    rng = random.Random(seed)
    landed = 0
    errors = cwd.parent / "killed.err"
    while landed < kills:
        # Output goes to a file: the pipeline a killed run leaves behind may hold a pipe open for a while.
        with errors.open("w") as stderr:
            process = kit.gitexp(cwd, *argv, stdout=subprocess.DEVNULL, stderr=stderr)
        time.sleep(rng.uniform(0.1, 1.4))
        if process.poll() is not None:  # it finished everything before the kill
            assert process.returncode == 0, errors.read_text()
            break
        process.kill()
        process.wait()
        landed += 1
    return landed


def test_kill_9_of_gitexp_run_twenty_times_then_run_again(kit, logging_project):
    kit.twelve_trials(logging_project, sleep=1.0)
    before = kit.workspace(logging_project)
    kills = kill_loop(kit, logging_project.root, ["run", "-j", "2"], kills=20, seed=6)
    assert kills == 20
    assert sum(kit.result_counts(logging_project).values()) < 12  # the kills left work to do

    common_dir = logging_project.common_dir()
    wait_for_orphans(logging_project.root)
    final = kit.gitexp(logging_project.root, "run", "-j", "2")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    counts = kit.result_counts(logging_project)
    assert len(counts) == 12 and set(counts.values()) == {1}, counts  # none lost, none duplicated
    assert kit.fsck_clean(logging_project)
    assert kit.workspace(logging_project) == before  # HEAD, index, working tree untouched
    assert logging_project.run("for-each-ref", "refs/gitexp/claims/", "refs/gitexp/tmp/") == ""
    assert len(logging_project.run("worktree", "list").splitlines()) == 1
    assert list(worktrees_root(common_dir).glob("*/*")) == []
    assert list(worktrees_root(common_dir).glob("*")) == []  # no slot, and no slot's flock file


def test_kill_9_of_gitexp_worker_then_run_it_again(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5]", "train.sleep=0.3")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    before = kit.workspace(here)
    argv = ["worker", "--remote", "origin", "--heartbeat", "0.2"]
    kills = kill_loop(kit, here.root, argv, kills=8, seed=9)
    assert kills == 8

    wait_for_orphans(here.root)
    final = kit.gitexp(here.root, *argv)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    counts = kit.result_counts(remote)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts
    assert remote.run("for-each-ref", "refs/gitexp/claims/") == ""  # the dead worker's claims were taken over
    assert kit.fsck_clean(here) and kit.fsck_clean(remote)
    assert kit.workspace(here) == before
    assert len(here.run("worktree", "list").splitlines()) == 1
    assert list(worktrees_root(here.common_dir()).glob("*")) == []


# Logs its start, sleeps, then leaves a file named after its own process.
ORPHAN_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    with open(os.environ["GITEXP_RUNS_LOG"], "a") as runs:
        runs.write(os.environ["GITEXP_SWEEP"] + "/" + os.environ["GITEXP_TRIAL"] + "\\n")
    time.sleep(float(p["sleep"]))
    os.makedirs("late", exist_ok=True)
    open(f"late/late-{os.getpid()}.txt", "w").write("written after the sleep")
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    """
)


def test_a_pipeline_orphaned_by_kill_9_writes_into_no_later_run(kit, logging_project, runs_log):
    (logging_project.root / "train.py").write_text(ORPHAN_TRAIN_PY)
    dvc_yaml = logging_project.root / "dvc.yaml"  # the late files are a declared output, so results hold them
    dvc_yaml.write_text(dvc_yaml.read_text().replace("    metrics:", "    outs:\n      - late:\n          cache: false\n    metrics:"))
    logging_project.run("commit", "-qam", "the stage writes late")
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]", "train.sleep=1.5")
    first = kit.gitexp(logging_project.root, "run", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not runs_log.read_text():  # the first trial's stage is sleeping
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    first.kill()
    first.wait()

    second = kit.gitexp(logging_project.root, "run")  # while the orphaned stage still sleeps, then writes
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    wait_for_orphans(logging_project.root)

    assert kit.runs(runs_log) == {"s/t001": 2, "s/t002": 1}
    counts = kit.result_counts(logging_project)
    assert len(counts) == 2 and set(counts.values()) == {1}, counts
    for ref in counts:
        files = logging_project.run("diff", "--name-only", f"{ref}^", ref).split()
        assert len([name for name in files if name.startswith("late/late-")]) == 1, files  # its own run's, not the orphan's
    assert kit.fsck_clean(logging_project)
    assert list(worktrees_root(logging_project.common_dir()).glob("*")) == []


def kill_during_worktree_add(kit, git, attempts: int = 20) -> bool:
    """Kill -9 a real ``git worktree add`` of a slot, as gitexp runs it, while Git's record of it is still locked.

    The slot is named as a dead run's would be (no process holds its flock). The kill lands while the
    record is whole and still locked, which lasts the whole checkout: timing a kill of ``gitexp run``
    itself missed that window on a loaded machine. Whether the kill left a locked record.
    """
    slot = worktrees_root(git.common_dir()) / "999999999-dead"
    slot.parent.mkdir(parents=True, exist_ok=True)
    records = git.common_dir() / "worktrees"
    for _ in range(attempts):
        add = ["git", "worktree", "add", "--detach", "--force", str(slot), "HEAD"]
        process = subprocess.Popen(add, cwd=git.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while process.poll() is None and not _checking_out(records):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        wait_for_orphans(slot)
        if "locked" in git.run("worktree", "list", "--porcelain"):
            return True
        shutil.rmtree(slot, ignore_errors=True)  # the kill came before or after the locked phase: try again
        git.run("worktree", "prune")
    return False


def _checking_out(records: Path) -> bool:
    """Git has written a locked record whole (gitdir, commondir, HEAD): its checkout runs."""
    whole = ("locked", "gitdir", "commondir", "HEAD")
    return any(all((record / name).exists() for name in whole) for record in records.glob("*"))


def test_kill_9_during_worktree_creation_then_run_works_and_leaves_no_record(kit, logging_project):
    files = logging_project.root / "files"  # enough to check out that the kill lands inside git worktree add
    files.mkdir()
    for index in range(3000):
        (files / f"{index}.txt").write_text(f"{index}\n")
    logging_project.run("add", "files")
    logging_project.run("commit", "-qm", "many files")
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]")
    before = kit.workspace(logging_project)
    assert kill_during_worktree_add(kit, logging_project), "no kill landed inside git worktree add"
    assert logging_project.run_process("worktree", "prune").returncode == 0
    assert "locked" in logging_project.run("worktree", "list", "--porcelain")  # git's prune keeps it

    final = kit.gitexp(logging_project.root, "run")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    counts = kit.result_counts(logging_project)
    assert len(counts) == 2 and set(counts.values()) == {1}, counts
    assert len(logging_project.run("worktree", "list").splitlines()) == 1  # the locked record is gone
    assert not (logging_project.common_dir() / "worktrees").exists()
    assert list(worktrees_root(logging_project.common_dir()).glob("*")) == []
    assert kit.workspace(logging_project) == before
    assert kit.fsck_clean(logging_project)



# Runs s/t001 and claims s/t002 with its result, that trial's flock held as a worker holds it, then dies as kill -9 kills.
CLAIM_AHEAD_THEN_DIE = textwrap.dedent(
    """\
    import os, signal, sys
    from gitexp.execution.claims import Claims, Runner, clone_id
    from gitexp.execution.local import LocalExecutor, RunOptions
    from gitexp.store.git import Git
    from gitexp.store.layout import trial_lock_path, worktrees_root
    from gitexp.store.locks import TrialLock
    from gitexp.store.records import Ledger
    from gitexp.store.remote import RemoteRefs, fetch_experiments, resolve_remote

    git = Git(sys.argv[1])
    remote = resolve_remote(git, "origin")
    fetch_experiments(git, remote, ["exp/"])
    store = RemoteRefs(git, remote)
    claims = Claims(git, store, Runner("dying", clone=clone_id(git.common_dir())))
    trials = {t.ref.key: t for t in Ledger(store.view).trials()}
    first, following = trials["s/t001"], trials["s/t002"]
    claim = claims.take(first)
    result = LocalExecutor(git, RunOptions(), claims=claims).execute(first, worktrees_root(git.common_dir()) / "dying")[1]
    TrialLock(trial_lock_path(git.common_dir(), "s", "t002")).acquire(worktrees_root(git.common_dir()) / "s/t002")
    assert claims.publish(first, result, claim, following=following)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_kill_9_right_after_a_result_push_claimed_the_next_trial(kit, logging_project, runs_log, tmp_path):
    """The trial claimed ahead is held (a live claim) for other clones, and runs at once, once, when a worker
    starts again in the clone that claimed it (its flock is free: its claimer is dead)."""
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here, other = kit.clone(remote.root, tmp_path / "here"), kit.clone(remote.root, tmp_path / "other")
    died = subprocess.run([sys.executable, "-c", CLAIM_AHEAD_THEN_DIE, str(here.root)], capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert remote.run("for-each-ref", "--format=%(refname)", "refs/gitexp/claims/").split() == ["refs/gitexp/claims/s/t002"]

    argv = ["worker", "--remote", "origin", "--heartbeat", "0.2", "--poll", "0.2"]
    for clone in (other, here):  # elsewhere the claim is live and left alone; here it is dead and taken over
        worker = kit.gitexp(clone.root, *argv)
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        if clone is other:
            assert kit.runs(runs_log) == {"s/t001": 1, "s/t003": 1}

    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1, "s/t003": 1}
    counts = kit.result_counts(remote)
    assert counts == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1, "refs/heads/exp/s/t003": 1}, counts
    assert remote.run("for-each-ref", "refs/gitexp/claims/") == ""
